"""Summed log-probabilities of given completions (teacher forcing), tokenized as TRL does."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase


def completion_ids(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], completions: Sequence[str]
) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids + eos) per pair, split where prompt and prompt+completion diverge."""
    eos = tokenizer.eos_token
    p_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    full = tokenizer(
        [p + c + eos for p, c in zip(prompts, completions, strict=True)], add_special_tokens=False
    )["input_ids"]
    out = []
    for p, f in zip(p_ids, full, strict=True):
        k = 0
        while k < min(len(p), len(f)) and p[k] == f[k]:
            k += 1
        out.append((f[:k], f[k:]))
    return out


@torch.no_grad()
def sequence_logps(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    completions: Sequence[str],
    batch_size: int = 256,
) -> list[float]:
    """log pi(completion + eos | prompt), summed over tokens, for every pair."""
    model.eval()
    device = next(model.parameters()).device
    pairs = completion_ids(tokenizer, prompts, completions)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[float] = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        seqs = [p + c for p, c in chunk]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        target = torch.zeros_like(ids, dtype=torch.bool)
        for j, (p, c) in enumerate(chunk):
            ids[j, : len(p) + len(c)] = torch.tensor(p + c)
            mask[j, : len(p) + len(c)] = 1
            target[j, len(p) : len(p) + len(c)] = True
        ids, mask, target = ids.to(device), mask.to(device), target.to(device)
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
        logp = F.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        out.extend((logp * target[:, 1:]).sum(-1).double().tolist())
    return out
