"""The best_of_n rule: a size's drawn samples judged, and every best-of-n curve point.

The configured judge is asked once per distinct (post, completion) of the draw
(``overopt.evaluate.best_of_n_draws``): with an API judge that is up to n_max x n_prompts requests
per size (they go through its cache like any other verdict). The draw is its own job, so a new or
edited judge rejudges these samples and redraws nothing. The estimators are
``overopt.evaluate.best_of_n_estimators``'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from overopt.core.bootstrap import mean_ci
from overopt.core.runtime import derive_seed
from overopt.evaluate import best_of_n_estimators as B
from overopt.evaluate.judges import JudgeItem, PairwiseJudge


def judge_draws(
    draws: list[dict[str, Any]], posts: list[dict[str, str]], judge: PairwiseJudge
) -> list[dict[str, Any]]:
    """Per prompt: its n_max samples' outcome ids, lengths, proxy rewards, judge wins and gold rewards.

    Each distinct completion of a prompt is judged once (``draws``' order: prompt by prompt, first
    appearance first), so identical samples tie exactly.
    """
    by_id = {p["id"]: p for p in posts}
    keys = [(d["prompt_id"], c) for d in draws for c in d["completions"]]
    items = [
        JudgeItem(key=f"bon|{k}|{j}", post=by_id[k]["prompt"], a=c, b=by_id[k]["reference"])
        for j, (k, c) in enumerate(keys)
    ]
    wins = iter(v.prob_a for v in judge.judge(items))
    rows = []
    for d in draws:
        prompt_wins = [float(next(wins)) for _ in d["completions"]]
        idx = d["completion_index"]
        rows.append(
            {
                "prompt_id": d["prompt_id"],
                "outcome": d["outcome"],
                "n_tokens": d["n_tokens"],
                "finished": d["finished"],
                "proxy_reward": [d["proxy_reward"][j] for j in idx],
                "judge_prob_win": [prompt_wins[j] for j in idx],
                "gold_reward": [d["gold_reward"][j] for j in idx],
            }
        )
    return rows


def curve_rows(scored: list[dict[str, Any]], selector: str, n: int) -> list[dict[str, Any]]:
    """Per prompt, the best-of-n row of ``selector`` (``proxy`` or ``gold``)."""
    key = {"proxy": "proxy_reward", "gold": "judge_prob_win"}[selector]
    out = []
    for r in scored:
        row = B.per_prompt(
            np.array(r["judge_prob_win"]),
            np.array(r["gold_reward"]),
            np.array(r["n_tokens"], dtype=float),
            np.array(r["finished"], dtype=float),
            r["outcome"],
            np.array(r[key]),
            n,
        )
        out.append({"prompt_id": r["prompt_id"], **row})
    return out


def curve_metrics(rows: list[dict[str, Any]], ev: dict[str, Any], seed: int) -> dict[str, Any]:
    """A best-of-n policy's metrics, in the evaluations table's terms."""
    win = np.array([r["judge_prob_win"] for r in rows])
    lo, hi = mean_ci(win, int(ev.get("bootstrap", 1000)), float(ev.get("ci", 0.95)), seed)
    kl_exact = float(np.mean([r["kl_exact"] for r in rows]))
    return {
        "n_prompts": len(rows),
        "win_rate": float(win.mean()),
        "win_rate_low": lo,
        "win_rate_high": hi,
        "kl": float(np.mean([r["kl"] for r in rows])),
        "kl_exact": kl_exact,
        "sqrt_kl": math.sqrt(max(kl_exact, 0.0)),
        "mean_length": float(np.mean([r["n_tokens"] for r in rows])),
        "finished": float(np.mean([r["finished"] for r in rows])),
        "gold_reward": float(np.mean([r["gold_reward"] for r in rows])),
        "length_r2": math.nan,
    }


def curves(
    scored: list[dict[str, Any]],
    *,
    size: str,
    n_max: int,
    ev: dict[str, Any],
    seed: int,
    judge_name: str,
    rm_accuracy: float,
) -> list[tuple[str, list[dict[str, Any]], dict[str, Any]]]:
    """(policy, per-prompt rows, metrics) for every best-of-n policy of a size, in table order."""
    out = []
    for selector in B.SELECTORS:
        for n in B.ns(n_max):
            policy = B.policy_name(selector, n)
            rows = curve_rows(scored, selector, n)
            metrics = {
                "model_size": size,
                "objective": B.objective(selector),
                "beta": None,
                "step": None,
                "epoch_fraction": None,
                "temperature": float(ev["temperature"]),
                "n": n,
                "policy": policy,
                **curve_metrics(rows, ev, derive_seed(seed, "bootstrap")),
                "implicit_acc": rm_accuracy if selector == "proxy" else math.nan,
                "judge": judge_name,
                "judge_unparseable": 0,
            }
            out.append((policy, rows, metrics))
    return out
