"""Batched ancestral sampling with the KV cache, scored under the policy and a reference.

The policy and the reference are stepped in lockstep, each with its own cache, so every
sampled token gets, at no extra cost, its log-probability under both and the exact
full-vocabulary KL(pi(.|x, y<t) || ref(.|x, y<t)) at that position. Sampling uses a
``torch.Generator`` seeded per batch, so results do not depend on any global RNG state.
No top-k / top-p unless asked for: they truncate pi and bias KL estimates. Temperature 0 is
greedy decoding: the policy puts all its mass on the argmax, so its KL is -log ref(argmax). A prompt repeated
within a batch (best-of-n samples each prompt n times) is prefilled once, and the reference's
prompt prefill can be kept (``Prefills``) for every policy sampled against it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from overopt.core.runtime import derive_seed


@dataclass(frozen=True)
class SampleConfig:
    """How to sample (config ``evaluation`` / ``candidates``)."""

    temperature: float = 1.0
    max_new_tokens: int = 24
    top_k: int | None = None
    top_p: float | None = None
    batch_size: int = 256
    seed: int = 0


@dataclass(frozen=True)
class Sample:
    """One completion with its scores. Log-probs are summed over the completion tokens (eos included)."""

    completion: str
    token_ids: tuple[int, ...]
    n_tokens: int
    finished: bool
    logp_policy: float
    logp_ref: float
    kl_exact: float


def _filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    if top_k:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1, None]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, descending=True, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > top_p
        logits = logits.masked_fill(drop.scatter(-1, idx, drop), -math.inf)
    return logits


def _step(model: PreTrainedModel, ids: torch.Tensor, mask: torch.Tensor, cache, start: int):
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, start:]
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
    return out.logits[:, -1, :].float(), out.cache


def _prefill(model: PreTrainedModel, ids: torch.Tensor, mask: torch.Tensor):
    """``_step`` over the prompts, each distinct (left-padded) prompt row computed once."""
    distinct, inverse = torch.unique(ids, dim=0, return_inverse=True)
    if distinct.size(0) == ids.size(0):
        return _step(model, ids, mask, None, 0)
    rows = torch.empty(distinct.size(0), dtype=torch.long, device=ids.device)
    rows[inverse] = torch.arange(ids.size(0), device=ids.device)  # one batch row of each distinct prompt
    logits, cache = _step(model, ids[rows], mask[rows], None, 0)
    cache.reorder_cache(inverse)  # back to one row per batch row
    return logits[inverse], cache


class Prefills:
    """A reference model's prompt prefill per batch, computed once and handed out as copies.

    Every policy of an evaluation group is sampled on the same prompts in the same batches
    against the same reference, so the reference's prefill is the same each time: keeping it
    saves one prefill per policy and changes no byte.
    """

    def __init__(self) -> None:
        self._kept: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor, object]] = {}

    def get(self, model: PreTrainedModel, batch: int, ids: torch.Tensor, mask: torch.Tensor):
        """The prefill of ``ids`` for ``batch``, computed on first use."""
        kept = self._kept.get(batch)
        if kept is None or not (torch.equal(kept[0], ids) and torch.equal(kept[1], mask)):
            kept = (ids, mask, *_prefill(model, ids, mask))
            self._kept[batch] = kept
        return kept[2], copy.deepcopy(kept[3])


def _policy_logp(logits: torch.Tensor, cfg: SampleConfig) -> torch.Tensor:
    """Log-probabilities of the sampling policy; temperature 0 is greedy (all mass on the argmax)."""
    if cfg.temperature == 0:
        top = logits.argmax(-1, keepdim=True)
        return torch.full_like(logits, -math.inf).scatter(-1, top, 0.0)
    return F.log_softmax(_filter_logits(logits / cfg.temperature, cfg.top_k, cfg.top_p), -1)


def batches(items: Sequence, size: int) -> Iterator[tuple[int, Sequence]]:
    """``(batch_index, chunk)`` pairs."""
    for b, i in enumerate(range(0, len(items), size)):
        yield b, items[i : i + size]


@torch.no_grad()
def sample(
    policy: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    cfg: SampleConfig,
    reference: PreTrainedModel | None = None,
    prefills: Prefills | None = None,
) -> list[Sample]:
    """One sample per prompt. Without ``reference`` (or with the policy itself), ref = policy at T = 1.

    ``prefills`` keeps the reference's prompt prefill across calls with the same prompts.
    """
    policy.eval()
    ref = None if reference is None or reference is policy else reference.eval()
    device = next(policy.parameters()).device
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    results: list[Sample] = []
    for b, chunk in batches(prompts, cfg.batch_size):
        gen = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "batch", b))
        enc = tokenizer(list(chunk), return_tensors="pt", padding=True, padding_side="left")
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        n = ids.shape[0]
        done = torch.zeros(n, dtype=torch.bool, device=device)
        lp_pol = torch.zeros(n, dtype=torch.float64, device=device)
        lp_ref = torch.zeros_like(lp_pol)
        kl = torch.zeros_like(lp_pol)
        steps: list[torch.Tensor] = []
        logits, cache = _prefill(policy, ids, mask)
        ref_logits, ref_cache = None, None
        if ref is not None:
            first = prefills.get if prefills is not None else lambda m, _b, i, k: _prefill(m, i, k)
            ref_logits, ref_cache = first(ref, b, ids, mask)
        for t in range(cfg.max_new_tokens):
            pol_logp = _policy_logp(logits, cfg)
            base_logp = F.log_softmax(ref_logits if ref is not None else logits, -1)
            tok = torch.multinomial(pol_logp.exp(), 1, generator=gen).squeeze(-1)
            tok = torch.where(done, torch.full_like(tok, pad), tok)
            live = (~done).double()
            lp_pol += live * pol_logp.gather(-1, tok[:, None]).squeeze(-1).double()
            lp_ref += live * base_logp.gather(-1, tok[:, None]).squeeze(-1).double()
            p = pol_logp.exp()
            step_kl = (p * (pol_logp - base_logp)).nan_to_num(0.0).sum(-1)  # 0 * -inf terms are 0
            kl += live * step_kl.double()
            steps.append(tok)
            was_live = ~done
            done = done | (tok == eos)
            if bool(done.all()) or t == cfg.max_new_tokens - 1:
                break
            mask = torch.cat([mask, was_live.long()[:, None]], dim=-1)
            start = mask.shape[1] - 1
            logits, cache = _step(policy, tok[:, None], mask, cache, start)
            if ref is not None:
                ref_logits, ref_cache = _step(ref, tok[:, None], mask, ref_cache, start)
        toks = torch.stack(steps, dim=1).tolist()
        for i in range(n):
            seq = toks[i]
            finished = eos in seq
            body = seq[: seq.index(eos)] if finished else seq
            kept = seq[: seq.index(eos) + 1] if finished else seq
            text = tokenizer.decode(body, skip_special_tokens=True)
            if text and not text[0].isspace():
                text = " " + text
            results.append(
                Sample(
                    completion=text,
                    token_ids=tuple(kept),
                    n_tokens=len(kept),
                    finished=finished,
                    logp_policy=float(lp_pol[i]),
                    logp_ref=float(lp_ref[i]),
                    kl_exact=float(kl[i]),
                )
            )
    return results
