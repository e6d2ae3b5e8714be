"""DVC versioning and deterministic rebuilds (smoke study, temporary directories).

- reviewer's path: publish the study as a DVC remote directory, serve it over HTTP, clone, pull,
  verify, delete a figure, rebuild, verify: the same bytes, no SFT, DAA, sample or judge job planned;
  a config edit then reruns one DVC stage;
- `dvc repro` for the paper config, dry.

That a run from scratch gives the same bytes is checked against a recorded run, every artifact
(`digests/smoke.json`, tests/test_smoke_study.py), and on SLURM (tests/test_slurm.py).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import (
    GIT_IDENTITY,
    REPO,
    VENV,
    checkout_env,
    commit_study,
    copy_project,
    plan,
    result_digests,
    snakemake,
)

ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", **GIT_IDENTITY}


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env or ENV, timeout=1800)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


# Every table, checkpoint (safetensors), sample file and figure (and the findings) under results/.
RESULTS = {".csv", ".safetensors", ".jsonl", ".png", ".pdf", ".md", ".html"}


def make(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A Makefile target of the checkout ``cwd``, with this session's virtual environment and the
    checkout's own package."""
    env = checkout_env(cwd)
    # `-o`: the shared environment counts as set up (a checkout's newer files would reinstall the
    # package from the checkout into it)
    installed = VENV / ".installed"
    return run(["make", "--no-print-directory", f"VENV={VENV}", "-o", str(installed), *args], cwd, env=env)


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """A static web server for ``directory`` on 127.0.0.1 (what a reviewer's HTTP remote is)."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log on stderr
        pass


def smoke_project(dst: Path) -> Path:
    """A git checkout of the project whose `dvc repro` runs the smoke study."""
    copy_project(dst)
    make("dvc-yaml", "CONFIG=config/smoke.yaml", cwd=dst)
    run(["git", "init", "-q"], dst)
    run(["git", "add", "-A"], dst)
    run(["git", "commit", "-qm", "project"], dst)
    return dst


@pytest.mark.workflow
def test_reviewer_path_publish_pull_over_http_verify_rebuild(smoke_dir: Path, tmp_path: Path):
    """README, Reviewers: `make pull URL=...` from a static web server, `make verify`, rebuild a
    deleted figure, `make verify` again; then `dvc repro` after a config edit reruns one stage."""
    origin, clone, public = tmp_path / "origin", tmp_path / "clone", tmp_path / "public"
    smoke_project(origin)
    # the study, as `dvc repro` leaves it, published as a directory
    shutil.copytree(smoke_dir / "results", origin / "results")
    original = result_digests(origin, RESULTS)
    make("publish", f"PUBLISH={public}", cwd=origin)
    assert (public / "files" / "md5").is_dir()
    run(["git", "add", "-A"], origin)
    run(["git", "commit", "-qm", "results"], origin)
    lock = yaml.safe_load((origin / "dvc.lock").read_text())["stages"]
    assert "cache/judge" in {o["path"] for o in lock["evaluation"]["outs"]}  # the judge's verdicts
    assert set(lock["report"]["params"]["config/smoke.yaml"]) >= {"fit", "objectives"}  # params by key
    assert "fit" not in lock["sft"]["params"]["config/smoke.yaml"]

    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    with http_server(public) as url:
        make("pull", f"URL={url}", "CONFIG=config/smoke.yaml", cwd=clone)
    assert result_digests(clone, RESULTS) == original
    assert (
        plan(clone, config=clone / "config" / "smoke.yaml", project=clone) == {}
    )  # everything pulled is up to date
    verified = make("verify", "CONFIG=config/smoke.yaml", cwd=clone).stdout
    assert "all identical" in verified, verified

    (clone / "results" / "figures" / "figure1.png").unlink()
    planned = plan(clone, config=clone / "config" / "smoke.yaml", project=clone)
    assert planned == {"figures": 1, "provenance": 1, "all": 1}, planned
    readme = (REPO / "README.md").read_text().splitlines()
    said = next(ln for ln in readme if "snakemake -n " in ln and "the plan" in ln)  # the reviewer path
    assert all(rule in said for rule in planned if rule != "all"), said
    snakemake(clone, "--cores", "2", project=clone)
    verified = make("verify", "CONFIG=config/smoke.yaml", cwd=clone).stdout
    assert "all identical" in verified, verified

    # a fit setting reruns the report stage alone, and in it the fit and what is built from it
    config = clone / "config" / "smoke.yaml"
    fit = "\nfit:\n  offset: gain\n  bootstrap: 20\n"
    assert fit in config.read_text()
    config.write_text(config.read_text().replace(fit, fit.replace("20", "21")))
    status = run([sys.executable, "-m", "dvc", "status", "--json"], clone).stdout
    assert set(json.loads(status)) == {"report"}, status
    env = checkout_env(clone)
    repro = run([sys.executable, "-m", "dvc", "repro"], clone, env=env)
    ran = {line.split("'")[1] for line in repro.stdout.splitlines() if line.startswith("Running stage")}
    assert ran == {"report"}, repro.stdout
    assert "rule fit" in repro.stdout + repro.stderr and "rule daa" not in repro.stdout + repro.stderr
    run([sys.executable, "-m", "dvc", "status", "--quiet"], clone)


def test_dvc_repro_plans_the_paper_study(tmp_path: Path):
    """`dvc repro` for the paper config, checked dry: every listed param key is in the config, and
    the rules each stage runs to exist for it."""
    import yaml

    project = tmp_path / "paper"
    copy_project(project)
    make("dvc-yaml", "CONFIG=config/paper.yaml", cwd=project)
    run(["git", "init", "-q"], project)
    (project / "dvc.lock").unlink()  # the default study's
    # a dry run checks each stage's params and deps, so the upstream outputs must exist: empty ones
    for out in ("data", "preferences", "models", "daa", "eval", "tables"):
        (project / "results" / out).mkdir(parents=True)
    (project / "results" / "tables" / "evaluations.csv").touch()
    dry = run([sys.executable, "-m", "dvc", "repro", "--dry"], project).stdout
    stages = [line.split("'")[1] for line in dry.splitlines() if line.startswith("Running stage")]
    assert stages == ["data", "sft", "daa", "evaluation", "report"], dry
    env = {**ENV, "PYTHONPATH": str(project / "workflow")}
    listed = run(
        [sys.executable, "-m", "snakemake", "--list-rules", "--configfile", "config/paper.yaml"],
        project,
        env=env,
    )
    rules = set(listed.stdout.split())
    for name, stage in yaml.safe_load((project / "dvc.yaml").read_text())["stages"].items():
        until = stage["cmd"].split("--until")[1].split() if "--until" in stage["cmd"] else []
        assert set(until) <= rules, (name, until, rules)  # "No rule to produce ..." otherwise


@pytest.mark.workflow
def test_dvc_experiment_reruns_what_a_setting_touches_and_lists_its_numbers(smoke_dir: Path, tmp_path: Path):
    """README, DVC: `dvc exp run -S <config key>=<value>` on the smoke study runs the report stage
    alone and in it the fit and what is built from it; `dvc exp show` lists the experiment with its
    setting and numbers, `dvc metrics diff` the numbers that changed; `dvc plots show` draws
    figure 1's data."""
    project = smoke_project(tmp_path / "exp")
    commit_study(project, smoke_dir)
    env = checkout_env(project)
    dvc = [sys.executable, "-m", "dvc"]
    baseline = json.loads((project / "results" / "metrics.json").read_text())
    assert baseline["sft"] and baseline["peak"] and baseline["fit"]["rl"]
    unchanged = result_digests(project, {".safetensors", ".jsonl"})

    setting = ["-S", "config/smoke.yaml:fit.offset=intercept", "-n", "intercept"]
    exp = run([*dvc, "exp", "run", *setting], project, env=env)
    log = exp.stdout + exp.stderr
    ran = {line.split("'")[1] for line in exp.stdout.splitlines() if line.startswith("Running stage")}
    assert ran == {"report"}, log
    assert "rule fit:" in log and "rule metrics:" in log and "rule pooled:" not in log, log
    assert "rule daa:" not in log and "rule sample:" not in log, log
    assert result_digests(project, {".safetensors", ".jsonl"}) == unchanged

    changed = json.loads(run([*dvc, "metrics", "diff", "--json"], project).stdout)["results/metrics.json"]
    assert changed and all(key.startswith("fit.") for key in changed), changed  # the fits alone
    assert any(v["diff"] for v in changed.values()), changed
    shown = json.loads(run([*dvc, "exp", "show", "--json"], project).stdout)
    (exp_row,) = [e for row in shown for e in row.get("experiments") or [] if e["name"] == "intercept"]
    data = exp_row["revs"][0]["data"]
    assert data["params"]["config/smoke.yaml"]["data"]["fit"]["offset"] == "intercept"
    listed = data["metrics"]["results/metrics.json"]["data"]
    assert listed["peak"] == baseline["peak"] and listed["fit"] != baseline["fit"]
    plots = run([*dvc, "plots", "show", "-o", str(tmp_path / "plots")], project).stdout
    assert (tmp_path / "plots" / "index.html").is_file(), plots
    assert "sqrt_kl" in (tmp_path / "plots" / "index.html").read_text()
