"""The held-out "best", on simulated replicated studies with the default study's variance
components (``overopt.analysis.simulate``): chosen on other replicates and prompts, it carries no
seed luck; chosen on other prompts alone, it does."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from overopt.analysis import criteria as C
from overopt.analysis.selection import held_out_gain, with_folds
from overopt.analysis.simulate import (
    DEFAULT_STUDY,
    PROMPTS,
    SCENARIOS,
    TARGET_POWER,
    Components,
    K,
    measure,
    minimum_effect,
    power,
    rise_power,
    study,
)


def test_measure_recovers_the_components_it_simulates() -> None:
    rng = np.random.default_rng(0)
    got = [asdict(measure(study(DEFAULT_STUDY, np.zeros(K + 1), 3, PROMPTS, rng))) for _ in range(30)]
    for name, true in asdict(DEFAULT_STUDY).items():
        mean = float(np.mean([g[name] for g in got]))
        assert mean == pytest.approx(true, rel=0.15), (name, mean, true)


@pytest.mark.parametrize("seed_sd", [0.02, 0.04])
def test_the_choice_across_replicates_removes_the_seed_bias_the_prompt_split_leaves(seed_sd: float) -> None:
    """Flat truth, seed-level checkpoint noise: the gain of the best chosen on other replicates
    averages 0; chosen on the other half of the same replicates' prompts (every replicate given
    one identity: the former method), it is biased upward by about the seed SD."""
    c = Components(**{**asdict(DEFAULT_STUDY), "seed": seed_sd})
    rng = np.random.default_rng(1)
    new, old = [], []
    for i in range(150):
        w = study(c, np.zeros(K + 1), 3, PROMPTS, rng)
        values = with_folds(w[..., 1:] - w[..., :1], i)
        new.append(held_out_gain(values))
        values[..., -1] = 0.0
        old.append(held_out_gain(values))
    se = float(np.std(new, ddof=1) / np.sqrt(len(new)))
    assert abs(float(np.mean(new))) < 3 * se
    assert float(np.mean(old)) > 0.6 * seed_sd > 3 * se


def test_false_rises_stay_within_a_point_of_nominal() -> None:
    """The rise's CI excludes 0 from above in at most 3.5% of flat studies (nominal 2.5%)."""
    rng = np.random.default_rng(2)
    rises = []
    for i in range(120):
        w = study(DEFAULT_STUDY, np.zeros(K + 1), 3, PROMPTS, rng)
        rises.append(C.rise(w[..., 1:], w[..., 0], (60, 0.95, i)).low > 0)
    assert float(np.mean(rises)) <= 0.035


def test_the_seed_part_of_the_error_is_the_statistics_own() -> None:
    """The rise's standard error matches the spread of the estimate over flat studies (its
    replicate part from the R held-out replicate values, not from resampling replicates, which
    inflated it by about half at R = 3) and the interval has R - 1 degrees of freedom."""
    rng = np.random.default_rng(5)
    found = []
    for i in range(100):
        w = study(DEFAULT_STUDY, np.zeros(K + 1), 3, PROMPTS, rng)
        found.append(C.rise(w[..., 1:], w[..., 0], (40, 0.95, i)))
    spread = float(np.std([e.value for e in found], ddof=1))
    ratio = float(np.mean([e.se for e in found])) / spread
    assert 0.7 <= ratio <= 1.2, ratio
    assert all(e.df == 2 for e in found)


def test_a_rise_is_found_more_often_with_more_replicates() -> None:
    """Power (``simulate.rise_power``, reported in the README for the study's effect sizes) grows
    with the replicates: a rise of 0.05 with the study's measured noise is found in some studies
    of 3 replicates and clearly more often with 6."""
    power = {r: rise_power(DEFAULT_STUDY, 0.05, r, studies=20, n_boot=60, seed=3) for r in (3, 6)}
    assert power[3] >= 0.1 and power[6] > power[3] + 0.2, power


def test_one_replicate_falls_back_to_the_prompt_split() -> None:
    rng = np.random.default_rng(4)
    w = study(DEFAULT_STUDY, np.zeros(K + 1), 1, PROMPTS, rng)
    values = with_folds(w[..., 1:] - w[..., :1], 0)
    gains, half = values[0, :, :-2], values[0, :, -2]
    by_hand = np.mean(
        [gains[half == h][:, int(np.argmax(gains[half != h].mean(axis=0)))].mean() for h in (0.0, 1.0)]
    )
    assert held_out_gain(values) == pytest.approx(float(by_hand), abs=1e-12)


def test_the_minimum_detectable_effect_is_where_power_reaches_eighty_percent() -> None:
    """``minimum_effect`` (the README's per-finding table): power at the returned effect is at least
    80% and one grid step below it is not, on the same draws; more replicates detect less."""
    scenario, step = SCENARIOS["D (best checkpoint minus envelope)"], 0.02
    kw = {"studies": 30, "n_boot": 40, "seed": 9}
    mde = {r: minimum_effect(scenario, DEFAULT_STUDY, r, step=step, upper=0.4, **kw) for r in (3, 8)}
    assert power(scenario, DEFAULT_STUDY, mde[3], 3, **kw) >= TARGET_POWER
    assert power(scenario, DEFAULT_STUDY, mde[3] - step, 3, **kw) < TARGET_POWER
    assert 0 < mde[8] < mde[3] < 0.4, mde
