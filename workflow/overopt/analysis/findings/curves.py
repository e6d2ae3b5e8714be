"""Arrays of the pooled study that several findings read: win curves, each run's checkpoints, a
size's observed sqrt(KL) reach, and finding 1's rise and fall cases.
"""

from __future__ import annotations

import numpy as np

from overopt.analysis import criteria as C
from overopt.analysis.findings.base import Case, Tables, above, case
from overopt.analysis.per_prompt import Pooled


def win_curve(p: Pooled, size: str, policies: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """SFT first, then ``policies``: (replicates, prompts, points) win and (replicates, points) d."""
    points = ["sft", *policies]
    return p.stack(size, points), p.sqrt_kl(size, points)


def temperature_curve(p: Pooled, size: str) -> tuple[np.ndarray, np.ndarray]:
    """SFT sharpened by temperature: SFT (T = 1), then each temperature from the highest down."""
    temps = p.rows(size, "temperature").sort_values("temperature", ascending=False, kind="stable")
    return win_curve(p, size, [str(x) for x in temps["policy"]])


def objective_checkpoints(p: Pooled, size: str, objective: str) -> tuple[np.ndarray, np.ndarray]:
    """Every checkpoint of ``objective`` at ``size``: win (replicates, prompts, K) and d (replicates, K)."""
    policies = p.policies(size, objective)
    return p.stack(size, policies), p.sqrt_kl(size, policies)


def checkpoint_runs(p: Pooled, size: str, objective: str) -> dict[float, list[str]]:
    """Each beta's checkpoints of ``objective`` at ``size``, in step order."""
    rows = p.rows(size, objective).sort_values(["beta", "step"], kind="stable")
    return {float(b): [str(x) for x in g["policy"]] for b, g in rows.groupby("beta", sort=True)}


def final_policies(p: Pooled, size: str, objective: str) -> dict[float, str]:
    """Each beta's final checkpoint of ``objective`` at ``size``."""
    return {beta: policies[-1] for beta, policies in checkpoint_runs(p, size, objective).items()}


def observed_reach(p: Pooled, size: str, objective: str) -> float:
    """The smallest, over replicates, of the objective's largest sqrt(KL) at ``size``."""
    return float(p.sqrt_kl(size, p.policies(size, objective)).max(axis=1).min())


def rise_and_fall(t: Tables, size: str, objective: str) -> tuple[Case, Case]:
    """Finding 1's rise and fall cases of one (size, objective)."""
    p = t.pooled
    policies = p.policies(size, objective)
    win, sft, d = p.stack(size, policies), p.stack(size, ["sft"])[..., 0], p.sqrt_kl(size, policies)
    rise = C.rise(win, sft, t.boot("rise", size, objective))
    fall = C.fall(win, d, t.boot("fall", size, objective))
    return case((size, objective), rise, above()), case((size, objective), fall, above())
