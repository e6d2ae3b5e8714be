"""Trainer checkpoints in safetensors + JSON only: weights, optimizer, scheduler, RNG, arguments.

``transformers.Trainer`` pickles the optimizer, scheduler, RNG states and training arguments
with ``torch.save``. This mixin writes them as safetensors and JSON instead, and reads them
back on resume, so a resumed run continues bitwise where it stopped. Sharded set-ups
(DeepSpeed, FSDP) keep the library's own format.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng_state.safetensors"
STATE_JSON = "resume_state.json"


def _split_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace tensors in a nested structure by references into ``tensors``."""
    if isinstance(obj, torch.Tensor):
        key = prefix.strip(".")
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {str(k): _split_tensors(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


def _join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            return tensors[obj["__tensor__"]]
        return {k: _join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_tensors(v, tensors) for v in obj]
    return obj


def save_state(path: str, state: dict[str, Any]) -> None:
    """Save a nested dict of tensors and JSON values as ``path`` (.safetensors) + ``path``.json."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split_tensors(state, "", tensors)
    save_file(tensors, path)
    with open(path + ".json", "w", encoding="utf-8") as fh:
        json.dump(skeleton, fh, sort_keys=True)


def load_state(path: str) -> dict[str, Any]:
    """Inverse of :func:`save_state`."""
    tensors = load_file(path)
    with open(path + ".json", encoding="utf-8") as fh:
        return _join_tensors(json.load(fh), tensors)


def _optimizer_state(sd: dict[str, Any]) -> dict[str, Any]:
    # torch keys per-parameter state by int; JSON needs str keys (restored below)
    return {"state": {str(k): v for k, v in sd["state"].items()}, "param_groups": sd["param_groups"]}


def _restore_optimizer_state(sd: dict[str, Any]) -> dict[str, Any]:
    return {"state": {int(k): v for k, v in sd["state"].items()}, "param_groups": sd["param_groups"]}


class SafeCheckpointMixin:
    """Mix into a ``transformers.Trainer`` subclass (before it in the bases)."""

    def _sharded(self) -> bool:
        return bool(getattr(self, "is_deepspeed_enabled", False) or getattr(self, "is_fsdp_enabled", False))

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        super()._save(output_dir, state_dict)  # type: ignore[misc]
        output_dir = output_dir or self.args.output_dir  # type: ignore[attr-defined]
        pickled = os.path.join(output_dir, "training_args.bin")
        if os.path.exists(pickled):
            os.remove(pickled)
        if self.args.should_save:  # type: ignore[attr-defined]
            with open(os.path.join(output_dir, "training_args.json"), "w", encoding="utf-8") as fh:
                fh.write(self.args.to_json_string())  # type: ignore[attr-defined]

    def _load_from_checkpoint(
        self, resume_from_checkpoint: str, model: torch.nn.Module | None = None
    ) -> None:
        # Trainer loads the raw state dict, which skips transformers' key renaming on load (GPT-NeoX
        # saves its head as `embed_out`, the module is `lm_head`): the head would silently keep its
        # initial weights. Load through from_pretrained, which applies the renaming, then copy strictly.
        model = model if model is not None else self.model  # type: ignore[attr-defined]
        if self._sharded() or not os.path.exists(os.path.join(resume_from_checkpoint, "config.json")):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)  # type: ignore[misc]
        dtype = next(model.parameters()).dtype
        loaded = type(model).from_pretrained(resume_from_checkpoint, dtype=dtype)
        model.load_state_dict(loaded.state_dict(), strict=True)

    def _rng_file(self) -> str:
        """One RNG state per process (each rank draws its own dropout and sampling)."""
        rank, world = self.args.process_index, self.args.world_size  # type: ignore[attr-defined]
        return RNG_FILE if world == 1 else RNG_FILE.replace(".safetensors", f"_{rank}.safetensors")

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        if self._sharded():
            return super()._save_optimizer_and_scheduler(output_dir)  # type: ignore[misc]
        if not self.args.should_save:  # type: ignore[attr-defined]
            return  # DDP: every rank holds the same state; rank 0 writes it
        state = {
            "optimizer": _optimizer_state(self.optimizer.state_dict()),  # type: ignore[attr-defined]
            "scheduler": self.lr_scheduler.state_dict(),  # type: ignore[attr-defined]
        }
        save_state(os.path.join(output_dir, OPTIMIZER_FILE), state)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        path = os.path.join(checkpoint, OPTIMIZER_FILE)
        if self._sharded() or not os.path.exists(path):
            return super()._load_optimizer_and_scheduler(checkpoint)  # type: ignore[misc]
        state = load_state(path)
        self.optimizer.load_state_dict(_restore_optimizer_state(state["optimizer"]))  # type: ignore[attr-defined]
        self.lr_scheduler.load_state_dict(state["scheduler"])  # type: ignore[attr-defined]

    def _save_rng_state(self, output_dir: str) -> None:
        os.makedirs(output_dir, exist_ok=True)
        np_state = np.random.get_state()
        state: dict[str, Any] = {
            "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
            "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
            "cpu": torch.random.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.random.get_rng_state()
        save_state(os.path.join(output_dir, self._rng_file()), state)

    def _load_rng_state(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        path = os.path.join(checkpoint, self._rng_file())
        if not os.path.exists(path):
            return super()._load_rng_state(checkpoint)  # type: ignore[misc]
        state = load_state(path)
        py = state["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
        np_state = state["numpy"]
        np.random.set_state((np_state[0], np_state[1].numpy().astype(np.uint32), *np_state[2:]))
        torch.random.set_rng_state(state["cpu"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.random.set_rng_state(state["cuda"])
