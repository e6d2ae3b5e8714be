"""Pinned floating-point code paths (overopt.core.numerics): set before torch loads, and the same
bytes on this machine, an Intel and an AMD CPU (emulated by QEMU, benchmarks/emulated_cpu.py).

QEMU's user-mode emulator comes from Debian's qemu-user: .ci/qemu-up installs it (CI does, as root);
without it and without root the emulated test is skipped with the command that installs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cpu_paths  # benchmarks/cpu_paths.py: a few training steps in a fresh process
import emulated_cpu  # benchmarks/emulated_cpu.py: QEMU's CPU models
import pytest

from conftest import REPO
from overopt.core import numerics

pytestmark = pytest.mark.skipif(not numerics.applies({}), reason="the pins apply to x86-64 only")


def test_pin_sets_every_variable_and_respects_the_opt_out() -> None:
    env = {"ATEN_CPU_CAPABILITY": "avx512"}
    assert numerics.pin(env) == numerics.PINNED and env == numerics.PINNED  # inherited value replaced
    native = {numerics.OPT_OUT: "native"}
    assert numerics.pin(native) == {} and native == {numerics.OPT_OUT: "native"}


def test_exact_sqrt_is_the_correctly_rounded_root() -> None:
    import math

    import torch

    values = torch.rand(1000, dtype=torch.float64) * 10 + 1e-3
    assert numerics.exact_sqrt(values).tolist() == [math.sqrt(v) for v in values.tolist()]
    single = values.float()
    assert numerics.exact_sqrt(single).dtype == torch.float32


def test_importing_overopt_pins_torch_before_it_loads() -> None:
    code = "import overopt, torch; print(torch.backends.cpu.get_cpu_capability())"
    env = {k: v for k, v in os.environ.items() if k not in numerics.PINNED}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "AVX2"


# transformers looks torch up (importlib.util.find_spec) before importing it: the answer must survive
MKL_BRANCH = (
    "import importlib.util, overopt; importlib.util.find_spec('torch'); import transformers, torch; "
    "torch.ones(64, 64) @ torch.ones(64, 64)"
)


def mkl_branch(env: dict[str, str]) -> str:
    """The code-path branch MKL reports (MKL_VERBOSE) for a matrix multiply in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k not in {*numerics.PINNED, numerics.OPT_OUT}} | env
    out = subprocess.run(
        [sys.executable, "-c", MKL_BRANCH], env=env | {"MKL_VERBOSE": "1"}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return next(w for w in (out.stdout + out.stderr).split() if w.startswith("CNR:"))


def test_mkl_runs_its_avx2_branch_whatever_the_vendor() -> None:
    """MKL honours MKL_CBWR=AVX2 on CPUs its vendor check calls Intel: the pins answer it, so the
    branch is AVX2 here whichever vendor made this CPU (on a non-Intel CPU, without the answer,
    MKL reports its AUTO branch)."""
    assert mkl_branch({}) == "CNR:AVX2"
    unanswered = mkl_branch({numerics.OPT_OUT: "native", **numerics.PINNED})
    assert unanswered == ("CNR:AVX2" if "GenuineIntel" in Path("/proc/cpuinfo").read_text() else "CNR:AUTO")


def test_an_unknown_mkl_vendor_check_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch whose MKL checks the vendor in other code: a clear error, not vendor-dependent bytes."""
    monkeypatch.setattr(numerics, "LOAD_CACHED", b"\x90\x90")
    with pytest.raises(RuntimeError, match=r"mkl_serv_intel_cpu_true.*not the code overopt knows"):
        numerics.mkl_as_on_intel()


MODELS = (emulated_cpu.INTEL, emulated_cpu.AMD)


@pytest.fixture(scope="module")
def emulator() -> None:
    """QEMU's user-mode emulator, installed by .ci/qemu-up when missing (as root)."""
    if emulated_cpu.available():
        return
    if os.geteuid() != 0:
        pytest.skip(f"{emulated_cpu.INSTALL}; or run `sudo .ci/qemu-up` (CI does)")
    proc = subprocess.run([str(REPO / ".ci" / "qemu-up")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and emulated_cpu.available(), proc.stdout + proc.stderr


def test_training_gives_the_same_bytes_on_intel_and_amd(emulator: None) -> None:
    """A few steps of a tiny GPT-NeoX with the trainers' fused AdamW, pinned: here, on an emulated
    Intel and an emulated AMD AVX2 machine. Under the earlier pins (the same variables without the
    answer to MKL's vendor check: MKL's AVX2 branch on Intel, AUTO on AMD) the two vendors differ:
    the check can fail."""
    steps = {"steps": 3, "threads": 1, "shape": "small"}
    runs = {
        "here": cpu_paths.start({}, **steps),
        **{f"pinned {m}": cpu_paths.start({}, **steps, emulate=m) for m in MODELS},
        **{f"earlier {m}": cpu_paths.start(cpu_paths.PREVIOUS, **steps, emulate=m) for m in MODELS},
    }
    got = {name: cpu_paths.finish(proc) for name, proc in runs.items()}
    pinned = {got[name]["digest"] for name in ("here", *(f"pinned {m}" for m in MODELS))}
    assert len(pinned) == 1, got
    assert {r["capability"] for r in got.values()} == {"AVX2"}
    assert got[f"earlier {emulated_cpu.INTEL}"]["digest"] != got[f"earlier {emulated_cpu.AMD}"]["digest"]
    native = cpu_paths.run({numerics.OPT_OUT: "native"}, **steps)
    if native["capability"] != "AVX2":  # an AVX-512 machine: its own paths give other bytes
        assert native["digest"] != got["here"]["digest"]


TOY = r"""
import hashlib, sys
import overopt  # the pins
from overopt.toy import mdp
cfg = {"betas": [0.1, 1.0], "steps": 60, "seeds": [0, 1], "log_every": 20}
df = mdp.run(cfg, threads=1)
print(hashlib.sha256(df.to_csv(index=False, float_format="%.17g").encode()).hexdigest())
"""


def test_the_toy_mdp_gives_the_same_bytes_on_intel_and_amd(emulator: None) -> None:
    """The toy MDP's Adam (float64) to the last bit, here and on both emulated vendors: its square
    root is numpy's, not torch's (MKL's vector math starts from the CPU's own estimate, which
    differs between vendors, and so between the emulator and any real CPU)."""
    procs = [
        subprocess.Popen([*python, "-c", TOY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for python in ([sys.executable], *(emulated_cpu.command(m) for m in MODELS))
    ]
    digests = [proc.communicate()[0].strip() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs) and len(digests[0]) == 64
    assert len(set(digests)) == 1, digests


def test_the_vendor_probe_reruns_the_sft_job_under_each_setting(fresh_copy) -> None:
    """benchmarks/cpu_vendor_probe.py on a copy of the smoke study, its last two rows: the workflow's
    own pins give the study's SFT bytes again; ATen's default kernels (no AVX2) give other bytes."""
    import hashlib

    import cpu_vendor_probe

    work = fresh_copy()
    model = work / cpu_vendor_probe.TARGET / "model.safetensors"
    before = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    last, pinned = cpu_vendor_probe.probe(work, sys.executable, limit=2)
    assert pinned["row"] == cpu_vendor_probe.PINNED_ROW and pinned["sha256_16"] == before
    assert last["ATEN_CPU_CAPABILITY"] == "default" and last["sha256_16"] != before
    assert pinned["mkl"].startswith("CNR:AVX2")
