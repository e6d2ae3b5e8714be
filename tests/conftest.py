"""Shared fixtures and test tiers. Offline everywhere: nothing may reach the Hugging Face Hub or DVC.

Tiers (markers, ``pytest -m unit`` and so on):
- ``workflow``: runs Snakemake (a dry run, the session's smoke study, or jobs of it); every test
  that uses the ``smoke_dir`` or ``fresh_copy`` fixture is marked automatically;
- ``slurm``: needs the local SLURM cluster that ``.ci/slurm-up`` starts (a workflow test too);
- ``unit``: everything else, marked automatically: library code on small in-memory data.
"""

from __future__ import annotations

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
VENV = REPO / ".venv"
# the study-wide jobs that any changed evaluation, fit or new run reruns once each (the plan tests)
ANALYSIS_JOBS = {
    "collect": 1,
    "fit": 1,
    "pooled": 1,
    "figures": 1,
    "findings": 1,
    "metrics": 1,
    "provenance": 1,
    "all": 1,
}
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}
sys.path.insert(0, str(REPO / "benchmarks"))  # the benchmark modules tests import (cpu_paths, study)


def result_digests(root: Path, suffixes: set[str] | None = None) -> dict[str, str]:
    """SHA-256 of every result file under ``root/results`` (only those with ``suffixes``, if given).

    The artifacts ``make verify`` compares (``overopt.pipeline.verify.artifact_digests``: no resume state,
    scratch or Snakemake markers), less the provenance manifests and their table, which record the
    code's git commit and so differ between commits by design.
    """
    from overopt.pipeline.verify import artifact_digests

    return {
        path: digest
        for path, digest in artifact_digests(root).items()
        if "provenance" not in Path(path).name and (suffixes is None or Path(path).suffix in suffixes)
    }


def hub_cache_repo(home: Path, kind: str, repo: str, revision: str, files: dict[str, bytes]) -> Path:
    """A repository in the Hugging Face cache under ``home`` (an ``HF_HOME``), in huggingface_hub's own
    layout: its files under ``snapshots/<commit>``, a ref from ``revision`` to the commit (what
    ``hf download --revision`` leaves; a revision that is a commit hash is the snapshot's own name).
    Returns the snapshot directory."""
    root = home / "hub" / f"{kind}s--{repo.replace('/', '--')}"
    pinned = len(revision) == 40 and all(ch in "0123456789abcdef" for ch in revision)
    commit = revision if pinned else (repo.replace("/", "") * 40)[:40].encode().hex()[:40]
    snapshot = root / "snapshots" / commit
    for name, data in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_bytes(data)
    if not pinned:
        (root / "refs" / revision).parent.mkdir(parents=True, exist_ok=True)
        (root / "refs" / revision).write_text(commit)
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def copy_project(dst: Path) -> Path:
    """Copy the project's files (tracked, and untracked but not ignored) to ``dst``, times kept."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for f in (f for f in listed if f and (REPO / f).is_file()):
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, dst / f)
    return dst


def checkout_env(project: Path) -> dict[str, str]:
    """The environment of a command run in the checkout ``project``: this session's virtual
    environment first on PATH, the checkout's own package, a git identity for its commits."""
    return {
        **os.environ,
        **GIT_IDENTITY,
        "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}",
        "PYTHONPATH": str(project / "workflow"),
    }


def commit_study(project: Path, smoke_dir: Path) -> None:
    """Put the session's smoke study (its results and Snakemake's records of them) into the git
    checkout ``project`` and commit it: its outputs to ``dvc.lock``, and that to git."""
    shutil.copytree(smoke_dir / "results", project / "results")
    shutil.copytree(smoke_dir / ".snakemake" / "metadata", project / ".snakemake" / "metadata")
    (project / "cache" / "judge").mkdir(parents=True, exist_ok=True)
    env = checkout_env(project)
    for cmd in (
        [sys.executable, "-m", "dvc", "commit", "--force", "--quiet"],
        ["git", "add", "dvc.lock"],
        ["git", "commit", "-qm", "the smoke study"],
    ):
        subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True, timeout=600)


def snakemake(
    workdir: Path,
    *args: str,
    config: Path = SMOKE,
    check: bool = True,
    env: dict | None = None,
    timeout: int = 1800,
    project: Path = REPO,
) -> subprocess.CompletedProcess:
    """Run the workflow of ``project`` (the repository, or a copy and its package) in ``workdir``."""
    if project != REPO:
        env = {**(env or {}), "PYTHONPATH": str(project / "workflow")}
    # --configfile takes several values: keep it before other options, never before targets
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--configfile",
        str(config),
        "-s",
        str(project / "Snakefile"),
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


def plan(workdir: Path, *targets: str, config: Path = SMOKE, project: Path = REPO) -> dict[str, int]:
    """Jobs by rule that Snakemake plans in ``workdir`` (a dry run); empty when nothing is to be done."""
    out = snakemake(workdir, "-n", "--quiet", "rules", *targets, config=config, project=project).stdout
    return {
        p[0]: int(p[1])
        for p in (line.split() for line in out.splitlines())
        if len(p) == 2 and p[1].isdigit() and p[0] != "total"
    }


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the tier it needs (see the module docstring)."""
    for item in items:
        uses_study = {"smoke_dir", "fresh_copy"} & set(getattr(item, "fixturenames", ()))
        if uses_study or item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.workflow)
        if not item.get_closest_marker("workflow"):
            item.add_marker(pytest.mark.unit)
