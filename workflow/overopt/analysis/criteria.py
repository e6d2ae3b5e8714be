"""The statistics the findings test, each pooled over replicates with a two-level CI.

Each builder takes per-replicate, per-prompt arrays (``overopt.analysis.per_prompt``) and returns
an ``Estimate``: the statistic of every replicate alone, the pooled value and its CI from the
hierarchical bootstrap over replicates and prompts (``overopt.analysis.two_level``). Values a
statistic needs that are fixed within a replicate (a policy's sqrt(KL), its implicit-reward
accuracy, a prompt's half) ride along as extra columns constant over prompts, so resampling
prompts keeps them and resampling replicates carries them with their replicate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from overopt.analysis.fit import basis, solve
from overopt.analysis.selection import Cell, best, held_out_cells, held_out_gain_cells, with_folds
from overopt.analysis.two_level import Boot, two_level


@dataclass(frozen=True)
class Estimate:
    """A pooled statistic: each replicate's value, the pooled value and its CI, with the standard
    error and degrees of freedom the CI was made from (the t interval value +- t_df se; with one
    replicate the CI is the prompt bootstrap's percentile interval, kept in ``draws``)."""

    per_replicate: tuple[float, ...]
    value: float
    low: float
    high: float
    se: float = math.nan
    df: float = math.inf
    draws: np.ndarray | None = None  # one replicate: the prompt bootstrap's draws

    def above(self, threshold: float = 0.0) -> bool:
        return bool(self.low > threshold)

    def below(self, threshold: float = 0.0) -> bool:
        return bool(self.high < threshold)

    def within(self, low: float, high: float) -> bool:
        return bool(self.low > low and self.high < high)


def estimate(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    boot: Boot,
    per_replicate: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Estimate:
    """``statistic`` of ``values`` (replicates, prompts, ...): per replicate, pooled, two-level CI
    (``per_replicate``: a held-out statistic's replicate values, ``two_level``'s)."""
    n_boot, ci, seed = boot
    values = np.asarray(values, dtype=np.float64)
    per = tuple(float(statistic(values[[k]])) for k in range(values.shape[0]))
    res = two_level(values, n_boot, ci, seed, statistic, per_replicate)
    return Estimate(
        per, float(res.estimate), float(res.low), float(res.high), float(res.se), float(res.df), res.draws
    )


def held_out_estimate(values: np.ndarray, cells: Callable[[np.ndarray], np.ndarray], boot: Boot) -> Estimate:
    """A held-out statistic (``with_folds`` layout): the mean of its per-replicate ``cells``, whose
    spread is also its seed-to-seed error (``two_level``'s ``per_replicate``)."""
    return estimate(values, lambda v: float(np.mean(cells(v))), boot, cells)


def _constant(values: np.ndarray, n: int) -> np.ndarray:
    """(replicates, K) -> (replicates, n, K): a per-replicate value repeated for every prompt."""
    return np.broadcast_to(
        np.asarray(values, dtype=np.float64)[:, None, :], (values.shape[0], n, values.shape[1])
    )


# ----- the rise and the fall (finding 1) -------------------------------------------------------


def rise(win: np.ndarray, sft: np.ndarray, boot: Boot) -> Estimate:
    """The selection-proof rise: the peak checkpoint chosen on other replicates and the other half
    of the prompts, its paired gain over SFT measured on the held-out ones (cross-fitted;
    ``overopt.analysis.selection``).

    ``win``: (replicates, prompts, checkpoints); ``sft``: (replicates, prompts).
    """
    return held_out_estimate(with_folds(win - sft[..., None], boot[2]), held_out_gain_cells, boot)


def fall(win: np.ndarray, d: np.ndarray, boot: Boot) -> Estimate:
    """How far the checkpoint at the largest sqrt(KL) lies below the peak, selection-proof: the
    peak chosen as in ``rise``, peak minus last measured on the held-out replicate and prompts.

    ``d``: (replicates, checkpoints); the last checkpoint is each replicate's largest d.
    """
    last = np.argmax(d, axis=1)
    below_last = np.stack([win[r] - win[r][:, [last[r]]] for r in range(win.shape[0])])
    return held_out_estimate(with_folds(below_last, boot[2]), held_out_gain_cells, boot)


# ----- early peaks (finding 2) -------------------------------------------------------------------


def _early_rate(means: np.ndarray, runs: Sequence[Sequence[int]], flags: np.ndarray) -> float:
    """Share of (replicate, run) whose best checkpoint by mean win rate is flagged early.

    ``means``: (replicates, columns); ``runs``: each run's column indices in step order.
    """
    return float(np.mean([flags[run][int(np.argmax(m[run]))] for m in means for run in runs]))


def early_share(
    win: np.ndarray, runs: Sequence[Sequence[int]], early: Sequence[bool], chance: float, boot: Boot
) -> Estimate:
    """Share of runs whose best checkpoint (by mean win rate) is an early one, minus ``chance``.

    ``win``: (replicates, prompts, all checkpoints); ``runs``: each run's column indices in step
    order; ``early``: per column, whether it is an early checkpoint.
    """
    flags = np.asarray(early, dtype=bool)
    return estimate(win, lambda values: _early_rate(values.mean(axis=1), runs, flags) - chance, boot)


def early_share_gap(
    win: np.ndarray,
    low: Sequence[Sequence[int]],
    high: Sequence[Sequence[int]],
    early: Sequence[bool],
    boot: Boot,
) -> Estimate:
    """Early-peak share of the ``low`` runs minus that of the ``high`` (control) runs."""
    flags = np.asarray(early, dtype=bool)

    def gap(values: np.ndarray) -> float:
        means = values.mean(axis=1)
        return _early_rate(means, low, flags) - _early_rate(means, high, flags)

    return estimate(win, gap, boot)


# ----- KL reach (finding 3) ----------------------------------------------------------------------


def kl_gap(kl_a: np.ndarray, kl_b: np.ndarray, boot: Boot) -> Estimate:
    """Mean over matched runs of sqrt(KL) of ``a``'s run minus ``b``'s (their final checkpoints).

    ``kl_a``, ``kl_b``: (replicates, prompts, runs), the runs in matched order.
    """
    k = kl_a.shape[2]

    def gap(values: np.ndarray) -> float:
        d = np.sqrt(np.maximum(values.mean(axis=1), 0.0))  # (replicates, 2k)
        return float(np.mean(d[:, :k] - d[:, k:]))

    return estimate(np.concatenate([kl_a, kl_b], axis=2), gap, boot)


# ----- fitted curves (findings 3 and the functional form) ----------------------------------------


def _with_d(win: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(replicates, prompts, points, 2): each point's win probability and its sqrt(KL)."""
    return np.stack([win, _constant(d, win.shape[1])], axis=-1)


def _coef(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares of y on the two columns of x, by the normal equations (nan if singular)."""
    a, b, c = float(x[:, 0] @ x[:, 0]), float(x[:, 0] @ x[:, 1]), float(x[:, 1] @ x[:, 1])
    det = a * c - b * b
    if not det > 1e-12 * max(a * c, 1e-300):
        return solve(x, y)
    u, v = float(x[:, 0] @ y), float(x[:, 1] @ y)
    return np.array([(c * u - b * v) / det, (a * v - b * u) / det])


def _rl_gain(w: np.ndarray, d: np.ndarray, at: float) -> float:
    """The RL-form gain R(at) fitted to one replicate's points (the first is SFT, at d = 0)."""
    coef = _coef(basis("rl", d), w - w[0])
    return float((basis("rl", np.array([at])) @ coef)[0])


def fitted_gain_gap(
    win_a: np.ndarray, d_a: np.ndarray, win_b: np.ndarray, d_b: np.ndarray, at: float, boot: Boot
) -> Estimate:
    """RL-form gain over SFT at sqrt(KL) = ``at`` of curve ``a`` minus that of curve ``b``.

    Each curve: ``win`` (replicates, prompts, points) and ``d`` (replicates, points), SFT first;
    each replicate's curve is fitted to its own points and the fitted gains are averaged.
    """
    ka = win_a.shape[2]

    def gap(values: np.ndarray) -> float:
        w, d = values[..., 0].mean(axis=1), values[:, 0, :, 1]
        out = [_rl_gain(w[r, :ka], d[r, :ka], at) - _rl_gain(w[r, ka:], d[r, ka:], at) for r in range(len(w))]
        return float(np.mean(out))

    values = np.concatenate([_with_d(win_a, d_a), _with_d(win_b, d_b)], axis=2)
    return estimate(values, gap, boot)


def rmse_ratio(win: np.ndarray, d: np.ndarray, boot: Boot) -> Estimate:
    """RMSE of the RL form over RMSE of the quadratic form, both fitted as gains over SFT (first
    point) to each replicate's points, averaged over replicates."""

    def ratio(values: np.ndarray) -> float:
        w, dd = values[..., 0].mean(axis=1), values[:, 0, :, 1]
        out = []
        for r in range(len(w)):
            gain = w[r] - w[r, 0]
            rmse = []
            for form in ("rl", "bon"):
                x = basis(form, dd[r])
                resid = gain - x @ _coef(x, gain)
                rmse.append(math.sqrt(float(np.mean(resid * resid))))
            out.append(rmse[0] / rmse[1] if rmse[1] > 0 else math.nan)
        return float(np.mean(out))

    return estimate(_with_d(win, d), ratio, boot)


# ----- implicit reward (finding 5) ---------------------------------------------------------------


def accuracy_correlation(win: np.ndarray, acc: np.ndarray, boot: Boot) -> Estimate:
    """Pearson r over checkpoints between held-out implicit-reward accuracy and win rate, per
    replicate, averaged. ``acc``: (replicates, checkpoints)."""

    def r(values: np.ndarray) -> float:
        w, a = values[..., 0].mean(axis=1), values[:, 0, :, 1]
        out = []
        for k in range(len(w)):
            if np.std(w[k]) == 0 or np.std(a[k]) == 0:
                return math.nan
            out.append(float(np.corrcoef(a[k], w[k])[0, 1]))
        return float(np.mean(out))

    return estimate(_with_d(win, acc), r, boot)


# ----- sharpening (beyond the paper) --------------------------------------------------------------


def _envelope_cell(k: int, j: int) -> Cell:
    """The cross-fitting cell of ``best_vs_envelope`` for ``k`` checkpoints and ``j`` baseline points."""

    def cell(columns: np.ndarray, r: int, chosen: np.ndarray, measured: np.ndarray) -> float:
        d, base_d = columns[r, 0, k : 2 * k], columns[r, 0, 2 * k + j :]
        top = int(np.argmax(chosen[:k]))
        reach = base_d >= d[top]
        cap = float(base_d[reach].min()) if reach.any() else math.inf
        envelope = int(np.argmax(np.where(base_d <= cap, chosen[2 * k : 2 * k + j], -math.inf)))
        return float(measured[top] - measured[2 * k + envelope])

    return cell


def best_vs_envelope(
    win: np.ndarray, d: np.ndarray, base: np.ndarray, base_d: np.ndarray, boot: Boot
) -> Estimate:
    """The best checkpoint against the best a baseline curve reaches within the same KL, both
    chosen held out (``overopt.analysis.selection``): like for like over the whole KL range.

    ``win`` (replicates, prompts, checkpoints) with ``d`` (replicates, checkpoints): every
    checkpoint of the objective; ``base`` (replicates, prompts, points) with ``base_d``: the
    baseline (SFT sharpened by temperature, SFT included at d = 0; or best-of-n from n = 1). In each
    cross-fitting cell the checkpoint with the best mean win on the other replicates and prompts is
    chosen; the baseline's envelope at its sqrt(KL) d* is its best point (chosen the same way)
    among those up to the first point at or beyond d* (every point if none reaches d*: the
    baseline cannot spend more KL); the cell's value is the checkpoint's win minus that point's,
    on the held-out replicate and prompts.
    """
    k, j = win.shape[2], base.shape[2]
    n = win.shape[1]
    columns = np.concatenate([win, _constant(d, n), base, _constant(base_d, n)], axis=2)
    cell = _envelope_cell(k, j)
    return held_out_estimate(with_folds(columns, boot[2]), lambda v: held_out_cells(v, cell), boot)


def reach_share(win: np.ndarray, d: np.ndarray, base_d: np.ndarray) -> float:
    """Share of replicates in which the baseline's largest sqrt(KL) reaches that of the checkpoint
    chosen on the other replicates (all prompts; with one replicate, on itself)."""
    r_count = win.shape[0]
    hits = []
    for r in range(r_count):
        others = np.arange(r_count) != r if r_count > 1 else np.ones(1, dtype=bool)
        chosen = best(win, others)
        hits.append(float(base_d[r].max() >= d[r, chosen]))
    return float(np.mean(hits))


def mean_of(values: np.ndarray, boot: Boot) -> Estimate:
    """The plain mean of per-prompt values (replicates, prompts): a win rate, a paired gain."""
    return estimate(values, lambda v: float(np.mean(v)), boot)


# ----- length (finding 4) ------------------------------------------------------------------------


def _r2(logratio: np.ndarray, length: np.ndarray) -> np.ndarray:
    """(..., prompts, K) -> (..., K): R^2 of log pi/ref on length over prompts, per column."""
    x = length - length.mean(axis=-2, keepdims=True)
    y = logratio - logratio.mean(axis=-2, keepdims=True)
    sxy, sxx, syy = (x * y).sum(axis=-2), (x * x).sum(axis=-2), (y * y).sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((sxx > 0) & (syy > 0), sxy * sxy / (sxx * syy), np.nan)


def length_r2_gap(
    lr_a: np.ndarray, len_a: np.ndarray, lr_b: np.ndarray, len_b: np.ndarray, boot: Boot
) -> Estimate:
    """Mean over matched checkpoints of length R^2 at ``a`` minus at ``b``.

    Each: (replicates, prompts, checkpoints) of log pi/ref and length, the checkpoints matched.
    """
    k = lr_a.shape[2]

    def gap(values: np.ndarray) -> float:
        r2 = _r2(values[..., 0], values[..., 1])  # (replicates, 2k)
        return float(np.nanmean(r2[:, :k] - r2[:, k:]))

    a = np.stack([lr_a, len_a], axis=-1)
    b = np.stack([lr_b, len_b], axis=-1)
    return estimate(np.concatenate([a, b], axis=2), gap, boot)


def length_r2_trend(logratio: np.ndarray, length: np.ndarray, d: np.ndarray, boot: Boot) -> Estimate:
    """Spearman correlation over checkpoints of length R^2 with sqrt(KL), per replicate, averaged.

    ``d``: (replicates, checkpoints).
    """
    from scipy import stats

    def rho(values: np.ndarray) -> float:
        r2 = _r2(values[..., 0], values[..., 1])
        dd = values[:, 0, :, 2]
        return float(np.mean([stats.spearmanr(dd[k], r2[k]).statistic for k in range(len(r2))]))

    values = np.stack([logratio, length, _constant(d, logratio.shape[1])], axis=-1)
    return estimate(values, rho, boot)


def fitted_coefficient(win: np.ndarray, d: np.ndarray, which: int, boot: Boot) -> Estimate:
    """Coefficient ``which`` (0: alpha, 1: beta) of the RL form fitted as a gain over SFT (first
    point) to each replicate's points, averaged over replicates."""

    def coef(values: np.ndarray) -> float:
        w, dd = values[..., 0].mean(axis=1), values[:, 0, :, 1]
        return float(np.mean([_coef(basis("rl", dd[r]), w[r] - w[r, 0])[which] for r in range(len(w))]))

    return estimate(_with_d(win, d), coef, boot)
