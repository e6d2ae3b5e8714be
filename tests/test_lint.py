"""Code style is part of the suite: ruff, snakefmt and Snakemake's own linter report nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

BIN = Path(sys.executable).parent


def check(*cmd: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_ruff():
    check(str(BIN / "ruff"), "check", ".")
    check(str(BIN / "ruff"), "format", "--check", ".")


def test_snakefmt():
    check(str(BIN / "snakefmt"), "--check", "Snakefile", "rules")


@pytest.mark.workflow
def test_snakemake_lint(tmp_path):
    proc = check(
        sys.executable,
        "-m",
        "snakemake",
        "--lint",
        "--configfile",
        "config/smoke.yaml",
        "--directory",
        str(tmp_path),
    )
    assert "Congratulations" in proc.stdout + proc.stderr
