"""What the pinned CPU code paths change and cost, measured in one run.

Trains a tiny GPT-NeoX for a few AdamW steps in a fresh process per environment and prints the
weights' digest and the wall time. Environments: the machine's native paths, each library pinned
alone, all pinned (overopt's default), and, where QEMU's user-mode emulator is installed, all
pinned on an emulated Intel and an emulated AMD AVX2 machine (benchmarks/emulated_cpu.py; their
times are the emulator's, not a machine's). Equal digests for "pinned" and the emulated machines
are the point; the native time ratio is the pins' cost.

Usage: python benchmarks/cpu_paths.py [--steps 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import emulated_cpu

from overopt.core.numerics import OPT_OUT, PINNED

CHILD = r"""
import hashlib, json, sys, time
import overopt  # pins the code paths unless opted out
import torch
from overopt.core import runtime
from overopt.lm.models import build_model, neox_config
steps, threads, width, rows, length = map(int, sys.argv[1:6])
runtime.setup(threads, 0)
arch = {"hidden_size": width, "num_layers": 2, "num_heads": 4}
model = build_model(neox_config(arch, vocab_size=512, eos_id=0, pad_id=1), seed=0)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)  # the trainers' default (adamw_torch_fused)
g = torch.Generator().manual_seed(0)
t0 = time.perf_counter()
for _ in range(steps):
    ids = torch.randint(2, 512, (rows, length), generator=g)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward(); opt.step(); opt.zero_grad()
wall = time.perf_counter() - t0
h = hashlib.sha256()
for name, p in sorted(model.state_dict().items()):
    h.update(name.encode()); h.update(p.detach().numpy().tobytes())
print(json.dumps({"digest": h.hexdigest()[:16], "wall_s": wall, "loss": float(loss),
                  "capability": torch.backends.cpu.get_cpu_capability()}))
"""


EMULATED = {"emulated Intel": emulated_cpu.INTEL, "emulated AMD": emulated_cpu.AMD}
# The pins' variables without MKL's vendor answer (the pins until it was set): MKL's AVX2 branch on
# Intel CPUs, its AUTO branch on others. COMPATIBLE: MKL's vendor-neutral branch, the alternative.
PREVIOUS = {OPT_OUT: "native", **PINNED}
COMPATIBLE = {**PREVIOUS, "MKL_CBWR": "COMPATIBLE"}


def environments() -> dict[str, dict[str, str]]:
    """Name -> variables added to a clean copy of this environment."""
    native = {OPT_OUT: "native"}
    envs = {"native": native}
    for key, value in PINNED.items():
        envs[f"only {key}"] = {**native, key: value}
    envs["previous pins (no vendor answer)"] = PREVIOUS
    envs["MKL_CBWR=COMPATIBLE"] = COMPATIBLE
    envs["pinned"] = {}
    return envs


# (width, sequences a batch, tokens a sequence): the benchmark's model, and a smaller one that an
# emulated CPU trains in seconds (tests/test_numerics.py)
SHAPES = {"benchmark": (128, 16, 64), "small": (32, 4, 32)}


def start(
    extra: dict[str, str], steps: int, threads: int, emulate: str | None = None, shape: str = "benchmark"
) -> subprocess.Popen:
    """Start training in a fresh process with ``extra`` in its environment, under the CPU model
    ``emulate`` (benchmarks/emulated_cpu.py) if given; ``finish`` reads its result."""
    env = {k: v for k, v in os.environ.items() if k not in {*PINNED, OPT_OUT}}
    env.update(extra)
    python = emulated_cpu.command(emulate) if emulate else [sys.executable]
    args = [str(v) for v in (steps, threads, *SHAPES[shape])]
    return subprocess.Popen(
        [*python, "-c", CHILD, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen) -> dict:
    """The weights' digest, wall time, last loss and ATen's capability of a started run."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"training failed ({proc.returncode}):\n{err[-4000:]}")
    return json.loads(out.strip().splitlines()[-1])


def run(
    extra: dict[str, str], steps: int, threads: int, emulate: str | None = None, shape: str = "benchmark"
) -> dict:
    """``start`` and ``finish`` one run."""
    return finish(start(extra, steps, threads, emulate, shape))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    results = {name: run(extra, args.steps, args.threads) for name, extra in environments().items()}
    if emulated_cpu.available():
        results |= {name: run({}, args.steps, args.threads, model) for name, model in EMULATED.items()}
    else:
        print(f"no emulated machines: {emulated_cpu.INSTALL}")
    base = results["native"]["wall_s"]
    print(f"{'environment':34s} {'digest':16s} {'ATen':8s} {'wall s':>7s} {'/native':>8s}")
    for name, r in results.items():
        print(f"{name:34s} {r['digest']} {r['capability']:8s} {r['wall_s']:7.2f} {r['wall_s'] / base:8.2f}")
    same = all(results[name]["digest"] == results["pinned"]["digest"] for name in EMULATED if name in results)
    print(f"pinned == every emulated machine: {same}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
