"""What every finding is made of: cases, criteria, the verdict rule, the study's ``Tables`` and the
registry (``@finding``), with the thresholds the criteria use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from overopt.analysis import criteria as C
from overopt.analysis.criteria import Estimate
from overopt.analysis.per_prompt import Pooled
from overopt.analysis.tables import (
    main_objectives,
    size_order,
)
from overopt.core.objectives import Specs
from overopt.core.registry import Registry
from overopt.core.runtime import derive_seed
from overopt.core.verdicts import NOT_TESTED, graded

R_SMALL = 0.3  # |Pearson r| below this counts as "little correlation" (finding 5)
EARLY = 0.5  # an epoch fraction at or below this is an early checkpoint (finding 2)
MATCHED_D = (0.5, 1.0)  # sqrt(KL) at which fitted curves are compared (finding 3)
PAPER_RATIO = 0.5  # the paper's RMSE ratio of the RL form to the quadratic (about half)


FAMILY_ALPHA = 0.05  # Holm's family-wise level, two-sided (0.025 on the claimed side, as one 95% CI)


@dataclass(frozen=True)
class Case:
    """One case of a finding: its labels, its pooled statistic, its one-sided p-value against the
    claimed side, whether its CI alone lies on that side (``ci``) and whether it holds: after
    ``holm`` over the finding's family, the family-wise decision (before, the CI's)."""

    labels: tuple[str, ...]
    estimate: Estimate | None
    holds: bool | None  # None: not testable (e.g. outside the observed sqrt(KL) range)
    p: float | None = None
    ci: bool | None = None
    adjusted: bool = False


@dataclass(frozen=True)
class Side:
    """The claimed side of a threshold (``above``, ``below``) or a band (``within``): a test of a
    CI and the one-sided p-value of the statistic against it (the t distribution the CI was made
    from; the larger of the two for a band, an intersection-union test)."""

    low_bound: float = -math.inf
    high_bound: float = math.inf

    def __call__(self, _value: float, low: float, high: float) -> bool:
        return bool(low > self.low_bound and high < self.high_bound)

    def p(self, est: Estimate) -> float:
        """One-sided p against the claimed side: from the t distribution of the CI, or with one
        replicate from the prompt bootstrap's draws (the share on the wrong side, as its percentile
        CI reads them); the larger of the two sides for a band."""
        from scipy import stats

        def tail(bound: float, upper: bool) -> float:  # P(statistic on the wrong side of bound)
            if est.draws is not None:
                draws = est.draws[np.isfinite(est.draws)]
                return float(np.mean(draws >= bound if upper else draws <= bound)) if len(draws) else 1.0
            if not est.se > 0:
                return float(est.value >= bound if upper else est.value <= bound)
            z = (bound - est.value) / est.se if upper else (est.value - bound) / est.se
            return float(stats.t.sf(z, est.df)) if math.isfinite(est.df) else float(stats.norm.sf(z))

        ps = [0.0]
        if math.isfinite(self.low_bound):
            ps.append(tail(self.low_bound, upper=False))
        if math.isfinite(self.high_bound):
            ps.append(tail(self.high_bound, upper=True))
        return max(ps)


def case(labels: Sequence[str], est: Estimate | None, test: Side) -> Case:
    """A case whose statistic holds when its CI lies on ``test``'s side (until ``holm`` adjusts)."""
    if est is None or not all(math.isfinite(x) for x in (est.value, est.low, est.high)):
        return Case(tuple(labels), est, None)
    holds = test(est.value, est.low, est.high)
    return Case(tuple(labels), est, holds, test.p(est), holds)


def above(threshold: float = 0.0) -> Side:
    return Side(low_bound=threshold)


def below(threshold: float = 0.0) -> Side:
    return Side(high_bound=threshold)


def within(low_bound: float, high_bound: float) -> Side:
    return Side(low_bound, high_bound)


def holm(cases: Sequence[Case], alpha: float = FAMILY_ALPHA) -> list[Case]:
    """The family's cases with ``holds`` decided by Holm's step-down rule at family-wise level
    ``alpha`` (two-sided; alpha / 2 on the claimed side): sorted by p, the i-th smallest of m
    testable cases holds while every p up to it is below (alpha / 2) / (m - i + 1). A case holds
    only if its CI lies on the claimed side too. Untestable cases stay untestable."""
    tested = sorted((c.p, i) for i, c in enumerate(cases) if c.holds is not None and c.p is not None)
    m, passed = len(tested), set()
    for rank, (p, i) in enumerate(tested):
        if not p < (alpha / 2) / (m - rank):
            break
        passed.add(i)
    return [
        replace(c, holds=None if c.holds is None else bool(i in passed and c.ci), adjusted=True)
        for i, c in enumerate(cases)
    ]


def holm_groups(groups: dict[str, list[Case]], alpha: float = FAMILY_ALPHA) -> dict[str, list[Case]]:
    """``holm`` over the union of a finding's sub-claims' cases (one family), regrouped."""
    flat = holm([c for v in groups.values() for c in v], alpha)
    out, i = {}, 0
    for key, v in groups.items():
        out[key], i = flat[i : i + len(v)], i + len(v)
    return out


def verdict(cases: Iterable[Case | bool]) -> str:
    """The one rule: reproduced if every testable case holds, partly if some, not reproduced if none.
    A finding's cases are first adjusted as one family (``holm``)."""
    flags = [c if isinstance(c, bool) else c.holds for c in cases]
    return graded([f for f in flags if f is not None])


@dataclass(frozen=True)
class Finding:
    """One finding: the claim, its null, statistic and criterion, the verdict and the numbers."""

    number: str
    claim: str
    criterion: str
    verdict: str
    summary: str
    body: list[str] = field(default_factory=list)
    null: str = ""
    statistic: str = ""
    cases: tuple[Case, ...] = ()


@dataclass(frozen=True)
class Tables:
    """What a finding reads.

    ``ev``: every replicate's evaluations (``replicate`` column); ``fits``: every replicate's fits;
    ``toy``: the toy MDP's findings; ``specs``: the config's objectives; ``pooled``: the per-prompt
    values of every policy in every replicate (``overopt.analysis.per_prompt``); ``reward_models``:
    the proxy reward models' table; ``bootstrap``: (resamples, CI level, seed).
    """

    ev: pd.DataFrame
    fits: pd.DataFrame | None
    toy: dict[str, Any] | None
    specs: Specs
    pooled: Pooled | None = None
    reward_models: pd.DataFrame | None = None
    bootstrap: tuple[int, float, int] = (1000, 0.95, 0)

    @cached_property
    def rates(self) -> dict[tuple[str, str], float]:
        """The DAA learning rate of each (size, objective) run, as the evaluations table gives it."""
        if "learning_rate" not in self.ev:
            return {}
        runs = self.ev.dropna(subset=["learning_rate"])
        return {
            (str(s), str(o)): float(r)
            for s, o, r in zip(runs["model_size"], runs["objective"], runs["learning_rate"], strict=True)
        }

    @cached_property
    def arms(self) -> tuple[str, ...]:
        """Objectives that set one learning rate for every size (compared with the sizes' own in
        finding 3)."""
        return tuple(name for name, o in self.specs.items() if o.arm)

    def boot(self, *labels: Any) -> C.Boot:
        """The bootstrap settings of one statistic, its seed derived from its labels."""
        n_boot, ci, seed = self.bootstrap
        return n_boot, ci, derive_seed(seed, *labels)

    @property
    def sizes(self) -> list[str]:
        return size_order(self.ev)

    @property
    def mains(self) -> list[str]:
        """The paper's comparison set: DAA objectives that are neither length-regularised nor arms."""
        return [o for o in main_objectives(self.ev, self.specs) if o not in self.arms]


FINDINGS: Registry[Callable[[Tables], Finding]] = Registry("finding")


def finding(
    name: str, order: float, **meta: Any
) -> Callable[[Callable[[Tables], Finding]], Callable[[Tables], Finding]]:
    """Decorator: register a finding; ``order`` places its section in the document (findings 1-6 are
    1-6), ``title`` optional (default ``Finding <name>``)."""
    return FINDINGS.register(name, order=order, **meta)


def both(labels: Sequence[str], first: Case, second: Case, est: Estimate | None = None) -> Case:
    """A case that holds when ``first`` and ``second`` both do (untestable if either is); its p
    is the larger of theirs (an intersection-union test); ``est`` the statistic it shows."""
    if None in (first.holds, second.holds):
        return Case(tuple(labels), est, None)
    holds = bool(first.holds and second.holds)
    return Case(tuple(labels), est, holds, max(first.p or 0.0, second.p or 0.0), holds)


def not_tested(number: str, claim: str, why: str = "no per-prompt samples") -> Finding:
    return Finding(number, claim, why, NOT_TESTED, "not tested")
