"""Shared fixtures. Offline everywhere: nothing may reach the Hugging Face Hub or DVC's analytics."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "config" / "smoke.yaml"


def result_digests(root: Path, suffixes: set[str] | None = None) -> dict[str, str]:
    """SHA-256 of every result file under ``root/results`` (only those with ``suffixes``, if given).

    Left out: the resume state, scratch and Snakemake markers, and the provenance manifests and
    their table, which record the code's git commit and so differ between commits by design.
    """
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "results").rglob("*"))
        if p.is_file()
        and not {".state", ".scratch"} & set(p.relative_to(root).parts)
        and p.name != ".snakemake_timestamp"
        and "provenance" not in p.name
        and (suffixes is None or p.suffix in suffixes)
    }


def snakemake(
    workdir: Path,
    *args: str,
    config: Path = SMOKE,
    check: bool = True,
    env: dict | None = None,
    timeout: int = 1800,
) -> subprocess.CompletedProcess:
    """Run the repository's workflow with its results in ``workdir``."""
    # --configfile takes several values: keep it before other options, never before targets
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--configfile",
        str(config),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        *args,
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def smoke_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole smoke study, run once per test session (results under a temporary directory)."""
    work = tmp_path_factory.mktemp("smoke")
    snakemake(work, "--cores", "2")
    return work


@pytest.fixture
def fresh_copy(tmp_path: Path, smoke_dir: Path):
    """A copy of the finished smoke study that a test may change."""

    def make(name: str = "copy") -> Path:
        dst = tmp_path / name
        shutil.copytree(smoke_dir, dst, symlinks=True)
        return dst

    return make
