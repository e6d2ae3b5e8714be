"""What every finding is made of: cases, criteria, the verdict rule, the study's ``Tables`` and the
registry (``@finding``), with the thresholds the criteria use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

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


@dataclass(frozen=True)
class Case:
    """One case of a finding: its labels, its pooled statistic, whether it holds and is robust."""

    labels: tuple[str, ...]
    estimate: Estimate | None
    holds: bool | None  # None: not testable (e.g. outside the observed sqrt(KL) range)
    robust: bool | None = None


def case(labels: Sequence[str], est: Estimate | None, test: Callable[[float, float, float], bool]) -> Case:
    """A case whose statistic holds when ``test(value, low, high)``; robust when every replicate's
    own value passes ``test(v, v, v)`` too."""
    if est is None or not all(math.isfinite(x) for x in (est.value, est.low, est.high)):
        return Case(tuple(labels), est, None)
    holds = bool(test(est.value, est.low, est.high))
    robust = holds and all(math.isfinite(v) and test(v, v, v) for v in est.per_replicate)
    return Case(tuple(labels), est, holds, bool(robust))


def above(threshold: float = 0.0) -> Callable[[float, float, float], bool]:
    return lambda _v, low, _high: low > threshold


def below(threshold: float = 0.0) -> Callable[[float, float, float], bool]:
    return lambda _v, _low, high: high < threshold


def within(low_bound: float, high_bound: float) -> Callable[[float, float, float], bool]:
    return lambda _v, low, high: low > low_bound and high < high_bound


def verdict(cases: Iterable[Case | bool]) -> str:
    """The one rule: reproduced if every testable case holds, partly if some, not reproduced if none."""
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
    """A case that holds when ``first`` and ``second`` both do (untestable if either is), robust
    when both are; ``est`` the statistic it shows."""
    holds = None if None in (first.holds, second.holds) else bool(first.holds and second.holds)
    return Case(tuple(labels), est, holds, bool(first.robust and second.robust))


def not_tested(number: str, claim: str, why: str = "no per-prompt samples") -> Finding:
    return Finding(number, claim, why, NOT_TESTED, "not tested")
