"""Pairwise judges behind one interface: (post, summary A, summary B) -> P(A beats B).

A judge is a class in its own module of this package, named as its type
(``judges/<type>.py``) and registered there with ``@register_judge("<type>")``: config
``judge.type`` names it. It declares ``CONFIG_KEYS`` (every key its config block may have,
``type`` included) and ``REQUIRED_KEYS``, and builds itself with
``from_config(cfg, *, seed, cache_dir)``. A judge with ``LOCAL = True`` (a formula, or an API
that needs outbound network) runs where Snakemake runs, not as a cluster job. A module is
imported by name only when its judge is configured (``load``), so judging depends on that
judge's file alone (``module_file``); it imports heavy libraries (torch, transformers)
inside ``from_config``, so checking a config stays cheap. ``check_config`` runs when the
workflow builds its DAG.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from overopt.core.registry import Registry
from overopt.evaluate.judges.base import JudgeItem, PairwiseJudge, Verdict

JUDGES: Registry[type] = Registry("judge type")
HERE = Path(__file__).resolve().parent
_NOT_JUDGES = {"__init__", "base", "cache"}


def register_judge(name: str):
    """Class decorator: register a judge under config ``judge.type`` ``name``."""
    return JUDGES.register(name)


def judge_types() -> list[str]:
    """Every judge type: the judge modules of this package (none is imported)."""
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in _NOT_JUDGES)


def module_file(kind: str) -> Path:
    """The module that defines judge type ``kind``."""
    return HERE / f"{kind}.py"


def load(kind: str) -> type:
    """The judge class of type ``kind`` (imports its module)."""
    if kind not in judge_types():
        raise ValueError(
            f"config key 'judge.type': {kind!r} is not a registered judge; "
            f"allowed: {', '.join(judge_types())}"
        )
    importlib.import_module(f"{__name__}.{kind}")
    if kind not in JUDGES:
        raise ValueError(f"{module_file(kind)} registers no judge named {kind!r} (@register_judge)")
    return JUDGES.get(kind)


def check_config(cfg: dict[str, Any]) -> None:
    """The ``judge`` block names a registered type and only that judge's keys, with its required ones."""
    kind = str(cfg.get("type"))
    cls = load(kind)
    unknown = set(cfg) - set(cls.CONFIG_KEYS)
    if unknown:
        raise ValueError(
            f"config key 'judge': unknown keys {sorted(unknown)} for judge type {kind!r}; "
            f"allowed: {', '.join(sorted(cls.CONFIG_KEYS))}"
        )
    missing = [k for k in cls.REQUIRED_KEYS if cfg.get(k) in (None, "")]
    if missing:
        raise ValueError(f"config key 'judge': judge type {kind!r} needs {missing}")


def runs_locally(cfg: dict[str, Any]) -> bool:
    """Whether the judge rules of the configured judge run where Snakemake runs (``LOCAL``)."""
    return bool(getattr(load(str(cfg.get("type"))), "LOCAL", False))


def missing_secrets(cfg: dict[str, Any]) -> list[str]:
    """Environment variables the configured judge reads its secrets from and that are not set.

    A judge names the config key that holds such a variable's name in ``SECRET_ENV_KEYS``.
    """
    cls = load(str(cfg.get("type")))
    names = [cfg.get(key) for key in getattr(cls, "SECRET_ENV_KEYS", ())]
    return [n for n in names if n and not os.environ.get(n)]


def make_judge(cfg: dict[str, Any], *, seed: int, cache_dir: str | None = None) -> PairwiseJudge:
    """Build the judge named by ``cfg['type']`` (config ``judge``)."""
    check_config(cfg)
    return load(cfg["type"]).from_config(cfg, seed=seed, cache_dir=cache_dir)


__all__ = [
    "JUDGES",
    "JudgeItem",
    "PairwiseJudge",
    "Verdict",
    "check_config",
    "judge_types",
    "load",
    "make_judge",
    "missing_secrets",
    "module_file",
    "register_judge",
    "runs_locally",
]
