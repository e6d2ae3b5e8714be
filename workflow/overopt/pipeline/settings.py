"""What a job's results depend on besides its input files: the config values it reads and its code.

Every rule declares the config keys it reads in ``RULE_KEYS`` (one place). Its ``settings``
param holds exactly that subset of the config, and its ``code`` param holds a hash of the
content of every package module its script imports, directly or not (``overopt.pipeline.deps``).
Snakemake reruns a job when a param changes. So an edited config value reruns exactly the jobs
that read it, and an edited module reruns exactly the jobs whose code imports it, and what
depends on them. A comment-only edit changes nothing; a reordering of keys counts as an edit, since order
carries meaning in places (model sizes, objectives). Both are content, not paths or times, so a
moved study or project has nothing to rerun.

The job sees only its subset: ``overopt.pipeline.job.context`` replaces ``snakemake.config`` with it, so a
script that reads an undeclared key fails with a ``KeyError`` naming it, instead of silently
depending on it.

Key paths are dotted. ``{size}`` and ``{objective}`` are filled from the job's wildcards, and
``*`` stands for every key at that level. Where a path stops existing, the subset keeps the
deepest container it reached, so ``.get`` with a default reads the same as on the full config.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from overopt.core.config import GATE_SAMPLE
from overopt.pipeline import deps
from overopt.pipeline.canonical import canonical

COMMON = ("seed", "task.type")  # every job: its seed and whether it may reach the Hub (job.context)
EVALUATION = tuple(
    f"evaluation.{k}"
    for k in ("n_prompts", "temperature", "max_new_tokens", "top_k", "top_p", "batch_size", "seed")
)
OBJECTIVE_SPECS = (  # overopt.core.objectives.specs
    "objectives.*.loss_type",
    "objectives.*.length_alpha",
    "objectives.*.learning_rate",
    "objectives.*.labels",
)
LEARNING_RATES = (
    "daa.learning_rate",
    "models.*.daa.learning_rate",
    "objectives.*.learning_rate",
    "objectives.*.sizes",
)
MODEL = tuple(
    f"models.{{size}}.{k}"
    for k in ("architecture", "hub_id", "revision", "dtype", "tokenizer_revision", "sft")
)


def _sft_quality(cfg: Mapping[str, Any]) -> tuple[str, ...]:
    """The gate's thresholds and its sample: its own keys, else the evaluation's."""
    gate = cfg.get("sft", {}).get("quality_gate", {})
    return ("sft.quality_gate", *(f"evaluation.{k}" for k in GATE_SAMPLE if k not in gate))


def _sft(cfg: Mapping[str, Any]) -> tuple[str, ...]:
    """The training options, not the quality gate (which the sft_quality rule reads)."""
    options = [k for k in cfg.get("sft", {}) if k != "quality_gate"]
    return ("threads", *MODEL, *(f"sft.{k}" for k in options))


def _daa(cfg: Mapping[str, Any]) -> tuple[str, ...]:
    """A run's own objective settings (not the beta grid or sizes: a run is one beta at one size)."""
    options = sorted({k for o in cfg["objectives"].values() for k in o} - {"betas", "sizes"})
    return (
        "threads",
        "daa",
        "models.{size}.daa",
        *(f"objectives.{{objective}}.{k}" for k in options),
        "task.synthetic.n_pref_posts",  # the epoch's length: n_pref_posts x pairs_per_post pairs
        "preferences.pairs_per_post",
        "preferences.n_train_pairs",
    )


def _prepare_data(cfg: Mapping[str, Any]) -> tuple[str, ...]:
    if cfg["task"]["type"] == "synthetic":
        return ("task.synthetic",)
    return ("task.hub", "evaluation.n_prompts", "preferences.n_train_pairs")


RULE_KEYS: dict[str, tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]]] = {
    "prepare_data": _prepare_data,
    "tokenizer": (),
    "sft": _sft,
    "sft_quality": _sft_quality,
    # the pool of sizes is the rule's `pool` param (explicit or every size: the same value)
    "candidates": (
        "threads",
        *(f"candidates.{k}" for k in ("samplers", "perturbed_references", "max_new_tokens", "batch_size")),
    ),
    "preferences": ("preferences",),
    # what the reference log-probs depend on (overopt.train.daa.compute_ref_logps)
    "ref_logps": (
        "threads",
        *(f"{base}.{k}" for base in ("daa", "models.{size}.daa") for k in ("max_length", "ref_batch_size")),
    ),
    "daa": _daa,
    "sample": (*EVALUATION, "evaluation.heldout_pairs"),
    "judge": ("evaluation.bootstrap", "evaluation.ci", "judge"),
    "reward_model": ("threads", "reward_model", "models.{size}.reward_model", "evaluation.heldout_pairs"),
    "best_of_n_sample": (
        "threads",
        *(k for k in EVALUATION if k != "evaluation.seed"),  # its own seed: best_of_n.seed
        "best_of_n.n_max",
        "best_of_n.seed",
    ),
    "best_of_n": (  # judges the draws: no sampling key, so a judge edit redraws nothing
        "threads",
        "evaluation.n_prompts",
        "evaluation.temperature",  # the curves' rows record it
        "evaluation.bootstrap",
        "evaluation.ci",
        "best_of_n.n_max",
        "judge",
    ),
    "reward_models": (),
    "collect": ("evaluation.bootstrap", "evaluation.ci", *LEARNING_RATES),  # its learning_rate column
    "fit": ("fit", *OBJECTIVE_SPECS),
    "pooled": ("fit.bootstrap", "fit.ci"),  # the analysis stage's bootstrap
    "metrics": (),
    "figures": OBJECTIVE_SPECS,
    "findings": (
        *OBJECTIVE_SPECS,
        "fit.bootstrap",  # the analysis stage's bootstrap: the fits' and the pooled findings'
        "fit.ci",
    ),
    "toy_mdp": ("toy_mdp",),
    "provenance": (),
}


def keys(rule: str, cfg: Mapping[str, Any]) -> tuple[str, ...]:
    """The config key paths ``rule`` reads (``COMMON`` included)."""
    declared = RULE_KEYS[rule]
    return (*COMMON, *(declared(cfg) if callable(declared) else declared))


def _put(out: dict[str, Any], path: list[str], value: Any) -> None:
    node = out
    for part in path[:-1]:
        node = node.setdefault(part, {})
    if path:
        last = node.get(path[-1])
        node[path[-1]] = (
            value if not (isinstance(last, dict) and isinstance(value, dict)) else {**value, **last}
        )


def _select(cfg: Any, parts: list[str], done: list[str], out: dict[str, Any]) -> None:
    if not parts:
        _put(out, done, cfg)
        return
    if not isinstance(cfg, Mapping):
        return
    head, rest = parts[0], parts[1:]
    names = list(cfg) if head == "*" else [head]
    present = [n for n in names if n in cfg]
    if not present:
        _put(out, done, {})  # the deepest container reached: `.get(head, default)` reads the same
        return
    for name in present:
        _select(cfg[name], rest, [*done, str(name)], out)


def subset(cfg: Mapping[str, Any], paths: Iterable[str], wildcards: Mapping[str, str] | None = None) -> dict:
    """The parts of ``cfg`` at ``paths`` (wildcards filled), as one nested dict in declared order."""
    out: dict[str, Any] = {}
    for path in paths:
        filled = path.format(**(wildcards or {})) if "{" in path else path
        _select(cfg, filled.split("."), [], out)
    return canonical(out)


def settings(cfg: Mapping[str, Any], rule: str, wildcards: Mapping[str, str] | None = None) -> dict:
    """The config values ``rule``'s job reads: its ``settings`` param (a run's options are resolved
    from them by ``overopt.core.config.run_options``, as everywhere)."""
    return subset(cfg, keys(rule, cfg), wildcards)


def content_hash(files: Iterable[Path], root: Path = deps.ROOT) -> str:
    """SHA-256 over the package-relative path and content of each file (not its location or time)."""
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in files):
        h.update(path.resolve().relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def code_hash(script: str | Path, extra: Iterable[Path] = ()) -> str:
    """The ``code`` param: a hash of every package module the script imports, and of ``extra`` modules."""
    return content_hash({*deps.script_code(script), *(p for e in extra for p in deps.module_code(e))})
