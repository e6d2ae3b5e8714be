import sys
from pathlib import Path

from overopt.analysis import figures as F
from overopt.checks import check_config
from overopt.core import config as C
from overopt.core import deps
from overopt.core import objectives as O
from overopt.evaluate import judges as J
from overopt.core import resources as R
from overopt.core import runs as RN

try:
    check_config(config)  # readable messages naming the key, before any job
except C.ConfigError as err:
    sys.exit(f"Configuration error:\n{err}")
validate(config, "../workflow/schemas/config.schema.yaml")

SYNTHETIC = config["task"]["type"] == "synthetic"
SIZES = list(config["models"])
THREADS = int(config.get("threads", 1))
DATA = "results/data"
PREF = "results/preferences"
OBJECTIVES = list(config["objectives"])
RUNS = RN.runs(config)
CKPTS = RN.checkpoint_names(config, SIZES[0])  # the same for every size (C.check)


TEMPERATURES = [C.fmt_beta(t) for t in config["evaluation"].get("temperatures", [])]
POLICIES = RN.policies(config)  # (size, policy) for every evaluated policy
FIGURES = F.FIGURES.names()  # every registered figure (overopt.analysis.figures)
CAPTIONS = Path(
    ".snakemake/captions"
).resolve()  # figure captions, written from the registry


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


SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


def code(script):
    """Every package module the rule's script imports, directly or not: editing one reruns the rule."""
    return [str(p) for p in deps.script_code(SCRIPTS / f"{script}.py")]


def loss_code(wildcards):
    """A custom loss type's module (and what it imports) for the runs that use it."""
    path = O.custom_loss_file(config["objectives"][wildcards.objective]["loss_type"])
    return [str(p) for p in deps.module_code(path)] if path else []


def judge_code(wildcards):
    """The configured judge's module and what it imports: only that judge's code is an input."""
    return [str(p) for p in deps.module_code(J.module_file(config["judge"]["type"]))]


def figure_caption(name):
    """The report caption of a registered figure (a file written from the registry)."""
    return str(F.write_caption(name, CAPTIONS))


def res(rule, key):
    """A resource of ``rule`` derived from the model size and config (overopt.core.resources)."""
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
    return RN.policy_info(config, size, policy)


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
