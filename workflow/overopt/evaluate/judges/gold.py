"""The synthetic task's exact gold judge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from overopt.data import gold
from overopt.evaluate.judges import register_judge
from overopt.evaluate.judges.base import JudgeItem, Verdict


@register_judge("gold")
@dataclass
class GoldJudge:
    """P(A beats B) = sigmoid((r*(A) - r*(B)) / tau): deterministic, no sampling."""

    CONFIG_KEYS: ClassVar[frozenset[str]] = frozenset({"type", "tau"})
    REQUIRED_KEYS: ClassVar[tuple[str, ...]] = ()
    LOCAL: ClassVar[bool] = True  # a formula: judged where Snakemake runs, not as a cluster job

    tau: float = gold.JUDGE_TAU
    name: str = "gold"

    @classmethod
    def from_config(cls, cfg: dict[str, Any], *, seed: int = 0, cache_dir: str | None = None) -> GoldJudge:
        """Build from config ``judge`` (type: gold): ``tau``."""
        return cls(tau=float(cfg.get("tau", gold.JUDGE_TAU)))

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        return [Verdict(prob_a=gold.prob_a_beats_b(it.post, it.a, it.b, self.tau)) for it in items]
