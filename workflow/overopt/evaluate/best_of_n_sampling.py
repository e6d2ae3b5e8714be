"""The best_of_n rule: n_max samples per prompt from a size's SFT policy, scored, and every curve point.

The configured judge is asked once per distinct (post, completion): with an API judge that is up
to n_max x n_prompts requests per size (they go through its cache like any other verdict).

Sampling uses the evaluation's settings (temperature, max_new_tokens, batch size) with the seed
``best_of_n.seed``, prompt by prompt (each prompt's n_max samples are consecutive). Each distinct
completion of a prompt is scored once by the proxy reward model and once by the judge, so
identical samples tie exactly. The estimators are ``overopt.evaluate.best_of_n``'s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from overopt.core.bootstrap import mean_ci
from overopt.core.runtime import derive_seed
from overopt.data import gold
from overopt.evaluate import best_of_n as B
from overopt.evaluate.judges import JudgeItem, PairwiseJudge
from overopt.evaluate.sampling import sample_config
from overopt.lm.models import load_model
from overopt.lm.reward import load_reward_model, score
from overopt.lm.sampling import sample
from overopt.lm.tokenizer import load_tokenizer


def sample_scored(
    *,
    sft_dir: str,
    reward_model_dir: str,
    posts: list[dict[str, str]],
    judge: PairwiseJudge,
    ev: dict[str, Any],
    n_max: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Per prompt: its n_max samples' outcome ids, lengths, proxy rewards, judge wins and gold rewards."""
    tokenizer = load_tokenizer(sft_dir)
    policy = load_model(sft_dir)
    cfg = sample_config({**ev, "seed": seed})  # its own seed, not the evaluation's
    samples = sample(policy, tokenizer, [p["prompt"] for p in posts for _ in range(n_max)], cfg)
    del policy
    # each distinct (post, completion) once: identical completions get identical scores
    texts: dict[tuple[str, str], int] = {}
    for i, p in enumerate(posts):
        for s in samples[i * n_max : (i + 1) * n_max]:
            texts.setdefault((p["id"], s.completion), len(texts))
    by_id = {p["id"]: p for p in posts}
    keys = list(texts)
    proxy = score(
        load_reward_model(reward_model_dir),
        tokenizer,
        [by_id[k]["prompt"] for k, _ in keys],
        [c for _, c in keys],
        int(ev.get("batch_size", 256)),
    )
    items = [
        JudgeItem(key=f"bon|{k}|{j}", post=by_id[k]["prompt"], a=c, b=by_id[k]["reference"])
        for j, (k, c) in enumerate(keys)
    ]
    wins = [v.prob_a for v in judge.judge(items)]
    golds = [gold.reward(by_id[k]["prompt"], c) for k, c in keys]
    rows = []
    for i, p in enumerate(posts):
        chunk = samples[i * n_max : (i + 1) * n_max]
        idx = [texts[(p["id"], s.completion)] for s in chunk]
        outcomes: dict[tuple[int, ...], int] = {}
        rows.append(
            {
                "prompt_id": p["id"],
                "outcome": [outcomes.setdefault(s.token_ids, len(outcomes)) for s in chunk],
                "n_tokens": [s.n_tokens for s in chunk],
                "finished": [s.finished for s in chunk],
                "proxy_reward": [float(proxy[j]) for j in idx],
                "judge_prob_win": [float(wins[j]) for j in idx],
                "gold_reward": [float(golds[j]) for j in idx],
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
