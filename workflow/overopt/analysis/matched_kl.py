"""DAA checkpoints against a best-of-n curve at matched sqrt(KL), paired over prompts.

For a (size, DAA objective), the matched checkpoints are those whose sqrt(KL) lies within the
curve's range (0 < d <= the curve's largest d). At each one's d, the curve's win rate is read by
linear interpolation between its two neighbouring n, and so is every prompt's value (the same
weights), so the difference is a mean of per-prompt differences on the same prompts:

    D = mean over prompts of [ mean over matched checkpoints of (win_c(p) - curve_p(d_c)) ].

Both sides are win probabilities against the same reference summaries, so the SFT baseline
cancels. The CI resamples prompts (a seeded percentile bootstrap). D < 0 with the CI below 0:
the DAA lies below the curve at the KL it spent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from overopt.core import bootstrap

Key = tuple[str, str]


@dataclass(frozen=True)
class Matched:
    """One (size, objective) against one curve."""

    n_matched: int
    n_out_of_range: int
    diff: float
    low: float
    high: float

    @property
    def side(self) -> str:
        """``above`` / ``below`` when the CI excludes 0, else ``level``; ``n/a`` without a match."""
        if self.n_matched == 0 or not np.isfinite(self.diff):
            return "n/a"
        return side(self.low, self.high)


def side(low: float, high: float) -> str:
    """``above`` / ``below`` when the interval [low, high] excludes 0, else ``level``."""
    if low > 0:
        return "above"
    if high < 0:
        return "below"
    return "level"


def interpolation(curve_d: np.ndarray, d: float) -> tuple[int, int, float]:
    """Indices (i, j) of ``curve_d`` (ascending) around ``d`` and the weight of j."""
    j = int(np.searchsorted(curve_d, d, side="left"))
    if j == 0:
        return 0, 0, 0.0
    i = j - 1
    span = curve_d[j] - curve_d[i]
    return i, j, float((d - curve_d[i]) / span) if span > 0 else 1.0


def compare(
    daa: pd.DataFrame,
    curve: pd.DataFrame,
    samples: dict[Key, np.ndarray],
    size: str,
    n_boot: int,
    ci: float,
    seed: int,
) -> Matched:
    """``daa``: one objective's rows at ``size``; ``curve``: the best-of-n rows of that size."""
    n, diffs = per_prompt(daa, curve, lambda policy: samples[(size, policy)])
    if diffs is None:
        return Matched(0, len(daa), np.nan, np.nan, np.nan)
    low, high = bootstrap.mean_ci(diffs, n_boot, ci, seed)
    return Matched(n, len(daa) - n, float(diffs.mean()), low, high)


def per_prompt(
    daa: pd.DataFrame, curve: pd.DataFrame, wins: Callable[[str], np.ndarray]
) -> tuple[int, np.ndarray | None]:
    """(checkpoints matched, per-prompt D, or None without a match); ``wins``: a policy's per-prompt
    win probabilities, by its name."""
    curve = curve.sort_values("sqrt_kl", kind="stable")
    curve_d = curve["sqrt_kl"].to_numpy(dtype=float)
    if len(curve_d) == 0:
        return 0, None
    in_range = daa[(daa["sqrt_kl"] > 0) & (daa["sqrt_kl"] <= float(curve_d[-1]))]
    if in_range.empty:
        return 0, None
    curve_wins = [wins(str(p)) for p in curve["policy"]]
    out = np.zeros_like(curve_wins[0])
    for _, row in in_range.sort_values("policy", kind="stable").iterrows():
        i, j, w = interpolation(curve_d, float(row["sqrt_kl"]))
        out += wins(str(row["policy"])) - ((1 - w) * curve_wins[i] + w * curve_wins[j])
    return len(in_range), out / len(in_range)
