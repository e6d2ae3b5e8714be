"""The GPU check (``make gpu-check``) that waits for a lent GPU: a no-op that says so without CUDA,
and its per-rule step check runs the real training functions (here on CPU at a tiny shape)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def test_without_cuda_the_gpu_check_does_nothing_and_says_so() -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device here" in proc.stdout and "nothing to check" in proc.stdout


def test_the_step_check_trains_each_rule_twice_and_compares_bytes() -> None:
    """One step of sft, daa and reward_model at a tiny shape, twice: each prints its time per step
    and the same bytes (CPU, one thread: bitwise deterministic)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO / "workflow")}
    args = ["--arch", "32,2,2", "--batch", "4", "--length", "64", "--threads", "1", "--steps", "1"]
    proc = subprocess.run(
        [sys.executable, "benchmarks/gpu_steps.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if "s/step" in line]
    assert [line.split()[0] for line in lines] == ["sft", "daa", "reward_model"], proc.stdout[-2000:]
    assert all("same bytes in two runs: yes" in line for line in lines), lines
