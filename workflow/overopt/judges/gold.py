"""The synthetic task's exact gold judge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import gold
from .base import JudgeItem, Verdict


@dataclass
class GoldJudge:
    """P(A beats B) = sigmoid((r*(A) - r*(B)) / tau): deterministic, no sampling."""

    tau: float = gold.JUDGE_TAU
    name: str = "gold"

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        return [Verdict(prob_a=gold.prob_a_beats_b(it.post, it.a, it.b, self.tau)) for it in items]
