"""A proxy reward model per size: TRL's ``RewardTrainer`` from the size's SFT model.

It learns from the same preference pairs the DAAs see (the same split, the same noisy labels),
starting from the SFT model with a fresh one-label head (``GPTNeoXForSequenceClassification``).
Its held-out accuracy is measured twice: against the pairs' noisy labels (what it was trained
to predict) and against the noiseless gold labels (the gold reward's order; gold ties left out).
The model is saved as a Hugging Face sequence-classification model in safetensors, loadable
with plain ``transformers`` (``overopt.lm.reward.load_reward_model``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from datasets import Dataset
from transformers import AutoModelForSequenceClassification
from trl import RewardConfig, RewardTrainer

from overopt.core.io import atomic_dir
from overopt.lm.reward import reward_text, score
from overopt.lm.tokenizer import load_tokenizer
from overopt.train.arguments import training_args, write_history
from overopt.train.checkpointing import SafeCheckpointMixin
from overopt.train.shared_prompt import share_reward_prefixes
from overopt.train.trl_tuning import fit_fused_head_to_vocab


class SafeRewardTrainer(SafeCheckpointMixin, RewardTrainer):
    """``RewardTrainer`` whose checkpoints hold safetensors and JSON only, and whose pairs are
    scored packed, each common prefix once (``overopt.train.shared_prompt``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        share_reward_prefixes(self.model)


def tokenize_pairs(pairs: list[dict[str, Any]], tokenizer) -> Dataset:
    """``chosen_ids`` / ``rejected_ids`` as ``RewardTrainer`` makes them, in two batched calls.

    TRL tokenizes ``prompt + chosen + eos`` one row at a time with the tokenizer's defaults;
    this is the same call on the whole list.
    """
    eos = tokenizer.eos_token
    cols = {}
    for side in ("chosen", "rejected"):
        texts = [reward_text(p["prompt"], p[side], eos) for p in pairs]
        cols[f"{side}_ids"] = tokenizer(texts)["input_ids"]
    return Dataset.from_dict(cols)


def reward_config(opts: dict[str, Any], output_dir: str, seed: int, **overrides: Any) -> RewardConfig:
    """RewardConfig: fp32, one pass over the pairs, no TRL-side saving (pairs over max_length left out)."""
    args = training_args(opts, output_dir, seed, num_train_epochs=int(opts.get("epochs", 1)))
    args.update(overrides)
    return RewardConfig(**args)


def heldout_accuracy(
    chosen: np.ndarray, rejected: np.ndarray, pairs: list[dict[str, Any]]
) -> dict[str, float | int]:
    """Accuracy of r(chosen) > r(rejected) on the noisy labels, and on the gold labels (gold ties out).

    A tie in the model's scores counts half.
    """
    diff = np.asarray(chosen) - np.asarray(rejected)
    right = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
    gold = np.array([p["gold_chosen"] - p["gold_rejected"] for p in pairs], dtype=float)
    decided = gold != 0
    gold_right = np.where(gold[decided] > 0, right[decided], 1.0 - right[decided])
    return {
        "n_pairs": len(pairs),
        "accuracy_noisy": float(right.mean()),
        "n_gold_decided": int(decided.sum()),
        "accuracy_gold": float(gold_right.mean()) if decided.any() else float("nan"),
        "label_agreement": float(np.mean(gold[decided] > 0)) if decided.any() else float("nan"),
    }


def train_reward_model(
    *,
    pairs: list[dict[str, Any]],
    heldout: list[dict[str, Any]],
    sft_dir: str,
    out_dir: str,
    history_path: str,
    opts: dict[str, Any],
    seed: int,
    scratch_dir: str,
) -> dict[str, Any]:
    """Train, save the model and tokenizer to ``out_dir``; the held-out accuracies and run facts."""
    tokenizer = load_tokenizer(sft_dir)
    fit_fused_head_to_vocab(len(tokenizer))
    import torch

    torch.manual_seed(seed)  # the fresh score head
    model = AutoModelForSequenceClassification.from_pretrained(
        sft_dir, num_labels=1, dtype=torch.float32, use_safetensors=True
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = SafeRewardTrainer(
        model=model,
        args=reward_config(opts, scratch_dir, seed, disable_tqdm=True),
        train_dataset=tokenize_pairs(pairs, tokenizer),
        processing_class=tokenizer,
    )
    n_train = len(trainer.train_dataset)
    result = trainer.train()
    write_history(trainer.state.log_history, history_path)
    model = trainer.model.eval()
    prompts = [p["prompt"] for p in heldout]
    chosen = score(model, tokenizer, prompts, [p["chosen"] for p in heldout])
    rejected = score(model, tokenizer, prompts, [p["rejected"] for p in heldout])
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return {
        **heldout_accuracy(chosen, rejected, heldout),
        "n_train_pairs": n_train,
        "n_train_dropped": len(pairs) - n_train,
        "steps": int(trainer.state.global_step),
        "train_loss": float(result.training_loss),
        "train_runtime_s": float(result.metrics.get("train_runtime", float("nan"))),
    }
