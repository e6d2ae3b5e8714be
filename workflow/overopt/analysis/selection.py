"""A rise that survives choosing the best checkpoint: the peak is chosen on one half of the
prompts and its gain measured on the other.

The best of K checkpoints' gains over SFT, tested with the CI of one checkpoint, is biased
upward by the choice: with 15 flat, noisy checkpoints it "rises" far more often than the CI's
2.5%. Cross-fitting removes the bias. The prompts are split in two halves (a seeded permutation);
the peak is the checkpoint with the largest mean gain on one half (over all replicates), its gain
is measured on the other half, and the two held-out gains are averaged. The CI resamples
replicates and prompts (``overopt.analysis.two_level``), each prompt keeping its half, and
redoes the choice in every resample. The rise holds when the CI lies above 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from overopt.analysis.two_level import two_level


@dataclass(frozen=True)
class HeldOutPeak:
    """The cross-fitted gain of the chosen peak checkpoint, with its CI."""

    gain: float
    low: float
    high: float
    peak: int  # the checkpoint chosen on all prompts (reported, not tested)

    @property
    def rises(self) -> bool:
        return self.low > 0.0


def held_out_gain(values: np.ndarray) -> float:
    """values: (replicates, prompts, K + 1), the last column each prompt's half (0 or 1)."""
    gains, half = values[..., :-1], values[0, :, -1]
    out = []
    for choose, measure in ((half == 0, half == 1), (half == 1, half == 0)):
        if not choose.any() or not measure.any():
            return float("nan")
        peak = int(np.argmax(gains[:, choose].mean(axis=(0, 1))))
        out.append(gains[:, measure, peak].mean())
    return float(np.mean(out))


def with_halves(gains: np.ndarray, seed: int) -> np.ndarray:
    """``gains`` (replicates, prompts, checkpoints) with each prompt's half (a seeded split) appended
    as a last column: the values ``held_out_gain`` reads."""
    gains = np.asarray(gains, dtype=np.float64)
    r, n, _ = gains.shape
    half = np.zeros(n)
    half[np.random.default_rng(seed).permutation(n)[: n // 2]] = 1.0
    return np.concatenate([gains, np.broadcast_to(half[None, :, None], (r, n, 1))], axis=2)


def held_out_peak(gains: np.ndarray, n_boot: int, ci: float, seed: int) -> HeldOutPeak:
    """``gains``: paired gains over SFT shaped (replicates, prompts, checkpoints)."""
    gains = np.asarray(gains, dtype=np.float64)
    values = with_halves(gains, seed)
    res = two_level(values, n_boot, ci, seed + 1, statistic=held_out_gain)
    peak = int(np.argmax(gains.mean(axis=(0, 1))))
    return HeldOutPeak(res.estimate, res.low, res.high, peak)
