"""Run and policy identity: which DAA runs, checkpoints and evaluated policies a config defines.

A run is one (model size, objective, beta); its checkpoints are named by optimizer step and epoch
fraction; a policy is ``sft``, ``temperature/T-<t>`` (the SFT model sampled at temperature t) or
``<objective>/beta-<beta>/<checkpoint>``, and its files live under ``results/eval/<size>/<policy>/``.
Policies are evaluated in groups that share one model load and one job: a size's ``sft`` group (the
SFT policy and its temperature policies) and each run's checkpoints (group ``<objective>/beta-<beta>``).
Every stage that names a run or a policy, or reads one back from a path, does it here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overopt.core.config import fmt_beta, objective_sizes, run_options


@dataclass(frozen=True)
class Run:
    """One DAA run; ``beta`` as written in paths (``fmt_beta``)."""

    size: str
    objective: str
    beta: str

    @property
    def path(self) -> str:
        """``size/objective/beta-<beta>``: where the run's files live under results/daa/."""
        return f"{self.size}/{self.objective}/beta-{self.beta}"

    def __str__(self) -> str:
        return f"size {self.size}, objective {self.objective}, beta {float(self.beta):g}"


def runs(cfg: dict[str, Any]) -> list[Run]:
    """Every (size, objective, beta) of the sweep, in config order."""
    return [
        Run(size, name, fmt_beta(beta))
        for name, obj in cfg["objectives"].items()
        for size in objective_sizes(cfg, name)
        for beta in obj["betas"]
    ]


def n_train_pairs(cfg: dict[str, Any]) -> int:
    """Preference pairs one DAA epoch goes through (fixed by config so the DAG is known upfront)."""
    if cfg["task"]["type"] == "synthetic":
        return int(cfg["task"]["synthetic"]["n_pref_posts"]) * int(cfg["preferences"]["pairs_per_post"])
    return int(cfg["preferences"]["n_train_pairs"])


def steps_per_epoch(cfg: dict[str, Any], size: str) -> int:
    """Optimizer steps in one pass over the preference pairs."""
    return math.ceil(n_train_pairs(cfg) / int(run_options(cfg, "daa", size)["batch_size"]))


def total_steps(cfg: dict[str, Any], size: str) -> int:
    """Optimizer steps of a DAA run."""
    return steps_per_epoch(cfg, size) * int(run_options(cfg, "daa", size).get("epochs", 1))


def checkpoint_steps(cfg: dict[str, Any], size: str) -> list[int]:
    """Evenly spaced checkpoint steps, the last one the final step."""
    total = total_steps(cfg, size)
    k = int(run_options(cfg, "daa", size).get("checkpoints", 5))
    return sorted({max(1, round(total * i / k)) for i in range(1, k + 1)})


def checkpoint_name(step: int, steps_per_epoch: int) -> str:
    """``step-00050_ep-0.200``: the optimizer step and the epochs it corresponds to."""
    return f"step-{step:05d}_ep-{step / steps_per_epoch:.3f}"


def checkpoint_names(cfg: dict[str, Any], size: str) -> list[str]:
    """Directory names of a run's checkpoints."""
    spe = steps_per_epoch(cfg, size)
    return [checkpoint_name(s, spe) for s in checkpoint_steps(cfg, size)]


def parse_checkpoint(name: str) -> tuple[int, float]:
    """(step, epoch fraction) from a checkpoint directory name."""
    step, frac = name.split("_")
    return int(step.removeprefix("step-")), float(frac.removeprefix("ep-"))


def policies(cfg: dict[str, Any]) -> list[tuple[str, str]]:
    """(size, policy) of every evaluated policy: SFT, temperature-sharpened SFT, every DAA checkpoint."""
    return [(size, p) for size, group in groups(cfg) for p in group_policies(cfg, size, group)]


def groups(cfg: dict[str, Any]) -> list[tuple[str, str]]:
    """(size, group) of every evaluation group: each size's ``sft`` group, then each run's."""
    return [(size, "sft") for size in cfg["models"]] + [
        (run.size, f"{run.objective}/beta-{run.beta}") for run in runs(cfg)
    ]


def group_policies(cfg: dict[str, Any], size: str, group: str) -> list[str]:
    """The policies of an evaluation group, in table order."""
    if group == "sft":
        temps = [fmt_beta(t) for t in cfg["evaluation"].get("temperatures", [])]
        return ["sft", *(f"temperature/T-{t}" for t in temps)]
    return [f"{group}/{c}" for c in checkpoint_names(cfg, size)]


def policy_info(cfg: dict[str, Any], size: str, policy: str) -> dict[str, Any]:
    """Table fields of a policy path: objective, beta, step, epoch fraction, sampling temperature."""
    temperature = float(cfg["evaluation"]["temperature"])
    if policy == "sft":
        return {
            "model_size": size,
            "objective": "sft",
            "beta": None,
            "step": 0,
            "epoch_fraction": 0.0,
            "temperature": temperature,
            "policy": policy,
        }
    if policy.startswith("temperature/"):
        return {
            "model_size": size,
            "objective": "temperature",
            "beta": None,
            "step": 0,
            "epoch_fraction": 0.0,
            "temperature": float(policy.removeprefix("temperature/T-")),
            "policy": policy,
        }
    objective, beta, ckpt = policy.split("/")
    step, frac = parse_checkpoint(ckpt)
    return {
        "model_size": size,
        "objective": objective,
        "beta": float(beta.removeprefix("beta-")),
        "step": step,
        "epoch_fraction": frac,
        "temperature": temperature,
        "policy": policy,
    }


def policy_of_path(path: str | Path, known: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(size, policy) of a per-policy file ``.../<size>/<policy>/<file>`` among ``known`` ones.

    A policy has one to three path components; the match must be unique.
    """
    known = set(known)
    parts = Path(path).parts
    matches = {
        (parts[-2 - k], "/".join(parts[-1 - k : -1]))
        for k in (1, 2, 3)
        if len(parts) >= k + 2 and (parts[-2 - k], "/".join(parts[-1 - k : -1])) in known
    }
    if len(matches) != 1:
        raise ValueError(f"{path}: matches no single (model_size, policy) of the evaluations table")
    return matches.pop()
