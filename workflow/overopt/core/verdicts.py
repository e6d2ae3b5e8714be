"""Verdicts on the paper's claims, one vocabulary for every finding (the sweep's and the toy MDP's).

A claim is split into cases; ``graded`` turns per-case outcomes into a verdict: *reproduced* when
the strict test holds in every case, *partly* when the lenient one holds in some, *not
reproduced* otherwise, and *not tested* when there is no case.
"""

from __future__ import annotations

from collections.abc import Sequence

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_TESTED = "reproduced", "partly", "not reproduced", "not tested"


def graded(strict: Sequence[bool], lenient: Sequence[bool] | None = None) -> str:
    """Reproduced if every ``strict`` case holds; partly if any ``lenient`` one does (default: ``strict``)."""
    lenient = strict if lenient is None else lenient
    if not strict:
        return NOT_TESTED
    if all(strict):
        return REPRODUCED
    return PARTLY if any(lenient) else NOT_REPRODUCED


def majority(flags: Sequence[bool]) -> bool | None:
    """More than half true; None when there are no cases."""
    return None if not flags else 2 * sum(flags) > len(flags)
