"""Supervised fine-tuning with TRL's ``SFTTrainer`` (loss on the completion only)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import PreTrainedModel
from trl import SFTConfig, SFTTrainer

from overopt.core.io import atomic_dir
from overopt.core.runtime import is_main_process
from overopt.lm.models import build_model, load_model, neox_config
from overopt.lm.tokenizer import load_tokenizer
from overopt.train.arguments import training_args, write_history
from overopt.train.checkpointing import SafeCheckpointMixin
from overopt.train.trl_tuning import fit_fused_head_to_vocab


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
    # A Hub model's own tokenizer at the model's pinned revision (not the repository's main branch)
    revision = model_cfg.get("tokenizer_revision", model_cfg.get("revision"))
    tokenizer = load_tokenizer(tokenizer_path, revision)
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
