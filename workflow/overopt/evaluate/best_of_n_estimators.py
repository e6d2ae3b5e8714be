"""Best-of-n from a size's SFT policy: the classical over-optimisation curve beside the DAAs.

``n_max`` completions per evaluation prompt are sampled from the SFT policy (the evaluation's
sampling settings, a seed of their own) and scored twice: by the size's proxy reward model and
by the judge (the exact gold judge on the synthetic task). For n = 1, 2, 4, ..., n_max, two
selectors pick the best of n samples: ``bon_proxy`` by the proxy reward, ``bon_gold`` by the
judge's own win probability (the oracle envelope: no selector of n samples does better).

Win rate: per prompt, the expected judge win probability of the selected sample over all
n-subsets of the n_max samples (the unbiased order-statistics estimator, not one draw):
sorted by score, the i-th smallest of N is the best of a random n-subset with probability
C(i-1, n-1) / C(N, n). Samples with equal scores form one group whose members are equally
likely to be picked.

KL(best-of-n || SFT), two ways:

- ``kl``: the analytic log n - (n - 1)/n, exact when samples cannot tie and an upper bound
  otherwise (identical summaries do tie here);
- ``kl_exact``: the exact KL of the best-of-n policy of the empirical distribution of the N
  samples, whose distinct outcomes (token ids) have probabilities q: ordered by score, with
  equal-score outcomes merged into one class, class c gets F(c)^n - F(c-)^n where F is the
  cumulative q, and KL = sum_c P(c) log(P(c) / Q(c)). ``sqrt_kl`` is built from it, as for
  the other policies.

Each (selector, n) is written as a policy (``bon_proxy/n-4``) with per-prompt rows and metrics,
so the evaluations table, the fits and the paired gains over SFT treat it as they treat a
checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

SELECTORS = ("proxy", "gold")


def objective(selector: str) -> str:
    """The evaluations table's objective name of a selector."""
    return f"bon_{selector}"


OBJECTIVES = tuple(objective(s) for s in SELECTORS)


def ns(n_max: int) -> list[int]:
    """1, 2, 4, ... up to ``n_max`` (which is included even if not a power of two)."""
    if n_max < 1:
        raise ValueError(f"best_of_n.n_max must be at least 1, got {n_max}")
    out = [2**k for k in range(int(math.log2(n_max)) + 1) if 2**k <= n_max]
    return out if out[-1] == n_max else [*out, n_max]


def policy_name(selector: str, n: int) -> str:
    """``bon_proxy/n-4``: the policy's name and its directory under results/eval/<size>/."""
    return f"{objective(selector)}/n-{n}"


def policies(n_max: int) -> list[str]:
    """Every best-of-n policy of a size, in table order (selector, then n)."""
    return [policy_name(s, n) for s in SELECTORS for n in ns(n_max)]


def kl_analytic(n: int) -> float:
    """log n - (n - 1)/n: the KL of best-of-n from a distribution without ties."""
    return math.log(n) - (n - 1) / n


def _groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct score values ascending, and each sample's group index."""
    values, inverse = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    return values, inverse


def group_win_probs(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """P(the best of a random n-subset lies in score group g), and the group of each sample.

    Without replacement: P(max in groups <= g) = C(#{score <= g}, n) / C(N, n).
    """
    scores = np.asarray(scores, dtype=np.float64)
    big_n = len(scores)
    if not 1 <= n <= big_n:
        raise ValueError(f"best of n={n} needs 1 <= n <= {big_n} samples")
    _, inverse = _groups(scores)
    counts = np.bincount(inverse)
    below_or_at = np.cumsum(counts)
    total = math.comb(big_n, n)
    cdf = np.array([math.comb(int(k), n) / total for k in below_or_at])
    return np.diff(cdf, prepend=0.0), inverse


def expected_best(values: np.ndarray, scores: np.ndarray, n: int) -> float:
    """E[value of the highest-scoring sample among n drawn without replacement] (ties: uniform)."""
    return _expected(values, *group_win_probs(scores, n))


def _expected(values: np.ndarray, probs: np.ndarray, inverse: np.ndarray) -> float:
    """The mean value of each score group, weighted by its probability of holding the best."""
    values = np.asarray(values, dtype=np.float64)
    group_means = np.bincount(inverse, weights=values) / np.bincount(inverse)
    return float(np.dot(probs, group_means))


def kl_exact(outcomes: Sequence[Any], scores: np.ndarray, n: int) -> float:
    """KL(best-of-n of the empirical distribution || the empirical distribution) over distinct outcomes.

    ``outcomes``: a hashable identity per sample (its token ids); identical outcomes must have
    identical scores. Best-of-n draws with replacement from the empirical distribution.
    """
    scores = np.asarray(scores, dtype=np.float64)
    first: dict[Any, float] = {}
    for o, s in zip(outcomes, scores, strict=True):
        if first.setdefault(o, s) != s:
            raise ValueError(f"outcome {o!r} has two scores ({first[o]} and {s})")
    values, inverse = _groups(scores)
    q = np.bincount(inverse, minlength=len(values)) / len(scores)
    cdf = np.cumsum(q)
    p = cdf**n - np.concatenate([[0.0], cdf[:-1]]) ** n
    keep = p > 0
    return float(np.sum(p[keep] * np.log(p[keep] / q[keep])))


def per_prompt(
    win: np.ndarray,
    gold_reward: np.ndarray,
    n_tokens: np.ndarray,
    finished: np.ndarray,
    outcomes: Sequence[Any],
    scores: np.ndarray,
    n: int,
) -> dict[str, float]:
    """One prompt's best-of-n row for a selector's ``scores``."""
    probs, inverse = group_win_probs(scores, n)  # shared by every value of the selected sample
    return {
        "judge_prob_win": _expected(win, probs, inverse),
        "gold_reward": _expected(gold_reward, probs, inverse),
        "n_tokens": _expected(n_tokens, probs, inverse),
        "finished": _expected(finished, probs, inverse),
        "kl": kl_analytic(n),
        "kl_exact": kl_exact(outcomes, scores, n),
    }
