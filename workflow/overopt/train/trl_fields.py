"""Any other ``DPOConfig`` field from the config: ``daa.trl``, ``models.<size>.daa.trl`` and
``objectives.<o>.trl`` (merged in that order by ``overopt.core.config.run_options``).

A field must be one of TRL's ``DPOConfig`` dataclass (read from the installed TRL, so a renamed or
removed field is caught) and not one the workflow sets itself (``MANAGED``: its own config keys
hold those). ``check`` runs when the workflow builds its DAG, before any job; TRL is imported only
when a config has a ``trl`` block.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

# DPOConfig fields that the workflow derives from its own keys (overopt.train.arguments and
# overopt.train.daa.dpo_config), with where to set each
MANAGED = {
    "output_dir": "the rule's output",
    "per_device_train_batch_size": "daa.batch_size / daa.per_device_batch_size",
    "gradient_accumulation_steps": "daa.batch_size / daa.per_device_batch_size",
    "learning_rate": "daa.learning_rate (or models.<size>.daa / objectives.<o>.learning_rate)",
    "lr_scheduler_type": "daa.lr_scheduler",
    "warmup_steps": "daa.warmup_steps",
    "weight_decay": "daa.weight_decay",
    "adam_beta2": "daa.adam_beta2",
    "max_grad_norm": "daa.max_grad_norm",
    "seed": "seed",
    "data_seed": "seed",
    "bf16": "daa.bf16",
    "fp16": "daa.bf16",
    "gradient_checkpointing": "daa.gradient_checkpointing",
    "logging_steps": "daa.logging_steps",
    "save_strategy": "the workflow's checkpoints (daa.checkpoints)",
    "report_to": "nothing: no telemetry",
    "dataloader_num_workers": "nothing: fixed for determinism",
    "use_cpu": "nothing: follows the machine",
    "disable_tqdm": "nothing",
    "max_length": "daa.max_length",
    "num_train_epochs": "daa.epochs",
    "max_steps": "daa.epochs",
    "beta": "objectives.<o>.betas",
    "loss_type": "objectives.<o>.loss_type",
    "label_smoothing": "objectives.<o>.label_smoothing",
    "precompute_ref_log_probs": "nothing: the ref_logps rule computes them",
    "save_only_model": "nothing",
}


@functools.cache
def dpo_config_fields() -> frozenset[str]:
    """The field names of the installed TRL's ``DPOConfig``."""
    from trl import DPOConfig

    return frozenset(f.name for f in dataclasses.fields(DPOConfig))


def check(block: Mapping[str, Any], where: str) -> None:
    """Raise ``ValueError`` naming the config key of an unknown or workflow-managed field."""
    if not isinstance(block, Mapping):
        raise ValueError(f"config key '{where}': a mapping of DPOConfig fields to values")
    known = dpo_config_fields()
    for name in block:
        if name in MANAGED:
            raise ValueError(
                f"config key '{where}.{name}': the workflow sets this DPOConfig field itself; "
                f"set {MANAGED[name]} instead"
            )
        if name not in known:
            close = sorted(k for k in known if k.split("_")[0] == str(name).split("_")[0])[:5]
            raise ValueError(
                f"config key '{where}.{name}': not a field of TRL's DPOConfig"
                + (f" (similar: {', '.join(close)})" if close else "")
            )


def blocks(cfg: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every ``trl`` block of a config, with its key path."""
    out = []
    if "trl" in cfg.get("daa", {}):
        out.append(("daa.trl", cfg["daa"]["trl"]))
    for size, m in cfg["models"].items():
        if "trl" in m.get("daa", {}):
            out.append((f"models.{size}.daa.trl", m["daa"]["trl"]))
    for name, o in cfg["objectives"].items():
        if "trl" in o:
            out.append((f"objectives.{name}.trl", o["trl"]))
    return out
