"""DVC versioning and deterministic rebuilds (smoke study, temporary directories).

- reviewer's path: push the study to a DVC remote, clone, pull, restore, delete a figure, rebuild:
  the same bytes, and no SFT, DAA or evaluate job in the plan;
- evaluation and analysis rerun in a copy of the study: the same SHA-256 for every table, sample
  file, figure and finding (the SLURM test does the same for the upstream half, from scratch).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_project, result_digests, snakemake

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


@pytest.mark.workflow
def test_reviewer_path_dvc_pull_restore_rebuild(smoke_dir: Path, tmp_path: Path):
    origin, clone, store = tmp_path / "origin", tmp_path / "clone", tmp_path / "store"
    copy_project(origin)
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
    fit = clone / "workflow" / "overopt" / "analysis" / "fit.py"
    fit.write_text(fit.read_text() + "\n# a change\n")
    plan = planned_rules(clone)
    assert {"fit", "figures", "findings"} <= set(plan)
    assert not {"sft", "daa", "evaluate", "collect", "ref_logps"} & set(plan)


@pytest.mark.workflow
def test_a_rerun_of_evaluation_and_analysis_gives_identical_bytes(smoke_dir: Path, fresh_copy):
    """Evaluation, tables, fits, figures, findings and the toy MDP rerun in a copy: the same bytes.

    The upstream half (data, tokenizer, SFT, candidates, preferences, reference log-probs, DAA) is
    rerun from scratch and compared byte for byte by the SLURM test (tests/test_slurm.py).
    """
    original = result_digests(smoke_dir, RESULTS)
    work = fresh_copy("rerun")
    for sub in ("eval", "tables", "figures", "toy_mdp"):
        shutil.rmtree(work / "results" / sub)
    for name in ("findings.md", "findings.html"):
        (work / "results" / name).unlink()
    snakemake(work, "--cores", "2")
    again = result_digests(work, RESULTS)
    assert again.keys() == original.keys()
    assert any(k.endswith(".safetensors") for k in again) and any(k.endswith(".png") for k in again)
    assert sorted(k for k in again if again[k] != original[k]) == []
