"""Rules ask for what the model size needs: a 6.9B DAA job for several GPUs, a plotting job for little."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from conftest import REPO, snakemake
from overopt.core import config as C
from overopt.pipeline import resources as R

PAPER = C.load(REPO / "config" / "paper.yaml")
DEFAULT = C.load(REPO / "config" / "config.yaml")


def test_paper_training_resources_grow_with_model_size():
    daa = {size: R.rule_resources(PAPER, "daa", size) for size in PAPER["models"]}
    small, _, large = (daa[s] for s in PAPER["models"])
    assert small["gpu"] == 1 and large["gpu"] >= 2  # 6.9B training state does not fit one 80 GB GPU
    assert large["runtime"] > small["runtime"] and large["mem_mb"] > small["mem_mb"]
    for size in PAPER["models"]:
        ev = R.rule_resources(PAPER, "sample", size)  # one run's 5 checkpoints
        assert ev["gpu"] == 1 and ev["runtime"] < daa[size]["runtime"]
        judge = R.rule_resources(PAPER, "judge", size)  # API requests: no GPU
        assert judge["gpu"] == 0 and judge["runtime"] >= 10


def test_judging_time_follows_requests_latency_and_concurrency():
    s = R.hub_settings(PAPER)
    one = R.judging_hours({**PAPER, "judge": {**PAPER["judge"], "concurrency": 1}}, 1000)
    assert abs(one - 1000 * s["judge_latency_s"] / 3600 * s["safety"]) < 1e-9
    eight = R.judging_hours({**PAPER, "judge": {**PAPER["judge"], "concurrency": 8}}, 1000)
    assert abs(eight - one / 8) < 1e-9


def test_training_time_follows_six_n_d_over_flops():
    s = R.hub_settings(PAPER)
    hours = R.training_hours(1.0, s["pair_tokens"], 1, s)
    expected = 6 * 1e9 * s["pair_tokens"] / (s["achieved_tflops"] * 1e12) / 3600 * s["safety"]
    assert abs(hours - expected) < 1e-9
    assert R.training_hours(1.0, s["pair_tokens"], 2, s) == hours / 2


def test_synthetic_jobs_run_on_cpu_with_small_requests():
    for rule in ("sft", "daa", "sample", "judge", "candidates"):
        r = R.rule_resources(DEFAULT, rule, "l")
        assert r["gpu"] == 0 and r["mem_mb"] <= 4000
    assert R.rule_resources(DEFAULT, "figures")["mem_mb"] <= 1000


@pytest.mark.workflow
def test_a_retry_asks_for_more_memory_and_time(tmp_path: Path):
    """The dry run of a second attempt (``--attempt 2``, what Snakemake passes a resubmitted job):
    every job asks for RETRY_GROWTH times the memory and runtime of the first, the same GPUs."""

    def requests(attempt: int) -> list[tuple[int, int, int]]:
        out = snakemake(tmp_path, "-n", "--attempt", str(attempt), "results/models/xs/sft").stdout
        found = re.findall(r"resources: .*?runtime=(\d+), gpu=(\d+), mem_mb=(\d+)", out)
        return [(int(t), int(g), int(m)) for t, g, m in found]

    first, second = requests(1), requests(2)
    assert len(first) == len(second) >= 3  # data, tokenizer, sft
    for (t1, g1, m1), (t2, g2, m2) in zip(first, second, strict=True):
        assert (t2, g2, m2) == (math.ceil(t1 * R.RETRY_GROWTH), g1, math.ceil(m1 * R.RETRY_GROWTH))
    assert R.for_attempt("gpu", 2, 3) == 2 and R.for_attempt("mem_mb", 1000, 3) == 2250
