"""The one bootstrap over prompts that every CI of the study uses.

Resampling indices are drawn once per seed, ``rng.integers(0, n, size=(B, n))`` with NumPy's
default generator, so policies resampled with the same indices are paired: their differences
(a gain over SFT, a fitted curve through several policies) keep the prompt-level correlation.
Intervals are percentile intervals.
"""

from __future__ import annotations

import math

import numpy as np


def indices(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_items) prompt indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n_items, size=(n_boot, n_items))


def resample_means(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mean of ``values`` over each row of resampled indices ``idx`` (B, n) -> (B,)."""
    return np.asarray(values, dtype=np.float64)[idx].mean(axis=1)


def interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval of the non-nan values (nan if none); +-inf values are kept."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan
    big = np.finfo(np.float64).max
    q = np.quantile(np.clip(v, -big, big), [(1 - ci) / 2, (1 + ci) / 2])
    q = np.where(np.abs(q) >= big, np.copysign(np.inf, q), q)  # not sign * inf: nan at 0, and a warning
    return float(q[0]), float(q[1])


def mean_ci(values: np.ndarray, n_boot: int, ci: float, seed: int) -> tuple[float, float]:
    """Percentile CI of the mean of ``values`` (one per prompt), resampling prompts."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return math.nan, math.nan
    return interval(resample_means(values, indices(len(values), n_boot, seed)), ci)


def paired_diff(
    values: dict[str, float], base: dict[str, float], n_boot: int, ci: float, seed: int
) -> tuple[float, float, float]:
    """Mean of ``values - base`` over ``values``' prompt ids, with its CI (prompts resampled jointly)."""
    diff = np.array([v - base[k] for k, v in values.items()], dtype=np.float64)
    lo, hi = mean_ci(diff, n_boot, ci, seed)
    return float(diff.mean()), lo, hi
