"""The selection-proof rise: flat noisy curves do not rise; a rise of the study's size is found."""

from __future__ import annotations

import numpy as np

from overopt.analysis.selection import held_out_peak

K, N = 15, 512  # checkpoints of a (size, objective) pair; evaluation prompts
SD = 0.23  # per-prompt sd of a checkpoint's paired gain over SFT in the default study


def curves(rng: np.random.Generator, rise: float, replicates: int = 1) -> np.ndarray:
    """(replicates, prompts, checkpoints) paired gains: a prompt effect shared by the checkpoints,
    per-checkpoint noise, and a hump peaking at ``rise`` at checkpoint 5."""
    hump = rise * np.clip(1 - np.abs(np.arange(K) - 5) / 5, 0, None)
    shared = rng.normal(0, SD * 0.6, (replicates, N, 1))
    return hump + shared + rng.normal(0, SD * 0.8, (replicates, N, K))


def test_flat_curves_of_pure_noise_do_not_rise():
    rng = np.random.default_rng(0)
    rises = [held_out_peak(curves(rng, 0.0), 200, 0.95, s).rises for s in range(200)]
    assert np.mean(rises) <= 0.10
    # the naive test (best checkpoint, its own CI) would have risen far more often
    naive = []
    for _ in range(200):
        g = curves(rng, 0.0)[0]
        best = int(np.argmax(g.mean(axis=0)))
        naive.append(g[:, best].mean() - 1.96 * g[:, best].std(ddof=1) / np.sqrt(N) > 0)
    assert np.mean(naive) > 2 * max(np.mean(rises), 0.02)


def test_a_rise_of_the_studys_size_is_found():
    # the default study's best gains are +0.02 to +0.06 (README), most at +0.04 to +0.06
    rng = np.random.default_rng(1)
    found = [held_out_peak(curves(rng, 0.05), 200, 0.95, s).rises for s in range(100)]
    assert np.mean(found) >= 0.9


def test_replicates_pool_into_one_test():
    rng = np.random.default_rng(2)
    res = held_out_peak(curves(rng, 0.05, replicates=3), 200, 0.95, 0)
    assert res.rises and abs(res.peak - 5) <= 2
