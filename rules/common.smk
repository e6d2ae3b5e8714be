import functools
import os
import sys
from pathlib import Path

from overopt.analysis.figures import FIGURES as FIGURE_REGISTRY, write_caption
from overopt.core import objectives, replicates, runs
from overopt.core.config import ConfigError, candidate_sizes
from overopt.evaluate import judges
from overopt.evaluate.best_of_n_estimators import policies as best_of_n_policies
from overopt.evaluate.judges.cache import JUDGE_CACHE
from overopt.pipeline import prefetch
from overopt.pipeline.checks import check_config
from overopt.pipeline.resources import for_attempt, rule_resources
from overopt.pipeline.settings import code_hash, settings as rule_settings

try:
    check_config(config)  # readable messages naming the key, before any job
except ConfigError as err:
    sys.exit(f"Configuration error:\n{err}")
validate(config, "../workflow/schemas/config.schema.yaml")

HUB_OFFLINE = (
    os.environ.setdefault("HF_HUB_OFFLINE", "1") != "0"
)  # every job (a script inherits it; a cluster job parses this file again) reads the Hugging Face cache only
SYNTHETIC = config["task"]["type"] == "synthetic"
SIZES = list(config["models"])
THREADS = int(config.get("threads", 1))
DATA = "results/data"
PREF = "results/preferences"
PAIRS = (
    f"{PREF}/{{rep}}" if config["task"]["type"] == "synthetic" else f"{PREF}/"
)  # a replicate's preference pairs: drawn anew (synthetic) or the dataset's own (hub)
OBJECTIVES = list(config["objectives"])
RUNS = runs.runs(config)
REPLICATES = list(range(replicates.count(config)))
REPS = [
    replicates.prefix(r) for r in REPLICATES
]  # the `rep` wildcard's values: "" is replicate 0
REPLICATE_CONFIG = {
    replicates.prefix(r): replicates.config(config, r) for r in REPLICATES
}  # the seeds each replicate draws
CKPTS = runs.checkpoint_names(
    config, SIZES[0]
)  # the same for every size (overopt.core.config.check)


BEST_OF_N = "best_of_n" in config  # proxy reward models and best-of-n curves per size
BON_POLICIES = best_of_n_policies(config["best_of_n"]["n_max"]) if BEST_OF_N else []
POLICIES = runs.policies(config) + [
    (s, p) for s in SIZES for p in BON_POLICIES
]  # (size, policy) for every evaluated policy of a replicate
REP_POLICIES = [
    (r, s, p) for r in REPLICATES for s, p in POLICIES
]  # (replicate, size, policy): the evaluations table's rows
SFT_GROUP = runs.group_policies(
    config, SIZES[0], "sft"
)  # each size's SFT and temperature policies
FIGURES = FIGURE_REGISTRY.names()  # every registered figure (overopt.analysis.figures)
CAPTIONS = Path(
    ".snakemake/captions"
).resolve()  # figure captions, written from the registry


# Cheap rules at the end of the DAG run where Snakemake runs, not as cluster jobs.
localrules:
    all,
    collect,
    reward_models,
    fit,
    figures,
    findings,
    provenance,
    toy_mdp,


# Judging runs where Snakemake runs when the judge is a formula or an API (compute nodes may
# have no outbound network); a judge that loads a model runs as a cluster job.
if judges.runs_locally(config["judge"]):

    localrules:
        judge,
        judge_sft,
        best_of_n,


wildcard_constraints:
    rep=replicates.WILDCARD,
    size="|".join(SIZES),
    objective="|".join(OBJECTIVES),
    beta=r"[0-9][0-9.e+-]*",
    group=r"sft|[a-z][a-z0-9_]*/beta-[0-9.e+-]+",


SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


def check_secrets(planned_rules):
    """Stop before any job when a planned job needs a secret whose environment variable is unset."""
    judging = {"judge", "judge_sft", "best_of_n"} & set(planned_rules)
    missing = judges.missing_secrets(config["judge"]) if judging else []
    if missing:
        sys.exit(
            f"Configuration error:\nconfig key 'judge': judge type {config['judge']['type']!r} reads its "
            f"secret from the environment variable {', '.join(missing)}, which is not set; the planned "
            "judge jobs need it. Set it, or run targets that need no judging."
        )


def check_prefetched(planned_rules):
    """Stop before any job when a planned job loads a Hub model or dataset that is not in the cache.

    Jobs run offline (``HF_HUB_OFFLINE=1``, set above, unless the environment says otherwise):
    compute nodes often have no network, and a job that downloads is not a function of its inputs.
    """
    if not HUB_OFFLINE:
        return
    gaps = prefetch.missing(config, set(planned_rules))
    if gaps:
        sys.exit(
            "Not prefetched (jobs run offline, HF_HUB_OFFLINE=1):\n  "
            + "\n  ".join(gaps)
            + "\nRun `python -m overopt.pipeline.prefetch --config <this config>` (make prefetch) where "
            "the network is, with the HF_HOME the jobs see; or export HF_HUB_OFFLINE=0 to let jobs download."
        )


def settings_of(rule):
    """Param: the config values ``rule`` reads (overopt.pipeline.settings): editing one reruns the job.

    A job of replicate k reads the replicate's seeds (overopt.core.replicates).
    """
    return lambda wildcards: rule_settings(
        REPLICATE_CONFIG[wildcards.get("rep", "")], rule, dict(wildcards.items())
    )


@functools.cache
def _code_hash(script, extra):
    return code_hash(SCRIPTS / f"{script}.py", [Path(e) for e in extra])


def code_of(script, loss=False, judge=False):
    """Param: a hash of the package code ``script`` imports, and of the run's custom loss or judge."""

    def code(wildcards):
        extra = []
        if loss:
            path = objectives.custom_loss_file(
                config["objectives"][wildcards.objective]["loss_type"]
            )
            extra += [str(path)] if path else []
        if judge:
            extra.append(str(judges.module_file(config["judge"]["type"])))
        return _code_hash(script, tuple(extra))

    return code


def figure_caption(name):
    """The report caption of a registered figure (a file written from the registry)."""
    return str(write_caption(name, CAPTIONS))


def res(rule, key):
    """A resource of ``rule`` derived from the model size and config, grown on a retry
    (overopt.pipeline.resources)."""
    return lambda wc, attempt: for_attempt(
        key, rule_resources(config, rule, getattr(wc, "size", None))[key], attempt
    )


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


def policy_file(replicate, size, policy, name):
    """A policy's per-policy file: evaluations under results/eval, best-of-n under results/best_of_n."""
    root = "results/best_of_n" if policy in BON_POLICIES else "results/eval"
    return f"{root}/{replicates.prefix(replicate)}{size}/{policy}/{name}"


def policy_files(name):
    """Every evaluated policy's ``name`` file, in the evaluations table's order."""
    return [policy_file(r, s, p, name) for r, s, p in REP_POLICIES]


def sft_model(rep, size):
    return f"results/models/{rep}{size}/sft"


def quality_gate(wildcards):
    """The SFT quality report: the sweep waits for (and is stopped by) the gate.

    The gate samples with its own settings (``sft.quality_gate``), so an evaluation edit does not
    rewrite it and retrain. (Not ``ancient``: Snakemake 9.27 then skips the rerun checks of every
    job downstream of a rerun gate, e.g. the evaluations after an evaluation edit.)
    """
    return (
        f"results/models/{wildcards.rep}{wildcards.size}/sft_quality.json"
        if SYNTHETIC
        else []
    )


def group_models(wildcards):
    """The checkpoints of a run's evaluation group (the SFT group samples the reference model)."""
    if wildcards.group == "sft":
        return []
    return [
        f"results/daa/{wildcards.rep}{wildcards.size}/{wildcards.group}/{c}"
        for c in CKPTS
    ]


def group_infos(size, group):
    """What identifies each policy of an evaluation group in the evaluations table."""
    return [
        runs.policy_info(config, size, p)
        for p in runs.group_policies(config, size, group)
    ]


def group_specs(rep, size, group):
    """Per policy of a group: its name, model directory, beta and sampling temperature."""
    return [
        {
            "policy": info["policy"],
            "model_dir": (
                sft_model(rep, size)
                if group == "sft"
                else f"results/daa/{rep}{size}/{info['policy']}"
            ),
            "beta": info["beta"],
            "temperature": info["temperature"],
        }
        for info in group_infos(size, group)
    ]


def all_targets():
    """What `snakemake` builds by default."""
    targets = [
        *(f"results/models/{rep}{s}/sft" for rep in REPS for s in SIZES),
        *(f"results/daa/{rep}{r.path}/history.csv" for rep in REPS for r in RUNS),
        "results/tables/evaluations.csv",
        "results/tables/fits.csv",
        "results/tables/pooled.csv",
        "results/metrics.json",
        *(f"results/figures/{n}.{e}" for n in FIGURES for e in ("png", "pdf")),
        "results/findings.md",
        "results/tables/provenance.csv",
    ]
    if SYNTHETIC:
        targets += [
            *(
                f"results/models/{rep}{s}/sft_quality.json"
                for rep in REPS
                for s in SIZES
            ),
            *(f"{PREF}/{rep}preference_stats.json" for rep in REPS),
        ]
    if BEST_OF_N:
        targets.append("results/tables/reward_models.csv")
    return targets
