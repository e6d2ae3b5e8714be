"""Model construction: a tiny Pythia-architecture family from config, or a Hub checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoModelForCausalLM, GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedModel

# Pythia's architectural choices (Biderman et al. 2023), kept at every tiny size.
PYTHIA_DEFAULTS: dict[str, Any] = {
    "use_parallel_residual": True,
    "tie_word_embeddings": False,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
    "attention_dropout": 0.0,
    "hidden_dropout": 0.0,
    "initializer_range": 0.02,
}


def neox_config(arch: dict[str, Any], vocab_size: int, eos_id: int, pad_id: int) -> GPTNeoXConfig:
    """A GPT-NeoX config for a tiny Pythia-style model from ``models.<size>.architecture``."""
    hidden = int(arch["hidden_size"])
    kwargs = {**PYTHIA_DEFAULTS, **{k: v for k, v in arch.items() if k in PYTHIA_DEFAULTS}}
    rope = {
        "rope_type": "default",
        "rope_theta": float(arch.get("rope_theta", 10000.0)),
        "partial_rotary_factor": float(arch.get("rotary_pct", 0.25)),  # Pythia: 25% of head dims
    }
    return GPTNeoXConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=int(arch["num_layers"]),
        num_attention_heads=int(arch["num_heads"]),
        intermediate_size=int(arch.get("intermediate_size", 4 * hidden)),
        max_position_embeddings=int(arch.get("max_position_embeddings", 128)),
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        rope_parameters=rope,
        **kwargs,
    )


def build_model(config: GPTNeoXConfig, seed: int) -> GPTNeoXForCausalLM:
    """A freshly initialised fp32 model, seeded."""
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(config).float()


def load_model(path_or_id: str, revision: str | None = None, dtype: str = "float32") -> PreTrainedModel:
    """Load a causal LM saved by this workflow (or from the Hub)."""
    return AutoModelForCausalLM.from_pretrained(
        path_or_id, revision=revision, dtype=getattr(torch, dtype), use_safetensors=True
    )


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """Total and non-embedding parameter counts (input embedding and output head excluded)."""
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    head = model.get_output_embeddings()
    head_n = head.weight.numel() if head is not None else 0
    return {"total": total, "non_embedding": total - emb - head_n}
