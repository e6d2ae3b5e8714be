"""The evaluate rule: sample a policy on held-out posts, score KL both ways, judge against references.

Per sample: completion, the sampled token ids (eos included: decoding drops special tokens, so
the text alone cannot be rescored), token count, summed log-prob under the policy and the
reference (SFT), the exact per-token KL summed along the sample, and the judge's verdict. Per policy: win rate
with a bootstrap CI over prompts, both KL estimates, mean length, gold reward (synthetic task),
the R^2 of log pi/ref on length, and the implicit-reward accuracy on held-out pairs.
``sqrt_kl`` is built from ``kl_exact``: the per-token estimator has the exact KL as its
expectation (chain rule), like the sampled sequence-level one, but is never negative per sample.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from overopt.core.bootstrap import mean_ci
from overopt.core.runtime import derive_seed
from overopt.data import gold
from overopt.evaluate.judges import JudgeItem, make_judge
from overopt.evaluate.metrics import implicit_accuracy, r_squared
from overopt.lm.models import load_model
from overopt.lm.sampling import SampleConfig, sample
from overopt.lm.scoring import sequence_logps
from overopt.lm.tokenizer import load_tokenizer


def sample_config(ev: dict[str, Any], temperature: float | None = None) -> SampleConfig:
    """Sampling settings of the evaluation; the same seed for every policy (common random numbers)."""
    return SampleConfig(
        temperature=float(temperature if temperature is not None else ev["temperature"]),
        max_new_tokens=int(ev["max_new_tokens"]),
        top_k=ev.get("top_k"),
        top_p=ev.get("top_p"),
        batch_size=int(ev.get("batch_size", 256)),
        seed=int(ev["seed"]),
    )


def evaluate_policy(
    *,
    policy_id: str,
    policy_dir: str,
    ref_dir: str,
    posts: list[dict[str, str]],
    heldout_pairs: list[dict[str, Any]],
    ev: dict[str, Any],
    judge_cfg: dict[str, Any],
    seed: int,
    beta: float | None,
    temperature: float | None = None,
    gold_available: bool = False,
    judge_cache_dir: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Samples (one row per prompt) and the policy's summary metrics."""
    tokenizer = load_tokenizer(ref_dir)
    ref = load_model(ref_dir)
    policy = ref if policy_dir == ref_dir else load_model(policy_dir)
    samples = sample(
        policy, tokenizer, [p["prompt"] for p in posts], sample_config(ev, temperature), reference=ref
    )
    judge = make_judge(judge_cfg, seed=seed, cache_dir=judge_cache_dir)
    verdicts = judge.judge(
        [
            JudgeItem(key=f"{policy_id}|{p['id']}", post=p["prompt"], a=s.completion, b=p["reference"])
            for p, s in zip(posts, samples, strict=True)
        ]
    )
    rows = []
    for p, s, v in zip(posts, samples, verdicts, strict=True):
        row = {
            "prompt_id": p["id"],
            "completion": s.completion,
            "token_ids": list(s.token_ids),
            "n_tokens": s.n_tokens,
            "finished": s.finished,
            "logp_policy": s.logp_policy,
            "logp_ref": s.logp_ref,
            "kl_exact": s.kl_exact,
            "judge_prob_win": v.prob_a,
            "judge_parsed": v.parsed,
            "judge_swapped": v.swapped,
        }
        if gold_available:
            row["gold_reward"] = gold.reward(p["prompt"], s.completion)
        rows.append(row)
    metrics = summarize(rows, ev, seed=derive_seed(seed, "bootstrap"))
    metrics["judge"] = getattr(judge, "name", judge_cfg["type"])
    metrics["judge_unparseable"] = int(sum(not r["judge_parsed"] for r in rows))
    metrics["implicit_acc"] = (
        implicit_acc(policy, ref, tokenizer, heldout_pairs, beta, ev) if policy is not ref else math.nan
    )
    return rows, metrics


def implicit_acc(
    policy, ref, tokenizer, pairs: list[dict[str, Any]], beta: float | None, ev: dict[str, Any]
) -> float:
    """Accuracy of the implicit reward beta * log pi/ref on held-out preference pairs."""
    if not pairs:
        return math.nan
    prompts = [p["prompt"] for p in pairs]
    bs = int(ev.get("batch_size", 256))
    pw = np.array(sequence_logps(policy, tokenizer, prompts, [p["chosen"] for p in pairs], bs))
    pl = np.array(sequence_logps(policy, tokenizer, prompts, [p["rejected"] for p in pairs], bs))
    rw = np.array(sequence_logps(ref, tokenizer, prompts, [p["chosen"] for p in pairs], bs))
    rl = np.array(sequence_logps(ref, tokenizer, prompts, [p["rejected"] for p in pairs], bs))
    return implicit_accuracy((beta or 1.0) * ((pw - rw) - (pl - rl)))


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
