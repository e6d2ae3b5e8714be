"""docs/EXTENDING.md's recipes, applied as written to a copy of the project and its smoke study.

Every code and config block of a recipe is taken from the page itself: a block that starts with
``# new file <path>`` is written there, ``# append to <path>`` is appended, ``# config`` is merged
into the smoke config, ``# config (paper)`` into the project's paper config. The recipes for an
objective (TRL loss type, custom loss, a further DPOConfig field), a figure, a finding and a model
size go into one copy and one Snakemake run, which must plan exactly the
affected jobs and leave every earlier result as it was; the judge recipe, which changes every
evaluation, gets its own copy and runs one evaluation job; the dataset format of the paper path
gets its own copy and reads a small local file in the format's columns (nothing comes from the
Hub). The copies live elsewhere than the repository and the study: what reruns is decided by
content (settings, code), not by paths.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ANALYSIS_JOBS, REPO, SMOKE, copy_project, plan, snakemake

pytestmark = pytest.mark.workflow

DOC = REPO / "docs" / "EXTENDING.md"
COMBINED = ("1a", "1b", "1c", "3a", "3b", "4")  # applied together; "2" (the judge) and "5" on their own


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
            if header.startswith("# config (paper)"):
                paper = project / "config" / "paper.yaml"
                merged = merge(yaml.safe_load(paper.read_text()), yaml.safe_load(body))
                paper.write_text(yaml.safe_dump(merged, sort_keys=False))
                continue
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
    project, study = git_project(tmp / "project"), tmp / "study"
    shutil.copytree(smoke_dir, study, symlinks=True)
    cfg, touched = apply(ids, project, yaml.safe_load(SMOKE.read_text()))
    config = project / "config" / "smoke.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return {
        "project": project,
        "study": study,
        "config": config,
        "config_file": "config/smoke.yaml",
        "cfg": cfg,
        "touched": touched,
    }


def git_project(dst: Path) -> Path:
    """A copy of the project as a git repository of its own, so its changes show."""
    project = copy_project(dst)
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "p"],
    ):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    return project


def hub_format(tmp: Path) -> dict:
    """Recipe 5 applied to a project copy (the paper config and the hub module)."""
    project = git_project(tmp / "project")
    _, touched = apply(("5",), project, yaml.safe_load(SMOKE.read_text()))
    return {"project": project, "config_file": "config/paper.yaml", "touched": touched}


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
    judge = extend(tmp_path / "judge", smoke_dir, ("2",))
    hub = hub_format(tmp_path / "hub")
    touched = {**extended["touched"], **judge["touched"], **hub["touched"]}
    assert set(touched) == {"1a", "1b", "1c", "2", "3a", "3b", "4", "5"}
    assert all(len(files) <= 1 for files in touched.values()), touched
    for ext in (extended, judge, hub):
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=ext["project"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        changed = {line[3:] for line in status.splitlines()}
        assert changed == {ext["config_file"], *set().union(*ext["touched"].values())}


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
        **ANALYSIS_JOBS,
    }
    before, res = extended["before"], extended["study"] / "results"
    kept = [p for p in before if "/tables/" not in str(p) and "/figures/" not in str(p)]
    kept = [p for p in kept if "findings" not in p.name and "provenance" not in p.name]
    kept = [p for p in kept if p != res / "metrics.json"]  # the headline numbers: rule metrics reran
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


def test_recipe_1c_dpo_config_field_reaches_trl(extended: dict) -> None:
    (history,) = (extended["study"] / "results" / "daa" / "xs" / "robust").glob("beta-*/history.csv")
    manifest = json.loads(history.with_name("history.csv.provenance.json").read_text())
    assert manifest["extra"]["trl_fields"] == {"disable_dropout": False}  # read back off the DPOConfig
    others = extended["study"] / "results" / "daa" / "xs" / "dpo"
    for path in others.glob("beta-*/history.csv.provenance.json"):
        assert "trl_fields" not in json.loads(path.read_text()).get("extra", {})


def test_recipe_5_dataset_format_reads_its_columns(tmp_path: Path) -> None:
    hub = hub_format(tmp_path)
    rows = [
        {
            "post_id": "p1",
            "history": "Why is the sky blue?",
            "human_ref_A": "Scattering.",
            "human_ref_B": "Because.",
            "labels": 1,
        },
        {
            "post_id": "p2",
            "history": "Best pasta shape?",
            "human_ref_A": "Any.",
            "human_ref_B": "Rigatoni, it holds sauce.",
            "labels": 0,
        },
    ]
    data = tmp_path / "shp.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "labels": 2}) + "\n")
    script = f"""
import json, yaml
from overopt.data import hub
spec = yaml.safe_load(open("config/paper.yaml"))["task"]["hub"]["preferences"]
assert spec["format"] == "shp" and hub.check_spec(spec, "preferences")
print(json.dumps(hub.load_preferences({{"path": {str(data)!r}, "format": "shp"}})))
try:
    hub.load_preferences({{"path": {str(bad)!r}, "format": "shp"}})
except hub.DataFormatError as err:
    print(err)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=hub["project"],
        env={**os.environ, "PYTHONPATH": str(hub["project"] / "workflow")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    loaded, error = proc.stdout.splitlines()[-2:]
    assert json.loads(loaded) == [
        {
            "id": "p1/train-000000",
            "prompt": "Why is the sky blue?",
            "chosen": " Scattering.",
            "rejected": " Because.",
        },
        {
            "id": "p2/train-000001",
            "prompt": "Best pasta shape?",
            "chosen": " Rigatoni, it holds sauce.",
            "rejected": " Any.",
        },
    ]
    assert "bad.jsonl" in error and "row 0" in error and "'labels'" in error and "expected 0 or 1" in error


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
