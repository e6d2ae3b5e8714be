"""A "best" that survives being chosen: cross-fitted over replicates and prompts.

The best of K checkpoints, tested with the CI made for one, is biased upward by the choice: with
flat, noisy checkpoints it "rises" far more often than the CI's 2.5%. Two kinds of luck ride on a
checkpoint: its prompts' (which prompts it happened to do well on) and its seed's (a replicate's
checkpoint is one draw of its training run). Choosing on half of the prompts and measuring on
the other half removes the first, not the second: the seed's luck lies in both halves.

So the best is chosen on other replicates *and* other prompts, and measured on the held-out
replicate. The prompts are split in two halves (a seeded permutation); for every replicate r and
half h, the best is the column with the largest mean over the replicates other than r on the
other half, and its value is read in replicate r on half h. The statistic averages the 2R cells.
With one replicate only the prompts are held out: the choice is then selection-proof across
prompts, not across seeds (``across_seeds``). Every array these statistics read carries two
extra columns, constant over prompts where they must be: each prompt's half and each replicate's
identity, so that the two-level bootstrap (``overopt.analysis.two_level``) keeps a prompt's half
and knows which resampled replicates are copies of one another (a copy is never "another
replicate"; a resample made of one replicate's copies falls back to the prompts alone).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EXTRA = 2  # trailing columns: each prompt's half, each replicate's identity
# a cell's value from (columns, held-out replicate r, each column's mean over the replicates and
# prompts the choice is made on, each column's mean over replicate r's held-out prompts)
Cell = Callable[[np.ndarray, int, np.ndarray, np.ndarray], float]


def with_folds(columns: np.ndarray, seed: int) -> np.ndarray:
    """``columns`` (replicates, prompts, K) with each prompt's half (a seeded split) and each
    replicate's identity appended as the last two columns."""
    columns = np.asarray(columns, dtype=np.float64)
    r, n, _ = columns.shape
    half = np.zeros(n)
    half[np.random.default_rng(seed).permutation(n)[: n // 2]] = 1.0
    rep = np.broadcast_to(np.arange(r, dtype=np.float64)[:, None, None], (r, n, 1))
    return np.concatenate([columns, np.broadcast_to(half[None, :, None], (r, n, 1)), rep], axis=2)


def across_seeds(replicates: int) -> bool:
    """Whether a held-out choice is selection-proof across seeds as well as prompts."""
    return replicates > 1


def describe(replicates: int) -> str:
    """How a "best" is chosen and measured in a study of ``replicates`` (for the findings' text)."""
    if across_seeds(replicates):
        return (
            "chosen on the other replicates and the other half of the prompts and measured on the "
            "held-out replicate and half, cross-fitted: selection-proof across seeds and prompts"
        )
    return (
        "chosen on one half of the prompts and measured on the other, cross-fitted: with one replicate, "
        "selection-proof across prompts only, not across seeds"
    )


def held_out_cells(values: np.ndarray, cell: Cell) -> np.ndarray:
    """Each replicate's value: the mean of ``cell`` over its two cross-fitting cells of ``values``
    (``with_folds`` layout). For replicate r and half h, the choice is made on the replicates other
    than r (a resample of one replicate's copies: on r itself) and the other half, and measured on r
    and h. nan if a half is empty. A column's mean over replicates and prompts is the mean of its
    per-replicate means (every replicate has the same prompts), so each half is summed once."""
    columns = values[..., :-EXTRA]
    half, rep = values[0, :, -2], values[:, 0, -1]
    masks = (half == 0.0, half == 1.0)
    if not all(m.any() for m in masks):
        return np.full(columns.shape[0], np.nan)
    means = [columns[:, m].mean(axis=1) for m in masks]  # each (replicates, K)
    out = np.empty(columns.shape[0])
    for r in range(columns.shape[0]):
        others = rep != rep[r]
        if not others.any():
            others = np.ones_like(others)
        out[r] = np.mean([cell(columns, r, means[1 - h][others].mean(axis=0), means[h][r]) for h in (0, 1)])
    return out


def held_out(values: np.ndarray, cell: Cell) -> float:
    """The cross-fitted statistic: the mean of the replicates' ``held_out_cells``."""
    return float(np.mean(held_out_cells(values, cell)))


def held_out_gain(values: np.ndarray) -> float:
    """values: (replicates, prompts, K + 2) gains in ``with_folds`` layout; the best column's
    gain, chosen on other replicates and prompts, measured on the held-out ones."""
    return held_out(values, _gain_cell)


def held_out_gain_cells(values: np.ndarray) -> np.ndarray:
    """``held_out_gain``'s value in each replicate (its two cells' mean)."""
    return held_out_cells(values, _gain_cell)


def _gain_cell(_columns: np.ndarray, _r: int, chosen: np.ndarray, measured: np.ndarray) -> float:
    return float(measured[int(np.argmax(chosen))])


def best(columns: np.ndarray, others: np.ndarray) -> int:
    """The column with the largest mean over the ``others`` replicates (all prompts)."""
    return int(np.argmax(columns[others].mean(axis=(0, 1))))
