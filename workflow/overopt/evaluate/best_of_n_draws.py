"""The best_of_n_sample rule: n_max samples per prompt from a size's SFT policy, scored by the size's
proxy reward model and by the gold reward; no judge (the best_of_n rule judges them).

Sampling uses the evaluation's settings (temperature, max_new_tokens, batch size) with the seed
``best_of_n.seed``, prompt by prompt (each prompt's n_max samples are consecutive). Each distinct
completion of a prompt is kept once, with the index of every sample's completion, and scored once,
so identical samples tie exactly.
"""

from __future__ import annotations

from typing import Any

from overopt.data import gold
from overopt.evaluate.sample_policies import sample_config
from overopt.lm.generation import sample
from overopt.lm.models import load_model
from overopt.lm.reward import load_reward_model, score
from overopt.lm.tokenizer import load_tokenizer


def draw(
    *,
    sft_dir: str,
    reward_model_dir: str,
    posts: list[dict[str, str]],
    ev: dict[str, Any],
    n_max: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Per prompt: its distinct completions (first appearance first), each sample's index into
    them, outcome ids (token ids), lengths, and each distinct completion's proxy and gold reward."""
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
    golds = [gold.reward(by_id[k]["prompt"], c) for k, c in keys]
    rows = []
    for i, p in enumerate(posts):
        chunk = samples[i * n_max : (i + 1) * n_max]
        idx = [texts[(p["id"], s.completion)] for s in chunk]
        first = min(idx)  # the prompt's distinct completions are consecutive in ``keys``
        distinct = sorted(set(idx))
        outcomes: dict[tuple[int, ...], int] = {}
        rows.append(
            {
                "prompt_id": p["id"],
                "completions": [keys[j][1] for j in distinct],
                "completion_index": [j - first for j in idx],
                "outcome": [outcomes.setdefault(s.token_ids, len(outcomes)) for s in chunk],
                "n_tokens": [s.n_tokens for s in chunk],
                "finished": [s.finished for s in chunk],
                "proxy_reward": [float(proxy[j]) for j in distinct],
                "gold_reward": [float(golds[j]) for j in distinct],
            }
        )
    return rows
