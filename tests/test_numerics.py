"""Pinned floating-point code paths (overopt.core.numerics): set before torch loads, and the same
bytes whether the machine has AVX-512 or only AVX2 (emulated on this one)."""

from __future__ import annotations

import os
import subprocess
import sys

import cpu_paths  # benchmarks/cpu_paths.py: a few training steps in a fresh process
import pytest

from overopt.core import numerics

pytestmark = pytest.mark.skipif(not numerics.applies({}), reason="the pins apply to x86-64 only")


def test_pin_sets_every_variable_and_respects_the_opt_out() -> None:
    env = {"ATEN_CPU_CAPABILITY": "avx512"}
    assert numerics.pin(env) == numerics.PINNED and env == numerics.PINNED  # inherited value replaced
    native = {numerics.OPT_OUT: "native"}
    assert numerics.pin(native) == {} and native == {numerics.OPT_OUT: "native"}


def test_importing_overopt_pins_torch_before_it_loads() -> None:
    code = "import overopt, torch; print(torch.backends.cpu.get_cpu_capability())"
    env = {k: v for k, v in os.environ.items() if k not in numerics.AVX2_MACHINE}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "AVX2"


def test_training_gives_the_same_bytes_on_an_avx2_only_machine() -> None:
    """A few AdamW steps of a tiny GPT-NeoX: pinned here, and on an emulated AVX2-only machine."""
    pinned = cpu_paths.run({}, steps=8, threads=1)
    avx2 = cpu_paths.run(numerics.AVX2_MACHINE, steps=8, threads=1)
    assert pinned["digest"] == avx2["digest"]
    assert pinned["capability"] == avx2["capability"] == "AVX2"
    native = cpu_paths.run({numerics.OPT_OUT: "native"}, steps=8, threads=1)
    if native["capability"] != "AVX2":  # an AVX-512 machine: its own paths give other bytes
        assert native["digest"] != pinned["digest"]
