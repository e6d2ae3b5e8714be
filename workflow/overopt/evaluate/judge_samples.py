"""The judge rule: an evaluation group's samples judged against the references, and summarised.

Every sample of the group goes to the judge in one call, so a judge that sends requests
concurrently keeps its connections busy across checkpoints. Per sample the row gains the
judge's verdict (and the exact gold reward where the task has one); per policy: win rate with a
bootstrap CI over prompts, both KL estimates, mean length, gold reward, the R^2 of log pi/ref on
length, and the implicit-reward accuracy the sample rule measured. ``sqrt_kl`` is built from
``kl_exact``: the per-token estimator has the exact KL as its expectation (chain rule), like the
sampled sequence-level one, but is never negative per sample.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from overopt.core.bootstrap import mean_ci
from overopt.core.runtime import derive_seed
from overopt.data import gold
from overopt.evaluate.judges import JudgeItem, PairwiseJudge
from overopt.evaluate.metrics import r_squared


def judge_group(
    *,
    sampled: list[dict[str, Any]],
    posts: dict[str, dict[str, str]],
    size: str,
    judge: PairwiseJudge,
    judge_type: str,
    ev: dict[str, Any],
    seed: int,
    gold_available: bool,
) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """(rows, metrics) per policy of the sample rule's records ``sampled``, in their order.

    ``posts``: the evaluation posts by id; ``seed``: the config seed (the bootstrap's).
    """
    items = []
    for rec in sampled:
        for row in rec["samples"]:
            post = posts.get(row["prompt_id"])
            if post is None:
                raise ValueError(f"{size}/{rec['policy']}: sample of unknown post {row['prompt_id']!r}")
            items.append(
                JudgeItem(
                    key=f"{size}/{rec['policy']}|{post['id']}",
                    post=post["prompt"],
                    a=row["completion"],
                    b=post["reference"],
                )
            )
    verdicts = iter(judge.judge(items))
    out = []
    for rec in sampled:
        rows = []
        for row in rec["samples"]:
            v = next(verdicts)
            row = {**row, "judge_prob_win": v.prob_a, "judge_parsed": v.parsed, "judge_swapped": v.swapped}
            if gold_available:
                row["gold_reward"] = gold.reward(posts[row["prompt_id"]]["prompt"], row["completion"])
            rows.append(row)
        metrics = summarize(rows, ev, seed=derive_seed(seed, "bootstrap"))
        metrics["judge"] = getattr(judge, "name", judge_type)
        metrics["judge_unparseable"] = int(sum(not r["judge_parsed"] for r in rows))
        metrics["implicit_acc"] = rec["implicit_acc"]
        metrics["implicit_acc_gold"] = rec.get("implicit_acc_gold", math.nan)
        out.append((rows, metrics))
    return out


def summarize(rows: list[dict[str, Any]], ev: dict[str, Any], seed: int) -> dict[str, Any]:
    """Win rate with its CI, KL both ways, length, gold reward, length R^2."""
    win = np.array([r["judge_prob_win"] for r in rows])
    logratio = np.array([r["logp_policy"] - r["logp_ref"] for r in rows])
    lengths = np.array([r["n_tokens"] for r in rows])
    kl_exact = float(np.mean([r["kl_exact"] for r in rows]))
    lo, hi = mean_ci(win, int(ev.get("bootstrap", 1000)), float(ev.get("ci", 0.95)), seed)
    out = {
        "n_prompts": len(rows),
        "win_rate": float(win.mean()),
        "win_rate_low": lo,
        "win_rate_high": hi,
        "kl": float(logratio.mean()),
        "kl_exact": kl_exact,
        "sqrt_kl": math.sqrt(max(kl_exact, 0.0)),
        "mean_length": float(lengths.mean()),
        "finished": float(np.mean([r["finished"] for r in rows])),
        "length_r2": r_squared(lengths, logratio),
    }
    if rows and "gold_reward" in rows[0]:
        out["gold_reward"] = float(np.mean([r["gold_reward"] for r in rows]))
    return out
