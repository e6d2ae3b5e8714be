"""The two-level (replicates x prompts) bootstrap: coverage on simulated data of known variances."""

from __future__ import annotations

import numpy as np
import pytest

from overopt.analysis.two_level import two_level
from overopt.core.bootstrap import mean_ci

# (seed-to-seed sd, sd of the prompts' common effect, per-sample noise sd): the study's scale
# (seeds ~0.035 apart in win rate, per-prompt win probabilities ~0.3 around their mean) and the
# regimes around it, from seed-dominated to prompt-dominated
REGIMES = [(0.035, 0.0, 0.3), (0.035, 0.15, 0.25), (0.0, 0.0, 0.3), (0.0, 0.15, 0.25), (0.01, 0.1, 0.3)]


def simulate(rng: np.random.Generator, r: int, n: int, sd_seed: float, sd_prompt: float, sd_noise: float):
    """Replicates x prompts values around a true mean of 0: seed effects, prompt effects, noise."""
    return rng.normal(0, sd_seed, (r, 1)) + rng.normal(0, sd_prompt, (1, n)) + rng.normal(0, sd_noise, (r, n))


@pytest.mark.parametrize("regime", REGIMES)
def test_the_95_percent_interval_covers_the_true_mean_90_to_99_percent(regime):
    rng = np.random.default_rng(7)
    hits = 0
    n_sets = 300
    for s in range(n_sets):
        ci = two_level(simulate(rng, 3, 256, *regime), 200, 0.95, s)
        hits += ci.low <= 0.0 <= ci.high
    assert 0.90 <= hits / n_sets <= 0.99


def test_a_percentile_interval_over_both_levels_at_once_would_not_cover():
    # what the two-level form is for: resampling replicates and prompts together, with 3
    # replicates and seed-to-seed spread, misses the true mean far more than 5% of the time
    rng = np.random.default_rng(3)
    hits = 0
    for s in range(200):
        values = simulate(rng, 3, 256, 0.05, 0.0, 0.3)
        boot = np.random.default_rng(s)
        reps, prompts = boot.integers(0, 3, (200, 3)), boot.integers(0, 256, (200, 256))
        means = [values[r][:, p].mean() for r, p in zip(reps, prompts, strict=True)]
        lo, hi = np.quantile(means, [0.025, 0.975])
        hits += lo <= 0.0 <= hi
    assert hits / 200 < 0.85


def test_one_replicate_is_the_prompt_bootstrap():
    values = np.random.default_rng(1).normal(0.5, 0.3, (1, 300))
    ci = two_level(values, 500, 0.95, 4)
    assert (ci.low, ci.high) == pytest.approx(mean_ci(values[0], 500, 0.95, 4))
    assert ci.se_replicates == 0.0 and ci.df == float("inf")


def test_the_seed_spread_dominates_when_seeds_differ():
    values = simulate(np.random.default_rng(2), 3, 512, 0.05, 0.0, 0.3)
    ci = two_level(values, 300, 0.95, 0)
    assert ci.se_replicates > 2 * ci.se_prompts
    assert ci.df < 3  # about R - 1: a t interval with few degrees of freedom
