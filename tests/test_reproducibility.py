"""DVC versioning and deterministic rebuilds (smoke study, temporary directories).

- reviewer's path: push the study to a DVC remote, clone, pull, restore, delete a figure, rebuild:
  the same bytes, and no SFT, DAA or evaluate job in the plan;
- two runs from scratch in two directories: the same SHA-256 for every table, checkpoint,
  sample file and figure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, result_digests, snakemake

ENV = {
    **os.environ,
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env or ENV, timeout=1800)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd)


# Every table, checkpoint (safetensors), sample file and figure (and the findings) under results/.
RESULTS = {".csv", ".safetensors", ".jsonl", ".png", ".pdf", ".md", ".html"}


def planned_rules(workdir: Path, *targets: str) -> dict[str, int]:
    """Job counts by rule of Snakemake's plan (dry run) in a checkout."""
    proc = run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--quiet",
            "rules",
            "--configfile",
            "config/smoke.yaml",
            *targets,
        ],
        workdir,
        env={**ENV, "PYTHONPATH": str(workdir / "workflow")},
    )
    counts = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


def project_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return [f for f in out if f and (REPO / f).is_file()]


@pytest.mark.slow
def test_reviewer_path_dvc_pull_restore_rebuild(smoke_dir: Path, tmp_path: Path):
    origin, clone, store = tmp_path / "origin", tmp_path / "clone", tmp_path / "store"
    for f in project_files():
        (origin / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, origin / f)
    (origin / "params.yaml").write_text("config: config/smoke.yaml\ncores: 2\n")
    run(["git", "init", "-q"], origin)
    dvc("remote", "modify", "local", "url", str(store), cwd=origin)
    run(["git", "add", "-A"], origin)
    run(["git", "commit", "-qm", "project"], origin)
    # the study, as `dvc repro` leaves it: the smoke run's results recorded in dvc.lock
    shutil.copytree(smoke_dir / "results", origin / "results")
    original = result_digests(origin, RESULTS)
    dvc("commit", "--force", cwd=origin)
    dvc("push", cwd=origin)
    run(["git", "add", "-A"], origin)
    run(["git", "commit", "-qm", "results"], origin)
    assert (origin / "dvc.lock").exists()

    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    dvc("pull", cwd=clone)
    assert result_digests(clone, RESULTS) == original
    env = {**ENV, "PYTHONPATH": str(clone / "workflow")}
    run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--configfile",
            "config/smoke.yaml",
            "--touch",
            "--cores",
            "1",
            "--quiet",
        ],
        clone,
        env=env,
    )  # `make restore`
    assert planned_rules(clone) == {}  # everything pulled is up to date

    (clone / "results" / "figures" / "figure1.png").unlink()
    plan = planned_rules(clone)
    assert plan.get("figures") == 1
    assert not {"sft", "daa", "evaluate", "ref_logps", "candidates", "preferences"} & set(plan)
    run(
        [sys.executable, "-m", "snakemake", "--configfile", "config/smoke.yaml", "--cores", "2"],
        clone,
        env=env,
    )
    assert result_digests(clone, RESULTS) == original

    # changing the fit code reruns the fit and what is built from it, nothing upstream
    fit = clone / "workflow" / "overopt" / "fit.py"
    fit.write_text(fit.read_text() + "\n# a change\n")
    plan = planned_rules(clone)
    assert {"fit", "figures", "findings"} <= set(plan)
    assert not {"sft", "daa", "evaluate", "collect", "ref_logps"} & set(plan)


@pytest.mark.slow
def test_two_runs_from_scratch_give_identical_bytes(smoke_dir: Path, tmp_path: Path):
    second = tmp_path / "second"
    second.mkdir()
    snakemake(second, "--cores", "2")
    a, b = result_digests(smoke_dir, RESULTS), result_digests(second, RESULTS)
    assert a.keys() == b.keys()
    assert any(k.endswith(".safetensors") for k in a) and any(k.endswith(".png") for k in a)
    differ = sorted(k for k in a if a[k] != b[k])
    assert differ == []
