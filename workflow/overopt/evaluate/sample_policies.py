"""The sample rule: an evaluation group's policies sampled on held-out posts and scored.

A group is a size's SFT policy with its temperature policies, or one DAA run's checkpoints
(``overopt.core.runs.groups``): the tokenizer and the reference (SFT) model load once per group.
Per sample: completion, the sampled token ids (eos included: decoding drops special tokens, so
the text alone cannot be rescored), token count, summed log-prob under the policy and the
reference, and the exact per-token KL summed along the sample. Per policy: the implicit-reward
accuracy on held-out pairs (the reference's log-probs of the pairs are computed once per group),
against their (noisy) labels and, where the pairs carry gold rewards (the synthetic task), against
the noiseless gold order (pairs of equal gold reward left out).
Judging is the judge rule's (``overopt.evaluate.judge_samples``).

Every policy samples with the same settings and seed (common random numbers), from a generator
of its own, so a policy's samples do not depend on the group it is sampled in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from overopt.evaluate.metrics import implicit_accuracy
from overopt.lm.generation import Prefills, SampleConfig, sample
from overopt.lm.models import load_model
from overopt.lm.scoring import pair_logps as scored_pairs
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


def sample_policies(
    *,
    policies: list[dict[str, Any]],
    ref_dir: str,
    posts: list[dict[str, str]],
    heldout_pairs: list[dict[str, Any]],
    ev: dict[str, Any],
) -> list[dict[str, Any]]:
    """One record per policy: ``{"policy", "implicit_acc", "samples": [one row per post]}``.

    ``policies``: ``{"policy", "model_dir", "beta", "temperature"}`` each; a policy whose model
    is the reference's samples the reference model itself (no second copy is loaded).
    """
    tokenizer = load_tokenizer(ref_dir)
    ref = load_model(ref_dir)
    prompts = [p["prompt"] for p in posts]
    ref_pairs: tuple[np.ndarray, np.ndarray] | None = None
    prefills = Prefills()
    out = []
    for spec in policies:
        policy = ref if spec["model_dir"] == ref_dir else load_model(spec["model_dir"])
        samples = sample(policy, tokenizer, prompts, sample_config(ev, spec["temperature"]), ref, prefills)
        rows = [
            {
                "prompt_id": p["id"],
                "completion": s.completion,
                "token_ids": list(s.token_ids),
                "n_tokens": s.n_tokens,
                "finished": s.finished,
                "logp_policy": s.logp_policy,
                "logp_ref": s.logp_ref,
                "kl_exact": s.kl_exact,
            }
            for p, s in zip(posts, samples, strict=True)
        ]
        acc = acc_gold = math.nan  # the reference's own implicit reward is 0 on every pair
        if policy is not ref and heldout_pairs:
            if ref_pairs is None:
                ref_pairs = pair_logps(ref, tokenizer, heldout_pairs, ev)
            scored = pair_logps(policy, tokenizer, heldout_pairs, ev)
            margins = implicit_margins(scored, ref_pairs, spec["beta"])
            acc, acc_gold = implicit_accuracy(margins), gold_accuracy(margins, heldout_pairs)
        out.append(
            {"policy": spec["policy"], "implicit_acc": acc, "implicit_acc_gold": acc_gold, "samples": rows}
        )
        line = f"{spec['policy']}: {len(rows)} samples, implicit_acc {acc:.4f} (gold {acc_gold:.4f})"
        print(line, flush=True)
    return out


def pair_logps(
    model, tokenizer, pairs: list[dict[str, Any]], ev: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Summed log-probs of each held-out pair's chosen and rejected completion under ``model``."""
    prompts = [p["prompt"] for p in pairs]
    bs = int(ev.get("batch_size", 256))
    chosen, rejected = scored_pairs(
        model, tokenizer, prompts, [p["chosen"] for p in pairs], [p["rejected"] for p in pairs], bs
    )
    return np.array(chosen), np.array(rejected)


def implicit_margins(
    policy: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray], beta: float | None
) -> np.ndarray:
    """The implicit-reward margin beta * (log pi/ref(chosen) - log pi/ref(rejected)) per pair."""
    (pw, pl), (rw, rl) = policy, ref
    return (beta or 1.0) * ((pw - rw) - (pl - rl))


def implicit_acc(
    policy: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray], beta: float | None
) -> float:
    """Accuracy of the implicit reward beta * log pi/ref on held-out pairs, from ``pair_logps``."""
    return implicit_accuracy(implicit_margins(policy, ref, beta))


def gold_accuracy(margins: np.ndarray, pairs: list[dict[str, Any]]) -> float:
    """Accuracy of the margins against the pairs' gold order; nan where pairs carry no gold reward."""
    if not pairs or any("gold_chosen" not in p or "gold_rejected" not in p for p in pairs):
        return math.nan
    order = np.sign([float(p["gold_chosen"]) - float(p["gold_rejected"]) for p in pairs])
    keep = order != 0
    return implicit_accuracy(np.asarray(margins, dtype=np.float64)[keep] * order[keep])
