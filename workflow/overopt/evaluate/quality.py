"""SFT quality on the synthetic task, checked before any sweep: gold win rate and invented facts."""

from __future__ import annotations

import json
import statistics
from typing import Any

from overopt.data import gold
from overopt.lm.generation import SampleConfig, sample
from overopt.lm.models import load_model
from overopt.lm.tokenizer import load_tokenizer


class QualityGateError(RuntimeError):
    """The SFT policy is not good enough for a sweep to mean anything."""


def sft_quality(
    model_dir: str, posts: list[dict[str, str]], ev: dict[str, Any], *, gate: dict[str, float], size: str
) -> dict[str, Any]:
    """Samples at the evaluation temperature (and greedy-ish T=0.01) scored by r*; raise if below the gate."""
    model, tok = load_model(model_dir), load_tokenizer(model_dir)
    report: dict[str, Any] = {"size": size, "n_prompts": len(posts)}
    for label, temp in (("sample", float(ev["temperature"])), ("near_greedy", 0.01)):
        cfg = SampleConfig(
            temperature=temp,
            max_new_tokens=int(ev["max_new_tokens"]),
            batch_size=int(ev.get("batch_size", 256)),
            seed=int(ev["seed"]),
        )
        samples = sample(model, tok, [p["prompt"] for p in posts], cfg)
        scores = [gold.score(p["prompt"], s.completion) for p, s in zip(posts, samples, strict=True)]
        report[label] = {
            "temperature": temp,
            "win_rate": round(
                statistics.fmean(
                    gold.prob_a_beats_b(p["prompt"], s.completion, p["reference"])
                    for p, s in zip(posts, samples, strict=True)
                ),
                4,
            ),
            "gold_reward": round(statistics.fmean(s.reward for s in scores), 4),
            "invented_per_summary": round(statistics.fmean(s.wrong_facts for s in scores), 4),
            "true_facts_per_summary": round(statistics.fmean(s.true_facts for s in scores), 4),
            "mean_tokens": round(statistics.fmean(s.n_tokens for s in scores), 3),
            "finished": round(statistics.fmean(smp.finished for smp in samples), 4),
        }
    report["reference_gold_reward"] = round(
        statistics.fmean(gold.reward(p["prompt"], p["reference"]) for p in posts), 4
    )
    s = report["sample"]
    problems = []
    if "min_win_rate" in gate and s["win_rate"] < gate["min_win_rate"]:
        problems.append(f"win rate {s['win_rate']} < quality_gate.min_win_rate {gate['min_win_rate']}")
    if "max_invented" in gate and s["invented_per_summary"] > gate["max_invented"]:
        problems.append(
            f"invented facts {s['invented_per_summary']} > quality_gate.max_invented {gate['max_invented']}"
        )
    report["gate_passed"] = not problems
    print(json.dumps(report, indent=2, sort_keys=True), flush=True)
    if problems:
        raise QualityGateError(
            f"SFT model '{size}' fails the quality gate: {'; '.join(problems)}. "
            "Train longer (sft.max_steps) or adjust sft.learning_rate before sweeping."
        )
    return report
