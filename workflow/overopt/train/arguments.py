"""What SFT and DAA training share: the trainer arguments (fp32, no checkpointing, no telemetry)
and the training history written beside a model."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from overopt.core.io import atomic_path


def training_args(opts: dict[str, Any], output_dir: str, seed: int, **overrides: Any) -> dict[str, Any]:
    """Trainer arguments shared by SFT and the DAA rule: fp32, no checkpointing, no telemetry."""
    import torch

    args = {
        "output_dir": output_dir,
        "per_device_train_batch_size": int(opts["batch_size"]),
        "gradient_accumulation_steps": int(opts.get("gradient_accumulation_steps", 1)),
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
