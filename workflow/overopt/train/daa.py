"""DAA training (DPO, IPO, SLiC, R-DPO, any registered loss type) with TRL's ``DPOTrainer``.

Differences from a plain ``DPOTrainer`` run, each a small hook:
- a custom loss type (``overopt.core.objectives.custom_loss``) replaces TRL's loss by its formula
  on the summed margin h, from the same forward pass; TRL's metrics are logged as usual;
- each pair is one packed row, its prompt computed once (``overopt.train.shared_prompt``), for the
  reference log-probs and in training alike;
- reference log-probs come precomputed from the ``ref_logps`` rule, shared by every objective
  and beta of a model size (TRL's own precompute is kept for that rule and the benchmark);
- R-DPO's length margin alpha (|y_w| - |y_l|) is added to beta * h by shifting the reference
  log-probs by alpha |y| / beta, so every loss type and metric of TRL stays as it is;
- a non-finite loss stops the job with an error naming the run and the step;
- checkpoints are written in safetensors + JSON only (``SafeCheckpointMixin``) to a state
  directory outside the rule's outputs; a killed job resumes from the newest complete one, and
  the model directories are published to the outputs only when the whole run has finished. The
  state belongs to one hash of the run's settings and code (``STATE_KEY``): after an edit of
  either, a rerun starts afresh and says so in the log, so a resume never mixes settings.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerBase, TrainerCallback
from trl import DPOConfig, DPOTrainer
from trl.data_utils import common_prefix_length

from overopt.core.io import atomic_dir
from overopt.core.objectives import Formula, loss_type
from overopt.core.runs import Run
from overopt.core.runtime import is_main_process
from overopt.lm.models import load_model
from overopt.lm.tokenizer import load_tokenizer
from overopt.train.arguments import training_args, write_history
from overopt.train.checkpointing import SafeCheckpointMixin
from overopt.train.shared_prompt import share_prompts
from overopt.train.trl_tuning import fit_fused_head_to_vocab

STATE_KEY = "settings.sha256"  # in the state directory: the settings and code it belongs to
# What a trainer checkpoint holds besides the model: never published as part of a policy.
TRAINING_STATE = ("optimizer", "scheduler", "scaler", "rng_state", "trainer_state.json", "training_args")


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite."""


class DAATrainer(SafeCheckpointMixin, DPOTrainer):
    """``DPOTrainer`` with shared reference log-probs, R-DPO's length margin and a finiteness check."""

    def __init__(
        self,
        *args: Any,
        run: Run,
        length_alpha: float = 0.0,
        custom_loss: Formula | None = None,
        **kwargs: Any,
    ) -> None:
        self.run = run
        self.length_alpha = float(length_alpha)
        self.custom_loss = custom_loss
        super().__init__(*args, **kwargs)
        self._share_prompts()

    def _share_prompts(self) -> None:
        # TRL's fused head (patched in by DPOTrainer.__init__) computes these fields for its metrics
        outputs = ("log_probs", "entropy", "mean_logits", "is_top1")
        share_prompts(self.model, outputs + (("log_sum_sq_probs",) if self.use_weighting else ()))

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        # TRL tokenizes pair by pair through `datasets.map`: ~8 s for 8,000 pairs, more than a tiny
        # model's whole epoch. For plain-text pairs and a tokenizer, do the same in three batched
        # calls (a test checks the columns equal TRL's own).
        if not (
            isinstance(dataset, Dataset)
            and isinstance(processing_class, PreTrainedTokenizerBase)
            and {"prompt", "chosen", "rejected"} <= set(dataset.column_names)
            and isinstance(dataset[0]["prompt"], str)
        ):
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        return tokenize_pairs(dataset, processing_class, args.max_length, args.truncation_mode)

    def _precompute_ref_logps(self, dataset: Dataset, name: str, batch_size: int) -> Dataset:
        # Columns from the ref_logps rule are used as they are; without them, TRL computes its own.
        if {"ref_chosen_logps", "ref_rejected_logps"} <= set(dataset.column_names):
            return dataset
        self._share_prompts()  # DPOTrainer.__init__ precomputes before it returns
        return super()._precompute_ref_logps(dataset, name, batch_size)

    def _compute_loss(self, model, inputs, return_outputs):
        if self.length_alpha:
            # beta*h + alpha*(|y_w| - |y_l|): shift each reference log-prob by -alpha*|y|/beta
            lengths = inputs["completion_mask"].sum(dim=1).to(inputs["ref_chosen_logps"].dtype)
            chosen_len, rejected_len = lengths.chunk(2, dim=0)
            scale = self.length_alpha / self.beta
            inputs = {
                **inputs,
                "ref_chosen_logps": inputs["ref_chosen_logps"] - scale * chosen_len,
                "ref_rejected_logps": inputs["ref_rejected_logps"] - scale * rejected_len,
            }
        if self.custom_loss is None:
            return super()._compute_loss(model, inputs, return_outputs)
        return self._custom_loss(model, inputs, return_outputs)

    def _custom_loss(self, model, inputs, return_outputs):
        """The custom formula on h from TRL's own forward pass (TRL's loss is computed and dropped)."""
        captured: dict[str, Any] = {}
        handle = model.register_forward_hook(lambda _m, _a, out: captured.setdefault("out", out))
        try:
            super()._compute_loss(model, inputs, False)
        finally:
            handle.remove()
        seq_len = inputs["completion_mask"].size(1) - 1
        logps = captured["out"].log_probs[:, -seq_len:].sum(dim=1)
        chosen, rejected = logps.chunk(2, dim=0)
        margin = (chosen - inputs["ref_chosen_logps"]) - (rejected - inputs["ref_rejected_logps"])
        loss = self.custom_loss(self.beta, margin).mean()
        return (loss, captured["out"]) if return_outputs else loss

    def training_step(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        loss = super().training_step(*args, **kwargs)
        if not torch.isfinite(loss).all():
            raise NonFiniteLossError(
                f"non-finite loss ({loss.item()}) in {self.run} at step {self.state.global_step + 1}; "
                "no checkpoint of this step was written. Lower the learning rate or check the data."
            )
        return loss


class KillAtStep(TrainerCallback):
    """Fault injection for the resume test: SIGKILL this process when ``step`` is reached.

    Enabled only by the environment variable ``OVEROPT_KILL_AT_STEP``.
    """

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            print(f"OVEROPT_KILL_AT_STEP: killing the job at step {self.step}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return control


class SaveAtSteps(TrainerCallback):
    """Ask the trainer to checkpoint at the given optimizer steps."""

    def __init__(self, steps: list[int]) -> None:
        self.steps = set(steps)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step in self.steps:
            control.should_save = True
        return control


def tokenize_pairs(dataset: Dataset, tokenizer, max_length: int | None, truncation_mode: str) -> Dataset:
    """prompt_ids / chosen_ids / rejected_ids exactly as ``DPOTrainer._prepare_dataset`` makes them."""
    eos = tokenizer.eos_token
    cols = dataset.to_dict()
    n = len(cols["prompt"])
    chosen = [c if c.endswith(eos) else c + eos for c in cols["chosen"]]
    rejected = [r if r.endswith(eos) else r + eos for r in cols["rejected"]]
    texts = cols["prompt"] + [p + c for p, c in zip(cols["prompt"], chosen, strict=True)]
    texts += [p + r for p, r in zip(cols["prompt"], rejected, strict=True)]
    ids = tokenizer(text=texts)["input_ids"]
    p_ids, c_ids, r_ids = ids[:n], ids[n : 2 * n], ids[2 * n :]
    cols |= {"chosen": chosen, "rejected": rejected, "prompt_ids": [], "chosen_ids": [], "rejected_ids": []}
    for p, c, r in zip(p_ids, c_ids, r_ids, strict=True):
        k = min(common_prefix_length(p, c), common_prefix_length(p, r))
        cols["prompt_ids"].append(p[:k])
        cols["chosen_ids"].append(c[k:])
        cols["rejected_ids"].append(r[k:])
    if max_length is not None and truncation_mode == "keep_start":
        keep = [i for i, p in enumerate(cols["prompt_ids"]) if len(p) < max_length]
        if len(keep) < n:
            cols = {name: [values[i] for i in keep] for name, values in cols.items()}
    return Dataset.from_dict(cols)


def fault_injection() -> list[TrainerCallback]:
    """The kill switch of the resume test, if ``OVEROPT_KILL_AT_STEP`` is set."""
    step = os.environ.get("OVEROPT_KILL_AT_STEP")
    return [KillAtStep(int(step))] if step else []


def swapped(pair_id: str) -> bool:
    """Whether the shuffled-label control swaps this pair's sides: a fixed half of the pairs, by a
    hash of the id (the same pairs at every size, beta and replicate; no random state involved)."""
    return hashlib.sha256(f"shuffled-labels:{pair_id}".encode()).digest()[0] % 2 == 1


def shuffle_labels(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The negative control's pairs (objective ``labels: shuffled``): the chosen and rejected sides
    swapped in the half of the pairs ``swapped`` picks, so the label carries no information about
    which side is better. ``pairs_dataset`` swaps their reference log-probs with them."""
    flip = [swapped(str(p["id"])) for p in pairs]
    return [
        {**p, "chosen": p["rejected"], "rejected": p["chosen"], "swapped": True} if f else p
        for p, f in zip(pairs, flip, strict=True)
    ]


def pairs_dataset(pairs: list[dict[str, Any]], ref: dict[str, dict[str, float]] | None) -> Dataset:
    """prompt / chosen / rejected (+ the shared reference log-probs when given), in file order."""
    cols: dict[str, list[Any]] = {"prompt": [], "chosen": [], "rejected": []}
    if ref is not None:
        cols |= {"ref_chosen_logps": [], "ref_rejected_logps": []}
    for p in pairs:
        cols["prompt"].append(p["prompt"])
        cols["chosen"].append(p["chosen"])
        cols["rejected"].append(p["rejected"])
        if ref is not None:
            if p["id"] not in ref:
                raise ValueError(f"pair {p['id']} has no reference log-probs: rerun the ref_logps rule")
            keys = ("ref_chosen_logps", "ref_rejected_logps")
            for key, source in zip(keys, keys[::-1] if p.get("swapped") else keys, strict=True):
                value = ref[p["id"]][source]
                if not math.isfinite(value):
                    raise ValueError(
                        f"pair {p['id']}: non-finite reference log-prob {key}={value}; rerun ref_logps"
                    )
                cols[key].append(value)
    return Dataset.from_dict(cols)


def dpo_config(
    opts: dict[str, Any],
    objective: dict[str, Any],
    beta: float,
    output_dir: str,
    seed: int,
    max_steps: int | None = None,
    **overrides: Any,
) -> DPOConfig:
    """DPOConfig for one run: fp32, no gradient checkpointing, one epoch, no TRL-side saving."""
    args = training_args(
        opts,
        output_dir,
        seed,
        num_train_epochs=int(opts.get("epochs", 1)),
        beta=float(beta),
        loss_type=[objective["loss_type"] if loss_type(objective["loss_type"]).trl else "sigmoid"],
        label_smoothing=float(objective.get("label_smoothing", 0.0)),
        precompute_ref_log_probs=True,
        save_only_model=False,
    )
    if max_steps is not None:
        args["max_steps"] = max_steps
    args.update(opts.get("trl", {}))  # further DPOConfig fields (overopt.train.trl_fields checks them)
    args.update(overrides)
    return DPOConfig(**args)


def latest_checkpoint(state_dir: str | Path) -> str | None:
    """The newest complete trainer checkpoint (its trainer_state.json parses) in ``state_dir``."""
    best: tuple[int, str] | None = None
    for d in Path(state_dir).glob("checkpoint-*"):
        try:
            json.loads((d / "trainer_state.json").read_text())
            step = int(d.name.split("-")[1])
        except (OSError, ValueError):
            continue
        if best is None or step > best[0]:
            best = (step, str(d))
    return best[1] if best else None


def publish(checkpoint_dir: str | Path, out_dir: str | Path) -> None:
    """Copy a trainer checkpoint's model (all weight shards) and tokenizer, not its training state,
    to ``out_dir`` atomically."""
    with atomic_dir(out_dir) as tmp:
        for src in sorted(Path(checkpoint_dir).iterdir()):
            if src.is_file() and not src.name.startswith(TRAINING_STATE):
                shutil.copy2(src, tmp / src.name)


def claim_state(state_dir: str | Path, key: str, run: Run) -> None:
    """Keep ``state_dir`` only if it belongs to ``key``; otherwise remove it, saying so; then claim it."""
    state = Path(state_dir)
    marker = state / STATE_KEY
    if state.exists() and (not marker.exists() or marker.read_text().strip() != key):
        print(
            f"{run}: the saved trainer state in {state} belongs to other settings or code "
            f"({marker.read_text().strip() if marker.exists() else 'unknown'}, now {key}): starting afresh",
            flush=True,
        )
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    marker.write_text(key + "\n")


def train_daa(
    *,
    pairs: list[dict[str, Any]],
    ref_logps: dict[str, dict[str, float]] | None,
    sft_dir: str,
    run: Run,
    objective: dict[str, Any],
    opts: dict[str, Any],
    checkpoint_steps: list[int],
    checkpoint_outputs: list[str],
    history_path: str,
    state_dir: str,
    seed: int,
    state_key: str,
) -> dict[str, Any]:
    """Train one (size, objective, beta) run, resuming from ``state_dir`` if a previous attempt of
    the same settings and code (``state_key``) died."""
    if is_main_process():
        claim_state(state_dir, state_key, run)
    tokenizer = load_tokenizer(sft_dir)
    fit_fused_head_to_vocab(len(tokenizer))
    loss = loss_type(objective["loss_type"])
    model = load_model(sft_dir)
    if objective.get("labels", "given") == "shuffled":
        pairs = shuffle_labels(pairs)
    data = pairs_dataset(pairs, ref_logps)
    args = dpo_config(opts, objective, run.beta, state_dir, seed)
    trainer = DAATrainer(
        model=model,
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
        callbacks=[SaveAtSteps(checkpoint_steps), *fault_injection()],
        run=run,
        length_alpha=float(objective.get("length_alpha", 0.0)),
        custom_loss=None if loss.trl else loss.formula,
    )
    trainer.accelerator.wait_for_everyone()  # every rank reads the state rank 0 claimed
    resume = latest_checkpoint(state_dir)
    if resume:
        print(f"resuming {run} from {resume}", flush=True)
    result = trainer.train(resume_from_checkpoint=resume)
    if trainer.state.global_step != checkpoint_steps[-1]:
        raise RuntimeError(
            f"{run}: trained {trainer.state.global_step} steps, expected {checkpoint_steps[-1]}"
        )
    if is_main_process():
        for step, out in zip(checkpoint_steps, checkpoint_outputs, strict=True):
            publish(Path(state_dir) / f"checkpoint-{step}", out)
        write_history(trainer.state.log_history, history_path)
        shutil.rmtree(state_dir, ignore_errors=True)
    return {
        "run": str(run),
        "steps": trainer.state.global_step,
        "resumed_from": os.path.basename(resume) if resume else None,
        "train_runtime_s": result.metrics.get("train_runtime"),
        "train_loss": None if math.isnan(result.training_loss) else result.training_loss,
        **({"trl_fields": {k: _plain(getattr(args, k)) for k in opts["trl"]}} if opts.get("trl") else {}),
    }


def _plain(value: Any) -> Any:
    """A DPOConfig value as JSON can hold it (an enum by its value)."""
    return value if isinstance(value, bool | int | float | str | type(None) | list | dict) else str(value)


def compute_ref_logps(
    pairs: list[dict[str, Any]], *, sft_dir: str, opts: dict[str, Any], seed: int, scratch_dir: str
) -> list[dict[str, Any]]:
    """Summed reference log-probs of every chosen and rejected completion, by TRL's own precompute.

    Computed once per model size; every objective and beta of that size reuses them. Of ``opts``
    only ``max_length`` (truncation) and ``ref_batch_size`` shape the result; the optimizer
    settings a ``DPOConfig`` needs are placeholders here (nothing is trained).
    """
    opts = {
        "batch_size": 1,
        "learning_rate": 1.0,
        **{k: opts[k] for k in ("max_length", "ref_batch_size") if k in opts},
    }
    tokenizer = load_tokenizer(sft_dir)
    fit_fused_head_to_vocab(len(tokenizer))
    args = dpo_config(
        opts,
        {"loss_type": "sigmoid"},
        1.0,
        scratch_dir,
        seed,
        precompute_ref_batch_size=int(opts.get("ref_batch_size", 256)),
    )
    trainer = DAATrainer(
        model=load_model(sft_dir),
        args=args,
        train_dataset=pairs_dataset(pairs, None),
        processing_class=tokenizer,
        run=Run(Path(sft_dir).parent.name, "reference", "1"),
    )
    data = trainer.train_dataset
    if len(data) != len(pairs):
        raise ValueError(
            f"{len(pairs) - len(data)} preference pairs were dropped by TRL (prompt longer than "
            f"daa.max_length {opts.get('max_length')}): raise daa.max_length"
        )
    shutil.rmtree(scratch_dir, ignore_errors=True)
    return [
        {"id": p["id"], "ref_chosen_logps": float(c), "ref_rejected_logps": float(r)}
        for p, c, r in zip(pairs, data["ref_chosen_logps"], data["ref_rejected_logps"], strict=True)
    ]
