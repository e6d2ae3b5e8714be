"""Summed log-probabilities of given completions (teacher forcing), tokenized as TRL does.

Pairs of completions of one prompt are scored packed (``overopt.lm.packing``): the prompt once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from overopt.lm.packing import IGNORE, pack_pairs, predicting_hidden, supports_packing


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


def _rows(chunk: Sequence[tuple[list[int], list[int]]], pad: int) -> tuple[torch.Tensor, ...]:
    """Right-padded ``prompt + completion`` rows, their mask, and labels (-100 off the completion)."""
    width = max(len(p) + len(c) for p, c in chunk)
    ids = torch.full((len(chunk), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, IGNORE)
    for j, (p, c) in enumerate(chunk):
        ids[j, : len(p) + len(c)] = torch.tensor(p + c)
        mask[j, : len(p) + len(c)] = 1
        labels[j, len(p) : len(p) + len(c)] = torch.tensor(c)
    return ids, mask, labels


def _row_logps(
    model: PreTrainedModel, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor
) -> list[float]:
    logits = model(input_ids=ids, attention_mask=mask).logits.float()
    logp = F.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return (logp * (labels[:, 1:] != IGNORE)).sum(-1).double().tolist()


def _pad_id(tokenizer: PreTrainedTokenizerBase) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


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
    out: list[float] = []
    for i in range(0, len(pairs), batch_size):
        ids, mask, labels = (t.to(device) for t in _rows(pairs[i : i + batch_size], _pad_id(tokenizer)))
        out.extend(_row_logps(model, ids, mask, labels))
    return out


@torch.no_grad()
def pair_logps(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    chosen: Sequence[str],
    rejected: Sequence[str],
    batch_size: int = 256,
) -> tuple[list[float], list[float]]:
    """``sequence_logps`` of both completions of every pair, each prompt computed once where the
    model supports packing and both completions follow the same prompt tokens."""
    if not supports_packing(model):
        return (
            sequence_logps(model, tokenizer, prompts, chosen, batch_size),
            sequence_logps(model, tokenizer, prompts, rejected, batch_size),
        )
    model.eval()
    device = next(model.parameters()).device
    cw = completion_ids(tokenizer, prompts, chosen)
    cr = completion_ids(tokenizer, prompts, rejected)
    head = model.get_output_embeddings()
    out_w: list[float] = []
    out_r: list[float] = []
    for i in range(0, len(cw), batch_size):
        n = len(cw[i : i + batch_size])
        ids, mask, labels = (
            t.to(device) for t in _rows(cw[i : i + batch_size] + cr[i : i + batch_size], _pad_id(tokenizer))
        )
        packed = pack_pairs(ids, mask, labels)
        if packed is None:  # the two completions split the prompt's tokens differently
            logps = _row_logps(model, ids, mask, labels)
        else:
            logits = head(predicting_hidden(model, packed)).float()
            target = labels[:, 1:][packed.label_mask]
            token = F.log_softmax(logits, -1).gather(-1, target[:, None]).squeeze(-1)
            logps = token.new_zeros(packed.label_mask.shape).masked_scatter(packed.label_mask, token).sum(-1)
            logps = logps.double().tolist()
        out_w.extend(logps[:n])
        out_r.extend(logps[n:])
    return out_w, out_r
