"""One optimizer step of each training rule (sft, daa, reward_model) at a model shape, twice.

Runs the workflow's own training functions (``overopt.train``: TRL's SFTTrainer, the DAA trainer
after its shared reference log-probs, RewardTrainer) on random weights of the given architecture,
with the run options the config gives its smallest size (batch, sequence length, precision), on
whatever device torch finds. Prints, per rule: the mean wall time per optimizer step (the first
step included), the peak GPU memory, and whether the two runs wrote the same weights (bytes).

Usage: python benchmarks/gpu_steps.py [--config config/paper.yaml] [--arch 2048,16,8] [--steps 2]
The default shape is Pythia-1B's width, depth and heads (the paper config's smallest size), with a
word-level vocabulary of the synthetic task instead of Pythia's 50k tokens (the embedding is 13%
of Pythia-1B's parameters; the transformer blocks are what a step's time and memory are made of).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch

from overopt.core import config as C
from overopt.core import runtime
from overopt.core.runs import Run
from overopt.data import gold, synthetic
from overopt.lm.tokenizer import train_word_tokenizer
from overopt.train.daa import compute_ref_logps, train_daa
from overopt.train.reward_model import train_reward_model
from overopt.train.sft import train_sft

RULES = ("sft", "daa", "reward_model")


def long_rows(n: int, words: int, seed: int) -> list[dict[str, str]]:
    """``n`` SFT rows whose prompts join synthetic posts to about ``words`` words (one token each)."""
    rng = random.Random(seed)
    posts = synthetic.generate(n * max(1, words // 25), seed, "gpu-check", synthetic.TaskParams())
    rows, per = [], max(1, len(posts) // n)
    for i in range(n):
        group = posts[i * per : (i + 1) * per]
        prompt = " ".join(p["prompt"] for p in group)
        rows.append(
            {
                "id": f"row-{i}",
                "prompt": " ".join(prompt.split()[-words:]),
                "reference": group[-1]["reference"],
            }
        )
    rng.shuffle(rows)
    return rows


def pairs_of(rows: list[dict[str, str]], seed: int) -> list[dict[str, Any]]:
    """Each row's reference against a perturbed copy, with their gold rewards (the pairs' schema)."""
    rng = random.Random(seed)
    out = []
    for r in rows:
        rejected = synthetic.perturb(rng, r["prompt"], r["reference"])
        out.append(
            {
                "id": r["id"],
                "prompt": r["prompt"],
                "chosen": r["reference"],
                "rejected": rejected,
                "gold_chosen": gold.reward(r["prompt"], r["reference"]),
                "gold_rejected": gold.reward(r["prompt"], rejected),
            }
        )
    return out


def weights_digest(model_dir: str | Path) -> str:
    """sha256 of a saved model's safetensors files."""
    h = hashlib.sha256()
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _measure(fn, steps: int) -> tuple[float, float, Any]:
    """(seconds per step, peak GPU GiB or nan, the result) of ``fn()``."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = float("nan")
    return (time.perf_counter() - t) / steps, peak, out


def one_run(cfg: dict[str, Any], size: str, arch: dict[str, int], steps: int, tmp: Path) -> dict[str, tuple]:
    """Each rule once: {rule: (seconds per step, peak GiB, weights digest)}."""
    opts = {r: {**C.run_options(cfg, r, size), "logging_steps": 1} for r in RULES}
    length = int(opts["sft"].get("max_length", 128))
    n = int(opts["sft"]["batch_size"]) * steps
    rows = long_rows(n, length - 24, 0)
    tok = tmp / "tokenizer"
    train_word_tokenizer(
        [" ".join(synthetic.vocabulary())] + [r["prompt"] + r["reference"] for r in rows], str(tok)
    )
    out: dict[str, tuple] = {}
    sft_dir = tmp / "sft"
    sft_opts = {**opts["sft"], "max_steps": steps, "warmup_steps": 0}
    sec, peak, _ = _measure(
        lambda: train_sft(
            rows,
            out_dir=str(sft_dir),
            history_path=str(tmp / "sft.csv"),
            model_cfg={"architecture": arch},
            tokenizer_path=str(tok),
            opts=sft_opts,
            seed=1,
            scratch_dir=str(tmp / "scratch-sft"),
        ),
        steps,
    )
    out["sft"] = (sec, peak, weights_digest(sft_dir))
    pairs = pairs_of(rows[: int(opts["daa"]["batch_size"]) * steps], 2)
    daa_opts = {**opts["daa"], "warmup_steps": 0, "epochs": 1}
    ref = {
        r["id"]: r
        for r in compute_ref_logps(
            pairs, sft_dir=str(sft_dir), opts=daa_opts, seed=3, scratch_dir=str(tmp / "scratch-ref")
        )
    }
    ckpt = tmp / "daa" / f"step-{steps}"
    sec, peak, _ = _measure(
        lambda: train_daa(
            pairs=pairs,
            ref_logps=ref,
            sft_dir=str(sft_dir),
            run=Run(size, "dpo", "0.1"),
            objective={"loss_type": "sigmoid"},
            opts=daa_opts,
            checkpoint_steps=[steps],
            checkpoint_outputs=[str(ckpt)],
            history_path=str(tmp / "daa.csv"),
            state_dir=str(tmp / "state"),
            seed=4,
            state_key="gpu-check",
        ),
        steps,
    )
    out["daa"] = (sec, peak, weights_digest(ckpt))
    rm_pairs = pairs_of(rows[: int(opts["reward_model"]["batch_size"]) * steps], 5)
    sec, peak, _ = _measure(
        lambda: train_reward_model(
            pairs=rm_pairs,
            heldout=rm_pairs[:4],
            sft_dir=str(sft_dir),
            out_dir=str(tmp / "rm"),
            history_path=str(tmp / "rm.csv"),
            opts={**opts["reward_model"], "warmup_steps": 0, "epochs": 1},
            seed=6,
            scratch_dir=str(tmp / "scratch-rm"),
        ),
        steps,
    )
    out["reward_model"] = (sec, peak, weights_digest(tmp / "rm"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/paper.yaml")
    ap.add_argument("--arch", default="2048,16,8", help="hidden size, layers, heads (Pythia-1B's)")
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps per rule")
    ap.add_argument("--batch", type=int, default=None, help="override every rule's batch size")
    ap.add_argument("--length", type=int, default=None, help="override every rule's max_length")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    a = ap.parse_args(argv)
    cfg = C.load(a.config)
    cfg.setdefault("reward_model", dict(cfg["daa"]))  # the paper config trains none: the DAA's options
    for part in RULES:
        section = cfg[part]
        if a.batch:
            section["batch_size"] = a.batch
        if a.length:
            section["max_length"] = a.length
    size = next(iter(cfg["models"]))
    cfg["models"][size] = {k: v for k, v in cfg["models"][size].items() if k in RULES}
    for part in RULES:
        if a.batch and part in cfg["models"][size]:
            cfg["models"][size][part].pop("per_device_batch_size", None)
    hidden, layers, heads = (int(x) for x in a.arch.split(","))
    arch = {"hidden_size": hidden, "num_layers": layers, "num_heads": heads}
    runtime.setup(a.threads or int(cfg.get("threads", 1)), 0)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(
        f"device {device}; shape {arch} (random weights); {a.steps} steps per rule; config {a.config}",
        flush=True,
    )
    runs = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(cfg, size, arch, a.steps, Path(tmp)))
    same = True
    for rule in RULES:
        (s1, p1, d1), (s2, p2, d2) = runs[0][rule], runs[1][rule]
        same &= d1 == d2
        print(
            f"{rule:13s} {min(s1, s2):8.3f} s/step  peak GPU {max(p1, p2):6.2f} GiB  "
            f"same bytes in two runs: {'yes' if d1 == d2 else f'NO ({d1} vs {d2})'}",
            flush=True,
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
