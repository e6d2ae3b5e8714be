"""What the pinned CPU code paths change and cost, measured in one run.

Trains a tiny GPT-NeoX for a few AdamW steps in a fresh process per environment and prints the
weights' digest and the wall time. Environments: the machine's native paths, each library pinned
alone, all pinned (overopt's default), and all pinned on an emulated AVX2-only machine. Equal
digests for "pinned" and "avx2 machine" are the point; the time ratio is the pins' cost.

Usage: python benchmarks/cpu_paths.py [--steps 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from overopt.core.numerics import AVX2_MACHINE, OPT_OUT, PINNED

CHILD = r"""
import hashlib, json, sys, time
import overopt  # pins the code paths unless opted out
import torch
from overopt.core import runtime
from overopt.lm.models import build_model, neox_config
steps, threads = int(sys.argv[1]), int(sys.argv[2])
runtime.setup(threads, 0)
arch = {"hidden_size": 128, "num_layers": 2, "num_heads": 4}
model = build_model(neox_config(arch, vocab_size=512, eos_id=0, pad_id=1), seed=0)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
g = torch.Generator().manual_seed(0)
t0 = time.perf_counter()
for _ in range(steps):
    ids = torch.randint(2, 512, (16, 64), generator=g)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward(); opt.step(); opt.zero_grad()
wall = time.perf_counter() - t0
h = hashlib.sha256()
for name, p in sorted(model.state_dict().items()):
    h.update(name.encode()); h.update(p.detach().numpy().tobytes())
print(json.dumps({"digest": h.hexdigest()[:16], "wall_s": wall, "loss": float(loss),
                  "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def environments() -> dict[str, dict[str, str]]:
    """Name -> variables added to a clean copy of this environment."""
    native = {OPT_OUT: "native"}
    envs = {"native": native}
    for key, value in PINNED.items():
        envs[f"only {key}"] = {**native, key: value}
    envs["pinned"] = {}
    envs["avx2 machine"] = dict(AVX2_MACHINE)
    return envs


def run(extra: dict[str, str], steps: int, threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {*AVX2_MACHINE, OPT_OUT}}
    env.update(extra)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(steps), str(threads)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    results = {name: run(extra, args.steps, args.threads) for name, extra in environments().items()}
    base = results["native"]["wall_s"]
    print(f"{'environment':34s} {'digest':16s} {'ATen':8s} {'wall s':>7s} {'/native':>8s}")
    for name, r in results.items():
        print(f"{name:34s} {r['digest']} {r['capability']:8s} {r['wall_s']:7.2f} {r['wall_s'] / base:8.2f}")
    same = results["pinned"]["digest"] == results["avx2 machine"]["digest"]
    print(f"pinned == avx2 machine: {same}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
