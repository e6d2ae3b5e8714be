"""The pairwise judge interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class JudgeItem:
    """One comparison: a post and two summaries. ``key`` identifies it (for order randomisation)."""

    key: str
    post: str
    a: str
    b: str


@dataclass(frozen=True)
class Verdict:
    """P(A beats B) in [0, 1] (0.5 for a tie or an unparseable answer) and how it was reached."""

    prob_a: float
    parsed: bool = True
    swapped: bool = False
    raw: str | None = None


class PairwiseJudge(Protocol):
    """Anything that judges batches of pairs."""

    name: str

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order."""
        ...
