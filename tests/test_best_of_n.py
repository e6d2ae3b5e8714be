"""Best-of-n estimators against brute-force enumeration, and the matched-KL comparison."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from overopt.evaluate import best_of_n_estimators as B


def brute_force_best(values: np.ndarray, scores: np.ndarray, n: int) -> float:
    """Mean over every n-subset of the value of its highest-scoring member (ties: their mean)."""
    out = []
    for subset in itertools.combinations(range(len(values)), n):
        top = max(scores[i] for i in subset)
        out.append(np.mean([values[i] for i in subset if scores[i] == top]))
    return float(np.mean(out))


def brute_force_bon_distribution(q: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """The best-of-n distribution over outcomes, by enumerating every ordered n-tuple of draws."""
    p = np.zeros(len(q))
    for draw in itertools.product(range(len(q)), repeat=n):
        prob = math.prod(q[i] for i in draw)
        top = max(scores[i] for i in draw)
        winners = [i for i in draw if scores[i] == top]
        for i in winners:  # ties: each tied draw equally likely
            p[i] += prob / len(winners)
    return p


def test_ns_doubles_up_to_n_max() -> None:
    assert B.ns(64) == [1, 2, 4, 8, 16, 32, 64]
    assert B.ns(1) == [1]
    assert B.ns(12) == [1, 2, 4, 8, 12]
    with pytest.raises(ValueError, match="n_max"):
        B.ns(0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_order_statistics_estimator_equals_every_subset_enumerated(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.random(9)
    scores = rng.integers(0, 5, 9).astype(float)  # ties on purpose
    for n in range(1, 10):
        assert B.expected_best(values, scores, n) == pytest.approx(
            brute_force_best(values, scores, n), abs=1e-12
        )


def test_best_of_one_is_the_mean_and_best_of_all_is_the_top() -> None:
    values, scores = np.array([0.1, 0.9, 0.5, 0.3]), np.array([3.0, 1.0, 2.0, 0.0])
    assert B.expected_best(values, scores, 1) == pytest.approx(values.mean())
    assert B.expected_best(values, scores, 4) == pytest.approx(0.1)


def test_exact_kl_is_the_kl_of_the_enumerated_best_of_n_distribution() -> None:
    q = np.array([3, 2, 1, 1]) / 7  # as samples: outcome i seen 7 q_i times
    scores = np.array([0.5, 2.0, 1.0, 1.0])  # outcomes 2 and 3 tie
    outcomes = [i for i, k in enumerate([3, 2, 1, 1]) for _ in range(k)]
    for n in (1, 2, 3, 4):
        p = brute_force_bon_distribution(q, scores, n)
        want = float(np.sum(p[p > 0] * np.log(p[p > 0] / q[p > 0])))
        assert B.kl_exact(outcomes, scores[outcomes], n) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("n", [2, 4, 8, 32])
def test_exact_kl_never_exceeds_the_analytic_bound_and_approaches_it(n: int) -> None:
    """A tiny discrete policy: k equally likely distinct outcomes, then a skewed one."""
    bound = B.kl_analytic(n)
    gaps = []
    for k in (2, 4, 16, 64, 256):
        kl = B.kl_exact(list(range(k)), np.arange(k, dtype=float), n)
        assert kl <= bound + 1e-12
        gaps.append(bound - kl)
    assert all(a > b for a, b in itertools.pairwise(gaps))  # shrinks with the largest probability
    assert gaps[-1] < 0.05 * bound
    skewed = [0] * 50 + list(range(1, 51))  # one outcome holds half the mass
    assert B.kl_exact(skewed, np.array(skewed, dtype=float), n) < bound


def test_identical_outcomes_must_have_one_score() -> None:
    with pytest.raises(ValueError, match="two scores"):
        B.kl_exact([0, 0, 1], np.array([1.0, 2.0, 3.0]), 2)


def test_policies_are_named_by_selector_and_n() -> None:
    assert B.policies(4) == [
        "bon_proxy/n-1",
        "bon_proxy/n-2",
        "bon_proxy/n-4",
        "bon_gold/n-1",
        "bon_gold/n-2",
        "bon_gold/n-4",
    ]


def _envelope(daa_wins: list[float], replicates: int = 1) -> float:
    """D of ``best_vs_envelope`` for checkpoints at d = 0.5 and 3 with mean wins ``daa_wins`` above a
    shared prompt base, against a baseline at d = 0, 1, 2 with wins +0, +0.2, +0.3 (no noise)."""
    from overopt.analysis import criteria as C

    base = np.random.default_rng(0).random(400) * 0.5
    curve = np.stack([base, base + 0.2, base + 0.3], axis=-1)
    daa = np.stack([base + w for w in daa_wins], axis=-1)
    reps = lambda x: np.repeat(x[None], replicates, axis=0)  # noqa: E731
    d, base_d = np.array([[0.5, 3.0]] * replicates), np.array([[0.0, 1.0, 2.0]] * replicates)
    return C.best_vs_envelope(reps(daa), d, reps(curve), base_d, (50, 0.95, 0)).value


@pytest.mark.parametrize("replicates", [1, 3])
def test_the_best_checkpoint_meets_the_baselines_best_within_its_kl(replicates: int) -> None:
    """The best checkpoint at d = 0.5 meets the baseline's best up to its first point at or beyond
    0.5 (d = 1: +0.2); the best at d = 3, beyond the baseline's reach, meets its best point (+0.3)."""
    assert _envelope([0.35, 0.1], replicates) == pytest.approx(0.35 - 0.2)
    assert _envelope([0.1, 0.9], replicates) == pytest.approx(0.9 - 0.3)
    assert _envelope([0.05, -0.2], replicates) == pytest.approx(0.05 - 0.2)  # the baseline wins: D < 0
