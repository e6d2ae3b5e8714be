# Scaling laws for reward-model over-optimisation in direct alignment algorithms.
# One workflow, three scales (config/smoke.yaml, config/config.yaml, config/paper.yaml).
from snakemake.utils import min_version, validate

min_version("9.0")


report: "workflow/report/workflow.rst"


# The default study, unless a config is given with --configfile (which then replaces it:
# Snakemake would otherwise merge the two, e.g. adding the default model sizes to smoke's).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/sft.smk"
include: "rules/daa.smk"
include: "rules/evaluate.smk"
include: "rules/toy.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
