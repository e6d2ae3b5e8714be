"""Pairwise judges behind one interface: (post, summary A, summary B) -> P(A beats B)."""

from __future__ import annotations

from typing import Any

from .base import JudgeItem, PairwiseJudge, Verdict


def make_judge(cfg: dict[str, Any], *, seed: int, cache_dir: str | None = None) -> PairwiseJudge:
    """Build the judge named by ``cfg['type']`` (config ``judge``)."""
    kind = cfg["type"]
    if kind == "gold":
        from .gold import GoldJudge

        return GoldJudge(tau=float(cfg.get("tau", 0.25)))
    if kind == "openai":
        from .openai import OpenAIJudge

        return OpenAIJudge.from_config(cfg, seed=seed, cache_dir=cache_dir)
    if kind == "reward_model":
        from .reward_model import RewardModelJudge

        return RewardModelJudge.from_config(cfg)
    raise ValueError(f"judge.type: unknown judge {kind!r}; allowed: gold, openai, reward_model")


__all__ = ["JudgeItem", "PairwiseJudge", "Verdict", "make_judge"]
