"""Fixed-format markdown cells and tables for the findings (equal inputs give equal bytes)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from overopt.analysis.criteria import Estimate
from overopt.analysis.findings.base import Case


def fmt(x: Any, digits: int = 3) -> str:
    """Fixed-point text; n/a for missing values, no negative zero."""
    if x is None or (isinstance(x, float | np.floating) and math.isnan(x)):
        return "n/a"
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{float(f'{x:.{digits}f}') + 0.0:.{digits}f}"


def yes(flag: bool | None) -> str:
    return "n/a" if flag is None else ("yes" if flag else "no")


def share(flags: Sequence[bool]) -> str:
    return f"{sum(flags)}/{len(flags)}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table."""

    def line(cells: Iterable[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def est_cell(e: Estimate | None, digits: int = 3) -> str:
    """``value [low, high]``."""
    if e is None:
        return "n/a"
    return f"{fmt(e.value, digits)} [{fmt(e.low, digits)}, {fmt(e.high, digits)}]"


def reps_cell(e: Estimate | None, digits: int = 3) -> str:
    """Each replicate's own value, in replicate order."""
    return "n/a" if e is None else " / ".join(fmt(v, digits) for v in e.per_replicate)


def case_cells(c: Case, digits: int = 3) -> list[str]:
    """Per-replicate values, pooled value [CI], holds, robust to seed."""
    return [reps_cell(c.estimate, digits), est_cell(c.estimate, digits), yes(c.holds), yes(c.robust)]


CASE_HEADER = ["per replicate", "pooled [95% CI]", "holds", "robust to seed"]


def count(cases: Sequence[Case]) -> str:
    """``held/tested`` over the testable cases."""
    tested = [c for c in cases if c.holds is not None]
    return f"{sum(bool(c.holds) for c in tested)}/{len(tested)}"


def robust_count(cases: Sequence[Case]) -> str:
    tested = [c for c in cases if c.holds is not None]
    return f"{sum(bool(c.robust) for c in tested)}/{len(tested)}"
