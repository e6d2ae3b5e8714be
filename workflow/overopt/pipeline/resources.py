"""What each rule asks a scheduler for (threads come from config; memory, runtime, GPUs from the model).

Tiny synthetic models run on CPU with fixed small requests. Hub models are sized from their
parameter count P (``models.<size>.params_b``) and ``resources`` in the config:

- training memory: ``train_bytes_per_param`` (weights + gradients + Adam moments + master copy,
  default 18 bytes) x P, plus activation headroom, spread over as many GPUs of ``gpu_mem_gb`` as
  needed (FSDP shards all of it); inference: 2 bytes x P for each of policy and reference;
- runtime: 6 x P x tokens (forward + backward) over the achieved FLOP/s per GPU
  (``achieved_tflops``), with a safety factor; generation and scoring for evaluation.
"""

from __future__ import annotations

import math
from typing import Any

from overopt.core import runs

CPU_DEFAULTS = {
    "prepare_data": (2000, 10),
    "tokenizer": (2000, 10),
    "sft": (4000, 60),
    "sft_quality": (2000, 10),
    "candidates": (4000, 30),
    "preferences": (2000, 10),
    "ref_logps": (3000, 20),
    "daa": (4000, 60),
    "sample": (3000, 30),
    "judge": (2000, 10),
    "reward_model": (4000, 60),
    "best_of_n_sample": (4000, 30),
    "best_of_n": (4000, 30),
}

RETRY_GROWTH = 1.5  # a retried job asks for this much more memory and time than its previous attempt
GROWS = ("mem_mb", "runtime")  # what a retry asks more of (a job out of memory or time)

HUB_DEFAULTS = {
    "gpu_mem_gb": 80,
    "achieved_tflops": 120,  # bf16 on an A100/H100-class GPU at ~40% utilisation
    "train_bytes_per_param": 18,
    "activation_gb": 16,
    "safety": 1.5,
    "host_mem_gb_per_gpu": 64,
    "sft_tokens": 117_000 * 450,  # TL;DR SFT: examples x mean tokens (prompt + summary)
    "pair_tokens": 92_858 * 2 * 470,  # comparisons: pairs x 2 sequences x mean tokens
    "eval_prompts": 500,
    "eval_new_tokens": 128,
    "eval_tokens_per_s": 1500,  # batched generation with the KV cache, per GPU, 1B model
    "judge_latency_s": 4.0,  # one API judge request: an LLM writing a ~60-token comparison
    "judge_concurrency": 8,  # requests in flight (the openai judge's default ``concurrency``)
}


def hub_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """The config's ``resources`` with defaults filled in."""
    return {**HUB_DEFAULTS, **cfg.get("resources", {})}


def gpus_for_training(params_b: float, s: dict[str, Any]) -> int:
    """GPUs whose memory holds the sharded training state (1, 2, 4 or 8)."""
    need = params_b * s["train_bytes_per_param"] + s["activation_gb"]
    n = 1
    while n * s["gpu_mem_gb"] < need and n < 8:
        n *= 2
    return n


def training_hours(params_b: float, tokens: float, gpus: int, s: dict[str, Any]) -> float:
    """Wall hours of one epoch over ``tokens`` on ``gpus`` GPUs."""
    flops = 6 * params_b * 1e9 * tokens
    return flops / (gpus * s["achieved_tflops"] * 1e12) / 3600 * s["safety"]


def evaluation_hours(params_b: float, s: dict[str, Any], policies: int = 1) -> float:
    """Wall hours of sampling and scoring ``policies`` policies' evaluation prompts on one GPU."""
    tokens = s["eval_prompts"] * s["eval_new_tokens"]
    rate = s["eval_tokens_per_s"] / max(1.0, params_b)  # roughly inverse in model size
    return policies * tokens / rate / 3600 * s["safety"] * 2 + 0.05  # policy + reference, loading


def group_size(cfg: dict[str, Any], size: str) -> int:
    """Policies of the largest evaluation group of a size (a run's checkpoints, or SFT + temperatures)."""
    return max(len(runs.checkpoint_names(cfg, size)), len(runs.group_policies(cfg, size, "sft")))


def judging_hours(cfg: dict[str, Any], comparisons: int) -> float:
    """Wall hours of ``comparisons`` API judge requests, ``concurrency`` of them in flight."""
    s = hub_settings(cfg)
    concurrency = int(cfg.get("judge", {}).get("concurrency", s["judge_concurrency"]))
    return comparisons * s["judge_latency_s"] / max(1, concurrency) / 3600 * s["safety"]


def rule_resources(cfg: dict[str, Any], rule: str, size: str | None = None) -> dict[str, Any]:
    """``mem_mb``, ``runtime`` (minutes) and ``gpu`` for a rule at a model size."""
    model = cfg["models"].get(size, {}) if size else {}
    if "hub_id" not in model:
        mem, minutes = CPU_DEFAULTS.get(rule, (1000, 10))
        return {"mem_mb": mem, "runtime": minutes, "gpu": 0}
    s = hub_settings(cfg)
    p = float(model.get("params_b", 1.0))
    if rule in {"sft", "daa"}:
        gpus = gpus_for_training(p, s)
        tokens = s["sft_tokens"] if rule == "sft" else s["pair_tokens"]
        hours = training_hours(p, tokens, gpus, s)
    elif rule == "ref_logps":
        gpus, hours = 1, training_hours(p, s["pair_tokens"], 1, s) / 3  # forward only
    elif rule == "sample":
        gpus, hours = 1, evaluation_hours(p, s, group_size(cfg, size))
    elif rule == "judge":  # no GPU: requests to an API (or a small reward model)
        hours = judging_hours(cfg, group_size(cfg, size) * s["eval_prompts"])
        return {"mem_mb": 8000, "runtime": max(10, math.ceil(hours * 60)), "gpu": 0}
    else:
        return {"mem_mb": 16000, "runtime": 60, "gpu": 0}
    return {
        "mem_mb": int(gpus * s["host_mem_gb_per_gpu"] * 1024),
        "runtime": max(10, math.ceil(hours * 60)),
        "gpu": gpus,
    }


def for_attempt(key: str, value: int, attempt: int) -> int:
    """A resource at a job's ``attempt`` (1 the first): ``mem_mb`` and ``runtime`` grow by
    ``RETRY_GROWTH`` with each retry (a job that ran out of memory or time asks for more), the rest
    stay."""
    if key not in GROWS or attempt <= 1:
        return value
    return math.ceil(value * RETRY_GROWTH ** (attempt - 1))
