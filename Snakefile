# Scaling laws for reward-model over-optimisation in direct alignment algorithms.
# One workflow, three scales (config/smoke.yaml, config/config.yaml, config/paper.yaml).
from snakemake.utils import min_version, validate

min_version("9.0")


report: "workflow/report/workflow.rst"


# No `configfile:` here: the default study's config comes from the workflow profile
# (profiles/default: `configfile: config/config.yaml`), which `--configfile` replaces. A
# `configfile:` directive would be merged with a `--configfile` (adding the default model sizes
# to smoke's), and `--replace-workflow-config` is not passed on to jobs submitted to a cluster.


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/sft.smk"
include: "rules/daa.smk"
include: "rules/evaluate.smk"
include: "rules/best_of_n.smk"
include: "rules/toy.smk"
include: "rules/report.smk"


# After the DAG is built, before the first job (not in a dry run): the secrets and the prefetched
# Hub files the planned jobs need.
onstart:
    planned = {job.rule.name for job in workflow.dag.needrun_jobs()}
    check_secrets(planned)
    check_prefetched(planned)


rule all:
    default_target: True
    input:
        all_targets(),
