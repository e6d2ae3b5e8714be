"""Every policy's win rate, gain over SFT and sqrt(KL) pooled over the replicates, with two-level CIs.

``evaluations.csv`` holds each replicate's values with a CI over prompts alone; this table pools
them: one row per size and policy, each statistic over (replicates, prompts) with the CI of the
hierarchical bootstrap over replicates and prompts (``overopt.analysis.two_level``) and the
seed-to-seed part of its standard error. The gain is paired: each prompt's win probability less
the same size's SFT policy's on the same prompt, in the same replicate. With one replicate the CI is
the prompt bootstrap's percentile interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from overopt.analysis.per_prompt import Pooled
from overopt.analysis.tables import size_order
from overopt.analysis.two_level import Boot, two_level

KEYS = ("model_size", "objective", "beta", "step", "epoch_fraction", "temperature", "n", "policy")
STATISTICS = ("win_rate", "win_gain", "sqrt_kl")


def _sqrt_mean(values: np.ndarray) -> float:
    """A policy's sqrt(KL): sqrt of the mean exact KL over prompts (and replicates), as in the table."""
    return math.sqrt(max(float(np.mean(values)), 0.0))


def _columns(
    name: str, values: np.ndarray, statistic: Callable[[np.ndarray], float], boot: Boot
) -> dict[str, float]:
    """``name``, its CI and the seed-to-seed standard error; empty where a value is missing."""
    cols = (name, f"{name}_low", f"{name}_high", f"{name}_se_replicates")
    if np.isnan(values).any():
        return dict.fromkeys(cols, math.nan)
    n_boot, ci, seed = boot
    res = two_level(values, n_boot, ci, seed, statistic)
    return dict(zip(cols, (res.estimate, res.low, res.high, res.se_replicates), strict=True))


def table(p: Pooled, boot: Boot) -> pd.DataFrame:
    """One row per size and policy (table order), pooled over every replicate of ``p``.

    Every replicate must have evaluated the same policies (``Pooled.policies`` says which differ);
    every size needs its SFT policy, the gains' reference.
    """
    first = p.ev[p.ev["replicate"] == p.replicates[0]]
    rows = []
    for size in size_order(p.ev):
        at_size = first[first["model_size"] == size].set_index("policy", drop=False)
        sft = p.stack(size, ["sft"])[..., 0]
        for objective in dict.fromkeys(at_size["objective"]):
            for policy in p.policies(size, objective):
                row = {k: at_size.at[policy, k] for k in KEYS}
                win = p.stack(size, [policy])[..., 0]
                kl = p.stack(size, [policy], "kl")[..., 0]
                row |= {"replicates": len(p.replicates)}
                row |= _columns("win_rate", win, np.mean, boot)
                row |= _columns("win_gain", win - sft, np.mean, boot)
                row |= _columns("sqrt_kl", kl, _sqrt_mean, boot)
                rows.append(row)
    return pd.DataFrame(rows)
