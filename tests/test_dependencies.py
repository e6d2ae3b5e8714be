"""Results follow their inputs: config values and code are what reruns a job, not paths or times.

On copies of the session's smoke study: an edited config value plans exactly the jobs that read it
and what depends on them; a comment plans nothing; an edited module plans the jobs whose code
imports it; a moved study plans nothing; a bad judge block or a missing API key stops the workflow
before its first job; a killed DAA run whose settings were edited starts afresh.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ANALYSIS_JOBS, REPO, SMOKE, copy_project, plan, snakemake
from overopt.pipeline import deps
from overopt.pipeline import settings as S

JUDGING = {"judge": 7, "judge_sft": 2}  # one job per DAA run (7) and per size (2)
BEST_OF_N = {"best_of_n": 2}  # one job per size judges its draws and makes its curves
DRAWS = {"best_of_n_sample": 2}  # one job per size draws best-of-n's samples: no judge


def edited(work: Path, change) -> Path:
    cfg = yaml.safe_load(SMOKE.read_text())
    change(cfg)
    path = work / "edited.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


EDITS = {
    # a DAA setting: every DAA run and its checkpoints' evaluations, nothing upstream, SFT's evaluations kept
    "daa.learning_rate": (
        lambda c: c["daa"].update(learning_rate=2.0e-3),
        {"daa": 7, "sample": 7, "judge": 7, **ANALYSIS_JOBS},
    ),
    # a sampling setting: every evaluation and best-of-n curve, no retraining (the SFT quality
    # gate, which the sweep waits for, samples with its own settings: sft.quality_gate)
    "evaluation.max_new_tokens": (
        lambda c: c["evaluation"].update(max_new_tokens=12),
        {"sample": 9, **JUDGING, **DRAWS, **BEST_OF_N, **ANALYSIS_JOBS},
    ),
    # a judge setting: judging only (and best-of-n's judging of its draws), no sampling of the
    # evaluated policies or of best-of-n, no reward model
    "judge.tau": (
        lambda c: c["judge"].update(tau=0.5),
        {**JUDGING, **BEST_OF_N, **ANALYSIS_JOBS},
    ),
    # one learning rate for an objective's runs (an arm at a matched rate): that objective's runs only
    "objectives.dpo.learning_rate": (
        lambda c: c["objectives"]["dpo"].update(learning_rate=5.0e-4),
        {"daa": 4, "sample": 4, "judge": 4, **ANALYSIS_JOBS},
    ),
    # a second replicate: every per-replicate job once more, nothing of replicate 0 again; the
    # tables that pool the replicates
    "replicates": (
        lambda c: c.update(replicates=2),
        {
            "sft": 2,
            "sft_quality": 2,
            "candidates": 1,
            "preferences": 1,
            "ref_logps": 2,
            "daa": 7,
            "sample": 9,
            **JUDGING,
            "reward_model": 2,
            **DRAWS,
            **BEST_OF_N,
            "reward_models": 1,
            **ANALYSIS_JOBS,
        },
    ),
    # a fit setting: the fits and what is built from them
    "fit.bootstrap": (
        lambda c: c["fit"].update(bootstrap=30),
        {"fit": 1, "pooled": 1, "figures": 1, "findings": 1, "metrics": 1, "provenance": 1, "all": 1},
    ),
}


@pytest.mark.parametrize("key", sorted(EDITS))
def test_a_config_edit_plans_exactly_the_jobs_that_read_it(key: str, fresh_copy) -> None:
    work = fresh_copy(key)
    change, expected = EDITS[key]
    assert plan(work, config=edited(work, change)) == expected


def test_a_comment_only_edit_plans_nothing(fresh_copy) -> None:
    work = fresh_copy("comment")
    path = work / "commented.yaml"
    text = SMOKE.read_text().replace("daa:\n", "daa: # a comment\n", 1)
    path.write_text("# another comment\n" + text)
    assert text != SMOKE.read_text() and plan(work, config=path) == {}


def test_a_moved_study_plans_nothing(fresh_copy) -> None:
    assert plan(fresh_copy("moved")) == {}


def test_a_judge_code_edit_plans_judging_only(smoke_dir: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    study = tmp_path / "study"
    shutil.copytree(smoke_dir, study, symlinks=True)
    assert plan(study, project=project) == {}  # the project moved too: still nothing to do
    judge = project / "workflow" / "overopt" / "evaluate" / "judges" / "gold.py"
    judge.write_text(judge.read_text() + "\n\ndef _unused() -> float:\n    return 0.0\n")
    assert plan(study, project=project) == {**JUDGING, **BEST_OF_N, **ANALYSIS_JOBS}


def test_code_params_follow_the_imports_transitively(tmp_path: Path) -> None:
    """A module a script imports only indirectly changes that script's code hash, and no other's."""
    scripts = REPO / "workflow" / "scripts"
    root = tmp_path / "overopt"
    shutil.copytree(deps.ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))

    def hashes() -> dict[str, str]:
        deps.graph.cache_clear()
        return {
            s: S.content_hash(deps.script_code(scripts / f"{s}.py", root), root)
            for s in ("sample", "fit", "daa")
        }

    before = hashes()
    generation = root / "lm" / "generation.py"  # sample -> evaluate.sample_policies -> lm.generation
    generation.write_text(generation.read_text() + "\n# edited\n")
    after = hashes()
    deps.graph.cache_clear()
    assert after["sample"] != before["sample"]
    assert after["fit"] == before["fit"] and after["daa"] == before["daa"]


def test_a_bad_judge_block_stops_before_the_first_job(tmp_path: Path) -> None:
    # the smoke judge has `tau`; merged with an openai block from the command line, the block is
    # invalid, and must be named before any job runs (not after training every model)
    proc = snakemake(
        tmp_path,
        "--cores",
        "1",
        "--config",
        "judge={'type': 'openai', 'base_url': 'http://127.0.0.1:9/v1', 'model': 'm', 'api_key_env': 'K'}",
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Configuration error" in out
    assert "['tau']" in out and "'openai'" in out
    assert not (tmp_path / "results").exists()


def test_a_missing_api_key_stops_before_the_first_job(tmp_path: Path) -> None:
    judge = {
        "type": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "m",
        "api_key_env": "OVEROPT_NO_KEY",
    }
    path = edited(tmp_path, lambda c: c.update(judge=judge))
    proc = snakemake(tmp_path, "--cores", "1", config=path, check=False, env={"OVEROPT_NO_KEY": ""})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "OVEROPT_NO_KEY" in out and "config key 'judge'" in out
    assert not (tmp_path / "results").exists()
    assert plan(tmp_path, config=path)  # a dry run plans the study all the same


def test_a_killed_run_resumes_only_its_own_settings(fresh_copy) -> None:
    """Killed at step 9, then the learning rate edited: the rerun starts afresh and equals a clean run."""
    target = "results/daa/s/dpo/beta-0.1"
    faster = lambda c: c["models"]["s"].setdefault("daa", {}).update(learning_rate=3.0e-3)  # noqa: E731
    clean = fresh_copy("clean")
    shutil.rmtree(clean / target)
    snakemake(clean, "--cores", "1", f"{target}/history.csv", config=edited(clean, faster))

    work = fresh_copy("killed")
    shutil.rmtree(work / target)
    proc = snakemake(
        work, "--cores", "1", f"{target}/history.csv", check=False, env={"OVEROPT_KILL_AT_STEP": "9"}
    )
    assert proc.returncode != 0
    state = work / "results" / ".state" / "daa" / "s" / "dpo" / "beta-0.1"
    assert (state / "checkpoint-6").is_dir() and (state / "settings.sha256").is_file()
    snakemake(work, "--cores", "1", f"{target}/history.csv", config=edited(work, faster))
    log = (work / "logs" / "daa" / "s" / "dpo" / "beta-0.1.log").read_text()
    assert "belongs to other settings or code" in log and "starting afresh" in log
    assert "resuming" not in log.split("starting afresh")[-1]
    for ckpt in sorted((clean / target).glob("step-*")):
        a = (ckpt / "model.safetensors").read_bytes()
        assert (work / target / ckpt.name / "model.safetensors").read_bytes() == a, ckpt.name
