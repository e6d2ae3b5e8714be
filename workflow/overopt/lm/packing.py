"""Preference pairs as one row each: the prompt once, then the chosen and the rejected completion.

A pair scored as two rows, ``[prompt; chosen]`` and ``[prompt; rejected]``, computes its prompt
twice; in the synthetic task prompts are ~80% of a pair's tokens. Packed as one row
``[prompt; chosen; rejected]``, the rejected tokens' positions restart where the prompt ends and
a 4D attention mask lets them see the prompt and each other but not the chosen tokens. Every
completion token then has the same context and position as in its own row, so its log-prob is
the same up to float rounding, from ~40% fewer tokens.

The unpacked layout is TRL's DPO batch: pair i is rows i (chosen) and B + i (rejected), each
flushed left (prompt from position 0) and right-padded, with label -100 where not scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

IGNORE = -100  # TRL's label for positions that are not scored


@dataclass(frozen=True)
class PackedPairs:
    """A batch of B pairs as B rows, and where each scored label's predicting hidden state is."""

    input_ids: torch.Tensor  # [B, T]
    position_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, 1, T, T] bool, True: may attend
    source: torch.Tensor  # [N] flat index into the packed [B * T] hidden states
    label_mask: torch.Tensor  # [2B, L - 1] bool: TRL's scored positions (labels shifted by one)
    ends: torch.Tensor  # [2B] flat index of each unpacked row's last token in the packed rows


def pack_pairs(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor
) -> PackedPairs | None:
    """Pack TRL's ``[chosen rows; rejected rows]`` batch; None unless its pairs share their prompts."""
    rows, width = input_ids.shape
    if rows % 2 or attention_mask.dim() != 2:
        return None
    b = rows // 2
    device = input_ids.device
    scored = labels != IGNORE
    valid = attention_mask.bool()
    prompt = valid & ~scored
    p_len = prompt.sum(1)
    c_len = scored.sum(1)
    col = torch.arange(width, device=device)
    # flushed left: prompt at [0, P), completion at [P, P + C), padding after
    layout_ok = torch.equal(prompt, col < p_len[:, None]) and torch.equal(
        scored, (col >= p_len[:, None]) & (col < (p_len + c_len)[:, None])
    )
    if not layout_ok or not torch.equal(p_len[:b], p_len[b:]):
        return None
    in_prompt = col < p_len[:b, None]
    if not torch.equal(input_ids[:b][in_prompt], input_ids[b:][in_prompt]):
        return None

    p, cw, cr = p_len[:b, None], c_len[:b, None], c_len[b:, None]
    total = int((p + cw + cr).max())
    j = torch.arange(total, device=device)[None, :]
    in_chosen = j < p + cw  # prompt or chosen: the chosen row's own token at j
    in_rejected = ~in_chosen & (j < p + cw + cr)  # the rejected row's token at j - Cw
    src_col = torch.where(in_chosen, j, (j - cw).clamp(min=0)).clamp(max=width - 1)
    ids = torch.where(
        in_chosen,
        input_ids[:b].gather(1, src_col),
        torch.where(in_rejected, input_ids[b:].gather(1, src_col), input_ids[:b, :1]),
    )
    pos = torch.where(in_rejected, j - cw, j)
    seg = torch.where(j < p, 0, torch.where(in_chosen, 1, torch.where(in_rejected, 2, 3)))  # 3: padding
    q, k = seg[:, :, None], seg[:, None, :]
    causal = torch.ones(total, total, dtype=torch.bool, device=device).tril()
    mask = causal & (k != 3) & ~((q == 2) & (k == 1))

    # the hidden state predicting label t + 1 of each unpacked row (TRL shifts labels by one)
    t = torch.arange(width - 1, device=device)[None, :]
    first = t == p - 1  # the first completion token is predicted by the last prompt token
    src_chosen = t.expand(b, -1)
    src_rejected = torch.where(first, t, t + cw)
    src = (
        torch.cat([src_chosen, src_rejected])
        + torch.arange(2 * b, device=device)[:, None].remainder(b) * total
    )
    label_mask = scored[:, 1:]
    offset = torch.arange(b, device=device) * total
    ends = torch.cat([offset + (p + cw)[:, 0] - 1, offset + (p + cw + cr)[:, 0] - 1])
    return PackedPairs(ids, pos, mask[:, None], src[label_mask], label_mask, ends)


def shared_prefix_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor | None:
    """``input_ids`` with -100 on each pair's common prefix: a ``pack_pairs`` labelling for rows
    that have no prompt/completion split (a reward model's ``prompt + completion`` texts).

    Rows are ``[chosen rows; rejected rows]``, right-padded. Each row keeps at least its last
    token outside the prefix, where a sequence classifier reads its score. None for a batch that
    is not pairs of right-padded rows.
    """
    if input_ids.size(0) % 2 or attention_mask.dim() != 2:
        return None
    b = input_ids.size(0) // 2
    valid = attention_mask.bool()
    same = (input_ids[:b] == input_ids[b:]) & valid[:b] & valid[b:]
    prefix = same.long().cumprod(1).sum(1)
    lengths = valid.sum(1)
    prefix = torch.minimum(prefix, torch.minimum(lengths[:b], lengths[b:]) - 1).repeat(2)
    col = torch.arange(input_ids.size(1), device=input_ids.device)
    return input_ids.masked_fill((col[None, :] < prefix[:, None]) | ~valid, IGNORE)


def supports_packing(model: PreTrainedModel) -> bool:
    """GPT-NeoX (the Pythia family: no logit scaling or soft-capping) with eager or SDPA
    attention, which take a 4D mask."""
    return model.config.model_type == "gpt_neox" and model.config._attn_implementation in ("sdpa", "eager")


def packed_hidden(model: PreTrainedModel, packed: PackedPairs) -> torch.Tensor:
    """The backbone's hidden states of the packed rows, flat: ``[B * T, hidden]``."""
    mask = packed.attention_mask
    if model.config._attn_implementation == "eager":  # eager attention adds its mask
        dtype = model.get_input_embeddings().weight.dtype
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            ~mask, torch.finfo(dtype).min
        )
    hidden = model.base_model(
        input_ids=packed.input_ids, attention_mask=mask, position_ids=packed.position_ids, use_cache=False
    ).last_hidden_state
    return hidden.reshape(-1, hidden.size(-1))


def predicting_hidden(model: PreTrainedModel, packed: PackedPairs) -> torch.Tensor:
    """The hidden states that predict each scored label, ``[N, hidden]``, in row-major order of
    ``packed.label_mask``."""
    return packed_hidden(model, packed)[packed.source]
