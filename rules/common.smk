import sys
from pathlib import Path

from overopt import config as C
from overopt import resources as R

try:
    C.validate_schema(config)  # readable messages naming the key
    C.check(config)
except C.ConfigError as err:
    sys.exit(f"Configuration error:\n{err}")
validate(config, "../workflow/schemas/config.schema.yaml")

SYNTHETIC = config["task"]["type"] == "synthetic"
SIZES = list(config["models"])
THREADS = int(config.get("threads", 1))
DATA = "results/data"
PREF = "results/preferences"
OBJECTIVES = list(config["objectives"])
RUNS = C.runs(config)
CKPTS = C.checkpoint_names(config, SIZES[0])  # the same for every size (C.check)


TEMPERATURES = [C.fmt_beta(t) for t in config["evaluation"].get("temperatures", [])]
POLICIES = C.policies(config)  # (size, policy) for every evaluated policy


# Cheap rules at the end of the DAG run where Snakemake runs, not as cluster jobs.
localrules:
    all,
    collect,
    fit,
    figures,
    findings,
    provenance,
    toy_mdp,


wildcard_constraints:
    size="|".join(SIZES),
    objective="|".join(OBJECTIVES),
    beta=r"[0-9][0-9.e+-]*",
    policy=r"sft|temperature/T-[0-9.e+-]+|[a-z][a-z0-9_]*/beta-[0-9.e+-]+/step-\d+_ep-[0-9.]+",


PACKAGE = Path(workflow.basedir) / "workflow" / "overopt"


def code(*modules):
    """The package modules a rule's results depend on: editing one reruns the rule."""
    return [str(PACKAGE / f"{m}.py") for m in modules]


def res(rule, key):
    """A resource of ``rule`` derived from the model size and config (overopt.resources)."""
    return lambda wc: R.rule_resources(config, rule, getattr(wc, "size", None))[key]


def resources_of(rule):
    """mem_mb, runtime and gpu of ``rule`` (a GPU request only where a Hub model needs one)."""
    return {k: res(rule, k) for k in ("mem_mb", "runtime", "gpu")}


def tokenizer_input(wildcards):
    """The trained tokenizer (synthetic task); Hub models bring their own."""
    return "results/tokenizer" if SYNTHETIC else []


def tokenizer_source(size):
    """Path or Hub id of the tokenizer a size starts from."""
    if SYNTHETIC:
        return "results/tokenizer"
    return config["models"][size]["hub_id"]


def sft_model(size):
    return f"results/models/{size}/sft"


def daa_run_dir(wildcards):
    return f"results/daa/{wildcards.size}/{wildcards.objective}/beta-{wildcards.beta}"


def quality_gate(wildcards):
    """The SFT quality report: the sweep waits for (and is stopped by) the gate."""
    return f"results/models/{wildcards.size}/sft_quality.json" if SYNTHETIC else []


def policy_dir(wildcards):
    """The model directory a policy samples from (temperature policies sample the SFT model)."""
    if wildcards.policy == "sft" or wildcards.policy.startswith("temperature/"):
        return f"results/models/{wildcards.size}/sft"
    return f"results/daa/{wildcards.size}/{wildcards.policy}"


def policy_info(size, policy):
    """What identifies a policy in the evaluations table."""
    return C.policy_info(config, size, policy)


def all_targets():
    """What `snakemake` builds by default."""
    targets = [
        *(f"results/models/{s}/sft" for s in SIZES),
        *(f"results/daa/{r.path}/history.csv" for r in RUNS),
        "results/tables/evaluations.csv",
        "results/tables/fits.csv",
        *(f"results/figures/{n}.{e}" for n in FIGURES for e in ("png", "pdf")),
        "results/findings.md",
        "results/tables/provenance.csv",
    ]
    if SYNTHETIC:
        targets += [
            *(f"results/models/{s}/sft_quality.json" for s in SIZES),
            f"{PREF}/preference_stats.json",
        ]
    return targets
