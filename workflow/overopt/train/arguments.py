"""What SFT and DAA training share: the trainer arguments (fp32, no checkpointing, no telemetry)
and the training history written beside a model."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from overopt.core.io import atomic_path


def world_size() -> int:
    """Processes training together (``WORLD_SIZE``, set by ``accelerate launch``); 1 alone."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def batch_split(batch: int, per_device: int | None = None, world: int | None = None) -> tuple[int, int]:
    """(Per-process micro-batch, gradient accumulation steps) that make ``batch`` examples per
    optimizer step over ``world`` processes: ``batch`` is the same at any process count, so a run on
    two processes takes the steps one process takes (``per_device`` defaults to ``batch / world``)."""
    world = world_size() if world is None else world
    per_device = per_device or batch // world
    if per_device < 1 or batch % (per_device * world):
        raise ValueError(
            f"batch_size {batch} is not a multiple of the per-process batch {per_device} x {world} processes"
        )
    return per_device, batch // (per_device * world)


def training_args(opts: dict[str, Any], output_dir: str, seed: int, **overrides: Any) -> dict[str, Any]:
    """Trainer arguments shared by SFT and the DAA rule: fp32, no checkpointing, no telemetry."""
    import torch

    per_device, accumulation = batch_split(int(opts["batch_size"]), opts.get("per_device_batch_size"))
    args = {
        "output_dir": output_dir,
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": accumulation,
        "learning_rate": float(opts["learning_rate"]),
        "lr_scheduler_type": opts.get("lr_scheduler", "cosine"),
        "warmup_steps": int(opts.get("warmup_steps", 0)),
        "weight_decay": float(opts.get("weight_decay", 0.0)),
        "adam_beta2": float(opts.get("adam_beta2", 0.999)),
        "max_grad_norm": float(opts.get("max_grad_norm", 1.0)),
        "seed": seed,
        "data_seed": seed,
        "bf16": bool(opts.get("bf16", False)),
        "fp16": False,
        "gradient_checkpointing": bool(opts.get("gradient_checkpointing", False)),
        "logging_steps": int(opts.get("logging_steps", 25)),
        "save_strategy": "no",
        "report_to": [],
        "dataloader_num_workers": 0,
        "use_cpu": not torch.cuda.is_available(),
        "disable_tqdm": False,
        "max_length": int(opts.get("max_length", 128)),
    }
    args.update(overrides)
    return args


def write_history(log_history: list[dict[str, Any]], path: str | os.PathLike) -> pd.DataFrame:
    """The trainer's logged metrics, one row per logging step, as CSV."""
    rows = [r for r in log_history if "loss" in r]
    df = pd.DataFrame(rows)
    with atomic_path(path, ".csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    return df
