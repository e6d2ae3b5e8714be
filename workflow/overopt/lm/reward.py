"""Scores of (prompt, completion) pairs under a reward model: a one-label sequence classifier.

The text scored is exactly what TRL's ``RewardTrainer`` trains on for a prompt/chosen/rejected
row: ``prompt + completion + eos`` as one string, tokenized as is, padded on the right; the
model's score is its output at the last non-pad token (the eos).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase


def reward_text(prompt: str, completion: str, eos_token: str) -> str:
    """The string a reward model scores (TRL adds the eos where the text lacks it)."""
    text = prompt + completion
    return text if text.endswith(eos_token) else text + eos_token


def load_reward_model(path: str) -> PreTrainedModel:
    """A reward model saved by the reward_model rule (safetensors), in fp32, for scoring."""
    return AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=1, dtype=torch.float32, use_safetensors=True
    ).eval()


@torch.no_grad()
def score(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    completions: Sequence[str],
    batch_size: int = 512,
) -> np.ndarray:
    """The reward of each (prompt, completion), float64."""
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    model.eval()
    device = next(model.parameters()).device
    texts = [reward_text(p, c, tokenizer.eos_token) for p, c in zip(prompts, completions, strict=True)]
    out = np.empty(len(texts), dtype=np.float64)
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(
            texts[start : start + batch_size], padding=True, padding_side="right", return_tensors="pt"
        ).to(device)
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        out[start : start + len(enc["input_ids"])] = logits[:, 0].double().cpu().numpy()
    return out
