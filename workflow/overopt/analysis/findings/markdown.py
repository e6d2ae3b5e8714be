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


def p_cell(p: float | None) -> str:
    """A one-sided p-value, fixed format (``<0.0001`` below)."""
    if p is None:
        return "n/a"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def case_cells(c: Case, digits: int = 3) -> list[str]:
    """Per-replicate values, pooled value [CI], one-sided p, holds (after the family's Holm rule)."""
    return [reps_cell(c.estimate, digits), est_cell(c.estimate, digits), p_cell(c.p), yes(c.holds)]


CASE_HEADER = ["per replicate", "pooled [95% CI]", "p (one-sided)", "holds (Holm)"]


def count(cases: Sequence[Case]) -> str:
    """``held/tested`` over the testable cases."""
    tested = [c for c in cases if c.holds is not None]
    return f"{sum(bool(c.holds) for c in tested)}/{len(tested)}"
