"""docs/EXTENDING.md's recipes, applied as written to a copy of the project and its smoke study.

Every code and config block of a recipe is taken from the page itself: a block that starts with
``# new file <path>`` is written there, ``# append to <path>`` is appended, ``# config`` is merged
into the smoke config. The recipes for an objective (TRL loss type and custom loss), a figure, a
finding and a model size go into one copy and one Snakemake run, which must plan exactly the
affected jobs and leave every earlier result as it was; the judge recipe, which changes every
evaluation, gets its own copy and runs one evaluation job. The copies live elsewhere than the
repository and the study: what reruns is decided by content (settings, code), not by paths.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, SMOKE, copy_project, plan, snakemake

pytestmark = pytest.mark.workflow

DOC = REPO / "docs" / "EXTENDING.md"
COMBINED = ("1a", "1b", "3a", "3b", "4")  # applied together; "2" (the judge) on its own


def recipes() -> dict[str, list[tuple[str, str]]]:
    """Recipe id (``1a``, ``2``, ...) -> its (header comment, block body) code blocks, in order."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    lines = DOC.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        heading = re.match(r"^#{2,3} (?:Recipe )?(\d[a-z]?)[.:] ", lines[i])
        if heading:
            current = heading.group(1)
        elif lines[i].startswith("## "):
            current = None
        if lines[i].startswith("```") and len(lines[i]) > 3 and current:
            j = lines.index("```", i + 1)
            block = lines[i + 1 : j]
            out.setdefault(current, []).append((block[0], "\n".join(block[1:]) + "\n"))
            i = j
        i += 1
    return out


def merge(base: dict, extra: dict) -> dict:
    """``extra`` deep-merged into a copy of ``base``."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def apply(ids: tuple[str, ...], project: Path, cfg: dict) -> tuple[dict, dict[str, set[str]]]:
    """Apply recipes to ``project``; return the merged config and each recipe's source files."""
    touched: dict[str, set[str]] = {}
    for rid in ids:
        touched[rid] = set()
        for header, body in recipes()[rid]:
            if header.startswith("# config"):
                cfg = merge(cfg, yaml.safe_load(body))
                continue
            kind, path = re.match(r"# (new file|append to) (\S+)", header).groups()
            target = project / path
            assert (kind == "new file") != target.exists(), f"recipe {rid}: {header}"
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(body)
            touched[rid].add(path)
    return cfg, touched


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extend(tmp: Path, smoke_dir: Path, ids: tuple[str, ...]) -> dict:
    """A project copy (a git repository, so its changes show) with ``ids`` applied, and a study copy."""
    project, study = copy_project(tmp / "project"), tmp / "study"
    shutil.copytree(smoke_dir, study, symlinks=True)
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "p"],
    ):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    cfg, touched = apply(ids, project, yaml.safe_load(SMOKE.read_text()))
    config = project / "config" / "smoke.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return {"project": project, "study": study, "config": config, "cfg": cfg, "touched": touched}


@pytest.fixture(scope="module")
def extended(smoke_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Recipes 1a, 1b, 3a, 3b and 4 applied together; the plan, then the run."""
    ext = extend(tmp_path_factory.mktemp("extended"), smoke_dir, COMBINED)
    ext["before"] = {p: sha(p) for p in (ext["study"] / "results").rglob("*") if p.is_file()}
    ext["plan"] = plan(ext["study"], config=ext["config"], project=ext["project"])
    snakemake(ext["study"], "--cores", "2", config=ext["config"], project=ext["project"])
    ext["ev"] = pd.read_csv(ext["study"] / "results" / "tables" / "evaluations.csv")
    return ext


def test_each_recipe_touches_at_most_one_source_file(extended: dict, smoke_dir: Path, tmp_path: Path) -> None:
    judge = extend(tmp_path, smoke_dir, ("2",))
    touched = {**extended["touched"], **judge["touched"]}
    assert set(touched) == {"1a", "1b", "2", "3a", "3b", "4"}
    assert all(len(files) <= 1 for files in touched.values()), touched
    for ext in (extended, judge):
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=ext["project"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        changed = {line[3:] for line in status.splitlines()}
        assert changed == {"config/smoke.yaml", *set().union(*ext["touched"].values())}


def test_the_plan_is_exactly_the_affected_part(extended: dict) -> None:
    # new size xxs: its SFT, gate, reference log-probs, 2 DPO runs; one run each for robust and sq_slic
    assert extended["plan"] == {
        "sft": 1,
        "sft_quality": 1,
        "ref_logps": 1,
        "daa": 4,
        "sample": 5,  # one job per group: xxs's SFT group and 2 runs; robust's and sq_slic's run
        "judge": 4,
        "judge_sft": 1,
        "reward_model": 1,  # xxs's proxy reward model and best-of-n curves, and the RM table
        "best_of_n_sample": 1,
        "best_of_n": 1,
        "reward_models": 1,
        "collect": 1,
        "fit": 1,
        "pooled": 1,
        "figures": 1,
        "findings": 1,
        "provenance": 1,
        "all": 1,
    }
    before, res = extended["before"], extended["study"] / "results"
    kept = [p for p in before if "/tables/" not in str(p) and "/figures/" not in str(p)]
    kept = [p for p in kept if "findings" not in p.name and "provenance" not in p.name]
    assert kept and all(sha(p) == before[p] for p in kept)  # data, models, runs, evaluations: as they were
    assert (res / "preferences" / "preferences.jsonl") in before


def test_recipe_1a_trl_loss_type(extended: dict) -> None:
    rows = extended["ev"][extended["ev"]["objective"] == "robust"]
    assert set(rows["model_size"]) == {"xs"} and len(rows) == 2
    fits = pd.read_csv(extended["study"] / "results" / "tables" / "fits.csv")
    assert "robust" in set(fits["objective"])


def test_recipe_1b_custom_loss_is_the_trained_loss(extended: dict) -> None:
    rows = extended["ev"][extended["ev"]["objective"] == "sq_slic"]
    assert len(rows) == 2 and rows["kl_exact"].gt(0).all()
    history = pd.read_csv(extended["study"] / "results" / "daa" / "xs" / "sq_slic" / "beta-1" / "history.csv")
    # the first logged loss averages steps 1-2, starting from the reference (h = 0): the squared
    # hinge gives 1 there, TRL's sigmoid loss log 2 = 0.69
    assert history["loss"].iloc[0] == pytest.approx(1.0, abs=0.05)


def test_recipe_3a_figure_is_built_and_in_the_report_captions(extended: dict) -> None:
    res = extended["study"]
    for ext in ("png", "pdf"):
        assert (res / "results" / "figures" / f"gain_vs_kl.{ext}").stat().st_size > 1000
    assert "Win-rate gain over SFT" in (res / ".snakemake" / "captions" / "gain_vs_kl.rst").read_text()


def test_recipe_3b_finding_is_a_section_of_the_findings(extended: dict) -> None:
    text = (extended["study"] / "results" / "findings.md").read_text()
    assert re.search(r"^## Finding 7 \(this study\): (reproduced|partly|not reproduced)$", text, re.M)
    assert "runs end shorter than SFT" in text


def test_recipe_4_new_size_trains_and_leaves_the_other_sizes(extended: dict) -> None:
    rows = extended["ev"][extended["ev"]["model_size"] == "xxs"]
    assert sorted(set(rows["objective"])) == ["bon_gold", "bon_proxy", "dpo", "sft"]
    assert len(rows[rows["objective"].isin(["dpo", "sft"])]) == 5
    quality = json.loads((extended["study"] / "results" / "models" / "xxs" / "sft_quality.json").read_text())
    assert quality["gate_passed"]


def test_recipe_2_judge_reruns_judging_only(smoke_dir: Path, tmp_path: Path) -> None:
    ext = extend(tmp_path, smoke_dir, ("2",))
    planned = plan(ext["study"], config=ext["config"], project=ext["project"])
    assert planned["judge"] == 7 and planned["judge_sft"] == 2  # every policy, judged anew
    assert {"collect", "fit", "figures", "findings"} <= set(planned)
    upstream = {"sft", "daa", "ref_logps", "candidates", "preferences", "prepare_data", "sample"}
    assert not upstream & set(planned)
    assert planned["best_of_n"] == 2 and "best_of_n_sample" not in planned  # rejudged, not redrawn
    target = "results/eval/xs/sft/metrics.json"
    snakemake(ext["study"], "--cores", "1", target, config=ext["config"], project=ext["project"])
    metrics = json.loads((ext["study"] / target).read_text())
    gold = json.loads((smoke_dir / target).read_text())
    assert metrics["judge"] == "gold_length" and gold["judge"] == "gold"
    assert metrics["win_rate"] != gold["win_rate"] and metrics["kl_exact"] == gold["kl_exact"]
