"""TRL's forwards on packed pairs (``overopt.lm.packing``): each prompt computed once.

``DPOTrainer`` scores a batch with ``model(..., labels=, fused_lm_head=True)``, which TRL's
``add_fused_lm_head`` routes through its chunked log-prob kernel. ``share_prompts`` wraps that
forward: a pair batch runs the backbone once on packed rows, and TRL's own kernel scores the
completion positions; the output has the layout and fields of TRL's fused head, so TRL's losses
and metrics are computed from it unchanged. A batch that is not made of pairs sharing a prompt,
or a model the packing does not support, goes through TRL's forward as it is.

``RewardTrainer`` scores ``[chosen rows; rejected rows]`` of ``prompt + completion`` texts with a
sequence classifier; ``share_reward_prefixes`` packs each pair on its common prefix and reads the
score at each row's last token, as the classifier does.
"""

from __future__ import annotations

import functools
import types

from transformers import PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutputWithPast

from overopt.lm.packing import (
    pack_pairs,
    packed_hidden,
    predicting_hidden,
    shared_prefix_labels,
    supports_packing,
)


def share_prompts(model: PreTrainedModel, outputs: tuple[str, ...]) -> None:
    """Route ``model``'s fused-head forward on pair batches through one packed forward.

    Call after TRL's ``add_fused_lm_head`` patched the model; ``outputs`` are the per-token fields
    its fused head was asked for. Patching twice is a no-op.
    """
    if getattr(model, "_overopt_shared_prompts", False) or not supports_packing(model):
        return
    from trl.trainer import utils as trl_utils

    fused_forward = model.forward

    @functools.wraps(type(model).forward)
    def forward(self, *args, fused_lm_head=False, labels=None, **kwargs):
        packed = None
        if (
            fused_lm_head
            and labels is not None
            and not args
            and set(kwargs) <= {"input_ids", "attention_mask", "use_cache"}
        ):
            packed = pack_pairs(kwargs["input_ids"], kwargs["attention_mask"], labels)
        if packed is None:
            return fused_forward(*args, fused_lm_head=fused_lm_head, labels=labels, **kwargs)
        head = self.get_output_embeddings()
        per_token = trl_utils._ChunkedLogProbFunction.apply(
            predicting_hidden(self, packed),
            head.weight,
            head.bias,
            labels[:, 1:][packed.label_mask],
            1.0,  # temperature
            trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE,
            None,  # no soft-capping (GPT-NeoX)
            1.0,  # no logit scale (GPT-NeoX)
            outputs,
        )
        mask = packed.label_mask
        fields = [None if x is None else x.new_zeros(mask.shape).masked_scatter(mask, x) for x in per_token]
        log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1 = fields
        return trl_utils.FusedCausalLMOutput(
            loss=-log_probs.sum() / mask.sum().clamp(min=1),
            log_probs=log_probs,
            entropy=entropy,
            log_sum_sq_probs=log_sum_sq_probs,
            mean_logits=mean_logits,
            is_top1=is_top1,
            label_mask=mask,
        )

    model.forward = types.MethodType(forward, model)
    model._overopt_shared_prompts = True


def share_reward_prefixes(model: PreTrainedModel) -> None:
    """Route a sequence classifier's forward on pair batches (``RewardTrainer``'s) through one
    packed forward. Patching twice is a no-op."""
    if getattr(model, "_overopt_shared_prompts", False) or not supports_packing(model):
        return
    plain_forward = model.forward

    @functools.wraps(type(model).forward)
    def forward(self, *args, **kwargs):
        ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
        plain = (
            args or ids is None or mask is None or set(kwargs) - {"input_ids", "attention_mask", "use_cache"}
        )
        labels = None if plain else shared_prefix_labels(ids, mask)
        packed = None if labels is None else pack_pairs(ids, mask, labels)
        if packed is None:
            return plain_forward(*args, **kwargs)
        return SequenceClassifierOutputWithPast(logits=self.score(packed_hidden(self, packed)[packed.ends]))

    model.forward = types.MethodType(forward, model)
    model._overopt_shared_prompts = True
