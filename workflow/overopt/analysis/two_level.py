"""The two-level bootstrap over replicates (seeds) and prompts, for statistics pooled across
replicates (``overopt.core.bootstrap`` is the one-level bootstrap over prompts it extends)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from overopt.core.bootstrap import indices, interval
from overopt.core.runtime import derive_seed

Boot = tuple[int, float, int]  # a two-level bootstrap's settings: (resamples, CI level, seed)


@dataclass(frozen=True)
class TwoLevel:
    """A statistic over replicates x prompts, with its interval and where the spread comes from."""

    estimate: float
    low: float
    high: float
    se: float
    df: float  # Satterthwaite degrees of freedom of the t interval (inf: the prompt bootstrap alone)
    se_replicates: float  # the seed-to-seed part of the standard error
    se_prompts: float  # the part from which prompts were drawn
    draws: np.ndarray | None = None  # one replicate: the prompt bootstrap's draws (its p-values' source)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values))


def two_level(
    values: np.ndarray,
    n_boot: int,
    ci: float,
    seed: int,
    statistic: Callable[[np.ndarray], float] = _mean,
    per_replicate: Callable[[np.ndarray], np.ndarray] | None = None,
) -> TwoLevel:
    """A CI for ``statistic(values)``, ``values`` shaped (replicates, prompts, ...), by a
    hierarchical bootstrap over replicates and prompts.

    The replicates redraw every seed; the prompts are the same in every replicate (crossed, not
    nested). Resampling both levels at once counts the prompt-level noise twice and, with a few
    replicates, a percentile interval is far too narrow. So the two levels are resampled apart:
    - replicates with replacement (prompts kept): v_rep, times R/(R-1) for the bootstrap's bias;
      it holds the seed-to-seed spread and the prompt-level noise each replicate carries;
    - prompts with replacement, the same draw in every replicate: v_prompts; less the same
      resampling within each replicate alone (averaged, over R), it leaves the variance of the
      prompts' common effects, v_common = (v_prompts - v_within / R) R/(R-1);
    and the interval is estimate +- t_df sqrt(v_rep + v_common), with Satterthwaite's degrees of
    freedom (R - 1 for v_rep, n - 1 for v_common). ``tests/test_two_level.py`` checks its
    coverage on simulated data of known variances. One replicate: the prompt bootstrap's
    percentile interval (``mean_ci``'s, for any statistic).

    ``per_replicate`` (a statistic that is the mean of R per-replicate values, each made with the
    other replicates, as ``overopt.analysis.selection``'s held-out choices are): v_rep is the
    variance of those R values over R, with R - 1 degrees of freedom for the whole interval (the
    t interval of a mean of R independent values, widened by v_common; conservative where
    v_common is large). Resampling replicates would mix in copies, which such a statistic cannot
    treat as other replicates.
    """
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    r, n = values.shape[:2]
    estimate = statistic(values)
    prompt_idx = indices(n, n_boot, seed)  # the study's prompt bootstrap, paired with its other CIs
    by_prompts = np.array([statistic(values[:, i]) for i in prompt_idx])
    if r == 1:
        lo, hi = interval(by_prompts, ci)
        se = float(np.nanstd(by_prompts, ddof=1))
        return TwoLevel(float(estimate), lo, hi, se, math.inf, 0.0, se, by_prompts)
    if per_replicate is None:
        rep_idx = np.random.default_rng(derive_seed(seed, "replicates")).integers(0, r, size=(n_boot, r))
        v_rep = float(np.var([statistic(values[i]) for i in rep_idx], ddof=1)) * r / (r - 1)
    else:
        v_rep = float(np.var(per_replicate(values), ddof=1)) / r
    v_within = np.mean([np.var([statistic(values[[k]][:, i]) for i in prompt_idx], ddof=1) for k in range(r)])
    v_common = max(float(np.var(by_prompts, ddof=1)) - v_within / r, 0.0) * r / (r - 1)
    v = v_rep + v_common
    if per_replicate is not None:
        df = float(r - 1)
    else:
        df = v**2 / (v_rep**2 / (r - 1) + v_common**2 / (n - 1)) if v > 0 else math.inf
    half = float(stats.t.ppf((1 + ci) / 2, df)) * math.sqrt(v)
    return TwoLevel(
        float(estimate),
        estimate - half,
        estimate + half,
        math.sqrt(v),
        df,
        math.sqrt(v_rep),
        math.sqrt(v_common),
    )
