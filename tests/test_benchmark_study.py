"""The whole-study benchmark reads what every job logs: on the session's smoke study, each job's
own work and its process's CPU (imports included) and peak memory, grouped by rule."""

from __future__ import annotations

from pathlib import Path

import pins_cost  # benchmarks/pins_cost.py: the pins' cost, whose job sampling weights by rule and size
import pytest
import study  # benchmarks/study.py: the whole-study benchmark

from conftest import REPO
from overopt.core import config as C
from overopt.core import runs as RN


def test_the_benchmark_reads_every_job_of_the_smoke_study(smoke_dir: Path) -> None:
    rules = study.read_logs(smoke_dir / "logs")
    cfg = C.load(REPO / "config" / "smoke.yaml")
    groups = RN.groups(cfg)
    assert rules["sample"]["jobs"] == len(groups)  # one per run and per size, not per policy
    assert rules["judge"]["jobs"] + rules["judge_sft"]["jobs"] == len(groups)
    assert rules["daa"]["jobs"] == len(RN.runs(cfg))
    for rule, r in rules.items():
        # a job logs its work to 0.1 s: a table-collecting job can log 0.0
        assert r["jobs"] >= 1 and 0 <= r["work_s"] <= r["cpu_s"] + 0.5 * r["jobs"], rule
        assert 50 < r["max_rss_mib"] < 8000, rule
    assert all(rules[rule]["work_s"] > 0 for rule in ("sft", "daa", "sample")), rules
    # jobs that never touch torch do not import it: a judge job costs a fraction of a sample job
    per_job = {rule: r["cpu_s"] / r["jobs"] for rule, r in rules.items()}
    assert per_job["judge"] < per_job["sample"] / 2, per_job
    summary = study.report(rules, {"wall_s": 100.0, "tree_cpu_s": 1000.0, "peak_rss_mib": 500.0})
    assert summary["jobs"] == sum(r["jobs"] for r in rules.values())
    assert 0 < summary["outside_share"] < 1


def test_the_pins_cost_weighs_the_smoke_study_by_rule_and_size(smoke_dir: Path) -> None:
    cfg = C.load(REPO / "config" / "smoke.yaml")
    work = pins_cost.group_work(smoke_dir / "logs", set(cfg["models"]))
    for rule, r in study.read_logs(smoke_dir / "logs").items():
        assert sum(w for (g, _), w in work.items() if g == rule) == pytest.approx(r["work_s"]), rule
    for rule in ("sft", "daa", "sample"):  # logs/sft/xs.log, logs/daa/xs/dpo/beta-1.log, ...
        assert {size for r, size in work if r == rule} == set(cfg["models"]), rule
    assert ("fit", "") in work and ("toy_mdp", "") in work, sorted(work)  # rules without a size
    # the estimate weighs each sampled group's ratio by its work in the study
    half = pins_cost.weigh({("daa", "xs"): [0.4, 0.5, 0.9], ("sft", "s"): [1.0]}, work)
    daa, sft = work["daa", "xs"], work["sft", "s"]
    assert half["estimate_over_previous"] == pytest.approx((0.5 * daa + sft) / (daa + sft))
    assert half["covered_share"] == pytest.approx((daa + sft) / sum(work.values()))
