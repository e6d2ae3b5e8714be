"""DAA training speed, measured as ratios in one run (so the machine's speed cancels out).

(a) the workflow's DAA training step (TRL DPOTrainer via overopt.train.daa, each pair packed so
    its prompt is computed once) against a minimal hand-written PyTorch DPO step on the same model
    and the same batches, which computes every pair as two rows;
(b) a sweep of several betas with the shared reference log-probs (one precompute per size)
    against each run doing TRL's own precompute;
(c) achieved FLOP/s of a DAA step (on the tokens it computes) against a large fp32 matrix multiply.

Usage: python benchmarks/daa_step.py [--config config/config.yaml] [--size m] [--threads 1] [--no-sweep]
Self-contained: a randomly initialised model of the configured architecture and synthetic pairs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch
import torch.nn.functional as F
from transformers import TrainerCallback

from overopt.core import config as C
from overopt.core import runtime
from overopt.core.runs import Run
from overopt.data import synthetic
from overopt.lm.models import build_model, count_parameters, neox_config
from overopt.lm.tokenizer import load_tokenizer, train_word_tokenizer
from overopt.train.daa import DAATrainer, dpo_config, pairs_dataset
from overopt.train.trl_tuning import fit_fused_head_to_vocab


class StepTimer(TrainerCallback):
    """Wall time of every optimizer step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._t = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._t)


def make_pairs(n: int, seed: int) -> list[dict]:
    import random

    rng = random.Random(seed)
    rows = synthetic.generate(n, seed, "bench", synthetic.TaskParams())
    return [
        {
            "id": r["id"],
            "prompt": r["prompt"],
            "chosen": r["reference"],
            "rejected": synthetic.perturb(rng, r["prompt"], r["reference"]),
        }
        for r in rows
    ]


def trainer_for(model, tok, pairs, ref, opts, beta, out, max_steps=None, callbacks=()):
    args = dpo_config(opts, {"loss_type": "sigmoid"}, beta, out, 0, max_steps=max_steps, disable_tqdm=True)
    return DAATrainer(
        model=model,
        args=args,
        train_dataset=pairs_dataset(pairs, ref),
        processing_class=tok,
        callbacks=list(callbacks),
        run=Run("bench", "dpo", str(beta)),
    )


def hand_step_times(model, batches, ref_batches, beta, lr, steps) -> list[float]:
    """A minimal DPO step: one forward of [chosen; rejected], summed completion log-probs, AdamW."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    times = []
    for i in range(steps):
        b = batches[i % len(batches)]
        ref_c, ref_r = ref_batches[i % len(ref_batches)]
        t = time.perf_counter()
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1]
        labels = b["input_ids"][:, 1:]
        mask = b["completion_mask"][:, 1:].float()
        logp = (F.log_softmax(logits, -1).gather(-1, labels[..., None]).squeeze(-1) * mask).sum(-1)
        pc, pr = logp.chunk(2)
        loss = -F.logsigmoid(beta * ((pc - ref_c) - (pr - ref_r))).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t)
    return times


def matmul_flops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--size", default=None, help="model size (default: the middle one)")
    ap.add_argument(
        "--objective",
        default="dpo",
        help="the run options (learning rate) of this objective's runs (overopt.core.config.run_options)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--pairs", type=int, default=8000, help="pairs per epoch (the default study has 8,000)")
    ap.add_argument("--betas", type=int, default=3)
    ap.add_argument("--no-sweep", action="store_true", help="skip (b), the sweep of betas")
    a = ap.parse_args()
    cfg = C.load(a.config)
    sizes = list(cfg["models"])
    size = a.size or sizes[len(sizes) // 2]
    runtime.setup(a.threads, 0)
    opts = {**C.run_options(cfg, "daa", size, a.objective), "logging_steps": 10**6}
    pairs = make_pairs(a.pairs, 0)
    with tempfile.TemporaryDirectory() as tmp:
        train_word_tokenizer(
            [" ".join(synthetic.vocabulary())] + [p["prompt"] + p["chosen"] for p in pairs], tmp
        )
        tok = load_tokenizer(tmp)
        fit_fused_head_to_vocab(len(tok))
        arch = cfg["models"][size]["architecture"]
        mcfg = neox_config(arch, len(tok), tok.eos_token_id, tok.pad_token_id)

        def fresh():
            return build_model(mcfg, 0)

        n_params = count_parameters(fresh())["total"]

        # shared reference log-probs, by TRL's own precompute, once
        t0 = time.perf_counter()
        probe = trainer_for(fresh(), tok, pairs, None, opts, 0.1, f"{tmp}/ref", max_steps=1)
        data = probe.train_dataset
        ref = {
            p["id"]: {"ref_chosen_logps": c, "ref_rejected_logps": r}
            for p, c, r in zip(pairs, data["ref_chosen_logps"], data["ref_rejected_logps"], strict=True)
        }
        t_precompute = time.perf_counter() - t0

        # (a) the workflow's step against a hand-written one, same model init and batches
        timer = StepTimer()
        tr = trainer_for(
            fresh(), tok, pairs, ref, opts, 0.1, f"{tmp}/a", max_steps=a.steps, callbacks=[timer]
        )
        loader = tr.get_train_dataloader()
        batches, ref_batches, tokens, packed = [], [], [], []
        for b in loader:
            batches.append(b)
            ref_batches.append((b["ref_chosen_logps"], b["ref_rejected_logps"]))
            tokens.append(int(b["attention_mask"].sum()))
            half = b["attention_mask"].size(0) // 2  # packed: each rejected row's prompt is not recomputed
            packed.append(
                tokens[-1] - int((b["attention_mask"][half:] * (1 - b["completion_mask"][half:])).sum())
            )
            if len(batches) == 8:
                break
        tr.train()
        ours = statistics.median(timer.times[3:])
        hand = statistics.median(
            hand_step_times(fresh(), batches, ref_batches, 0.1, float(opts["learning_rate"]), a.steps)[3:]
        )

        # (b) a sweep of betas: shared reference log-probs against TRL's per-run precompute
        if not a.no_sweep:
            t0 = time.perf_counter()
            for i in range(a.betas):
                trainer_for(
                    fresh(), tok, pairs, ref, opts, 0.1 * (i + 1), f"{tmp}/s{i}", max_steps=a.steps
                ).train()
            shared = t_precompute + time.perf_counter() - t0
            t0 = time.perf_counter()
            for i in range(a.betas):
                trainer_for(
                    fresh(), tok, pairs, None, opts, 0.1 * (i + 1), f"{tmp}/p{i}", max_steps=a.steps
                ).train()
            per_run = time.perf_counter() - t0

    # (c) achieved FLOP/s: 6 x parameters x tokens computed (forward + backward of the packed pairs)
    step_flops = 6 * n_params * statistics.mean(packed)
    peak = matmul_flops()
    print(
        f"size {size}: {n_params:,} parameters, {statistics.mean(tokens):.0f} tokens a step unpacked, "
        f"{statistics.mean(packed):.0f} packed, "
        f"{a.threads} thread(s)"
    )
    print(
        f"(a) DAA step: workflow {ours * 1e3:.1f} ms, hand-written {hand * 1e3:.1f} ms "
        f"-> ratio {ours / hand:.2f}x"
    )
    if not a.no_sweep:
        print(
            f"(b) {a.betas} betas x {a.steps} steps over {a.pairs} pairs: shared ref log-probs "
            f"{shared:.1f} s, TRL per-run precompute {per_run:.1f} s -> speed-up {per_run / shared:.2f}x"
        )
    print(
        f"(c) DAA step {step_flops / ours / 1e9:.2f} GFLOP/s, 2048^2 matmul {peak / 1e9:.1f} GFLOP/s "
        f"-> {step_flops / ours / peak:.1%} of the matmul rate"
    )


if __name__ == "__main__":
    sys.exit(main())
