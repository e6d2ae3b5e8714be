"""The sample rule: an evaluation group's policies sampled on held-out posts and scored.

A group is a size's SFT policy with its temperature policies, or one DAA run's checkpoints
(``overopt.core.runs.groups``): the tokenizer and the reference (SFT) model load once per group.
Per sample: completion, the sampled token ids (eos included: decoding drops special tokens, so
the text alone cannot be rescored), token count, summed log-prob under the policy and the
reference, and the exact per-token KL summed along the sample. Per policy: the implicit-reward
accuracy on held-out pairs (the reference's log-probs of the pairs are computed once per group).
Judging is the judge rule's (``overopt.evaluate.judging``).

Every policy samples with the same settings and seed (common random numbers), from a generator
of its own, so a policy's samples do not depend on the group it is sampled in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from overopt.evaluate.metrics import implicit_accuracy
from overopt.lm.models import load_model
from overopt.lm.sampling import Prefills, SampleConfig, sample
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
        acc = math.nan  # the reference's own implicit reward is 0 on every pair
        if policy is not ref and heldout_pairs:
            if ref_pairs is None:
                ref_pairs = pair_logps(ref, tokenizer, heldout_pairs, ev)
            acc = implicit_acc(pair_logps(policy, tokenizer, heldout_pairs, ev), ref_pairs, spec["beta"])
        out.append({"policy": spec["policy"], "implicit_acc": acc, "samples": rows})
        print(f"{spec['policy']}: {len(rows)} samples, implicit_acc {acc:.4f}", flush=True)
    return out


def pair_logps(
    model, tokenizer, pairs: list[dict[str, Any]], ev: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Summed log-probs of each held-out pair's chosen and rejected completion under ``model``."""
    prompts = [p["prompt"] for p in pairs]
    bs = int(ev.get("batch_size", 256))
    chosen = [p["chosen"] for p in pairs]
    chosen, rejected = scored_pairs(model, tokenizer, prompts, chosen, [p["rejected"] for p in pairs], bs)
    return np.array(chosen), np.array(rejected)


def implicit_acc(
    policy: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray], beta: float | None
) -> float:
    """Accuracy of the implicit reward beta * log pi/ref on held-out pairs, from ``pair_logps``."""
    (pw, pl), (rw, rl) = policy, ref
    return implicit_accuracy((beta or 1.0) * ((pw - rw) - (pl - rl)))
