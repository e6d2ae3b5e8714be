"""Coverage of the two-level CI of every statistic a verdict rests on, on simulated replicated
studies built from the default study's variance components (``overopt.analysis.simulate``), each
in a study where the statistic's true value is 0. The README reports the same rates over 400
studies per statistic (``python -m overopt.analysis.simulate --rates 400``)."""

from __future__ import annotations

import pytest

from overopt.analysis.simulate import DEFAULT_STUDY, SCENARIOS, null_rates


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_ci_covers_the_true_value_at_least_at_its_level(name: str) -> None:
    """60 studies (the README's rates use 400): a coverage of 95% is observed at 0.90 or more with
    probability about 0.97, and a false claim's rate of 2.5% at 0.05 or less about as often."""
    rates = null_rates(SCENARIOS[name], DEFAULT_STUDY, studies=60, n_boot=100, seed=7)
    assert rates.coverage >= 0.90, rates
    assert max(rates.above, rates.below) <= 0.05, rates  # a false claim on either side
