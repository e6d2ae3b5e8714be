"""Supervised fine-tuning with TRL's ``SFTTrainer`` (loss on the completion only)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset
from transformers import PreTrainedModel
from trl import SFTConfig, SFTTrainer

from .checkpointing import SafeCheckpointMixin
from .io import atomic_dir, atomic_path
from .launch import is_main_process
from .models import build_model, load_model, neox_config
from .tokenizer import load_tokenizer
from .trl_tuning import fit_fused_head_to_vocab


class SafeSFTTrainer(SafeCheckpointMixin, SFTTrainer):
    """``SFTTrainer`` whose checkpoints hold safetensors and JSON only."""


def initial_model(model_cfg: dict[str, Any], tokenizer, seed: int) -> PreTrainedModel:
    """A fresh tiny Pythia-architecture model, or the Hub checkpoint named in the config."""
    if "architecture" in model_cfg:
        cfg = neox_config(
            model_cfg["architecture"], len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id
        )
        return build_model(cfg, seed)
    return load_model(model_cfg["hub_id"], model_cfg.get("revision"), model_cfg.get("dtype", "float32"))


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


def tokenize_sft(rows: list[dict[str, str]], tokenizer, max_length: int) -> Dataset:
    """``input_ids`` of prompt + reference + eos, ``labels`` masking the prompt (loss on the completion only).

    Done here in one batched tokenizer call; TRL's per-example preparation costs more than
    training a tiny model for hundreds of steps.
    """
    prompts = tokenizer([r["prompt"] for r in rows], add_special_tokens=False)["input_ids"]
    full = tokenizer(
        [r["prompt"] + r["reference"] + tokenizer.eos_token for r in rows], add_special_tokens=False
    )["input_ids"]
    input_ids, labels = [], []
    for i, (p, ids) in enumerate(zip(prompts, full, strict=True)):
        if ids[: len(p)] != p:
            raise ValueError(
                f"SFT row {i} ({rows[i].get('id')}): the prompt's tokens are not a prefix of prompt+reference"
            )
        ids = ids[:max_length]
        input_ids.append(ids)
        labels.append([-100] * min(len(p), len(ids)) + ids[len(p) :])
    return Dataset.from_dict({"input_ids": input_ids, "labels": labels})


def write_history(log_history: list[dict[str, Any]], path: str | os.PathLike) -> pd.DataFrame:
    """The trainer's logged metrics, one row per logging step, as CSV."""
    rows = [r for r in log_history if "loss" in r]
    df = pd.DataFrame(rows)
    with atomic_path(path, ".csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    return df


def train_sft(
    rows: list[dict[str, str]],
    *,
    out_dir: str,
    history_path: str,
    model_cfg: dict[str, Any],
    tokenizer_path: str,
    opts: dict[str, Any],
    seed: int,
    scratch_dir: str,
) -> dict[str, Any]:
    """Train on ``rows`` ({prompt, reference}) and save an HF model directory with its tokenizer."""
    tokenizer = load_tokenizer(tokenizer_path, model_cfg.get("tokenizer_revision"))
    fit_fused_head_to_vocab(len(tokenizer))
    model = initial_model(model_cfg, tokenizer, seed)
    data = tokenize_sft(rows, tokenizer, int(opts.get("max_length", 128)))
    length = (
        {"max_steps": int(opts["max_steps"])}
        if "max_steps" in opts
        else {"num_train_epochs": int(opts.get("epochs", 1))}
    )
    args = SFTConfig(
        **training_args(
            opts,
            scratch_dir,
            seed,
            **length,
            completion_only_loss=True,
            packing=False,
            dataset_kwargs={"skip_prepare_dataset": True},
        )
    )
    trainer = SafeSFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    result = trainer.train()
    staging = f"{scratch_dir}/final"
    trainer.save_model(staging)  # every rank takes part (FSDP gathers the weights); rank 0 writes
    if is_main_process():
        with atomic_dir(out_dir) as tmp:
            for f in Path(staging).iterdir():
                shutil.move(str(f), tmp / f.name)
        shutil.rmtree(scratch_dir, ignore_errors=True)
        write_history(trainer.state.log_history, history_path)
    return {
        "train_runtime_s": result.metrics.get("train_runtime"),
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
    }
