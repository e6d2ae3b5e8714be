"""Replicates: every seed after the posts and gold reward drawn anew, replicate 0 left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import SMOKE, snakemake
from overopt.analysis import fit as ft
from overopt.analysis import per_prompt
from overopt.core import config as C
from overopt.core import replicates as RP
from overopt.core.objectives import specs
from overopt.core.runtime import derive_seed
from overopt.pipeline import settings as S


def test_paths_name_the_replicate_and_replicate_0_keeps_the_plain_layout() -> None:
    assert RP.prefix(0) == "" and RP.prefix(2) == "replicate-2/"
    assert [RP.number(RP.prefix(r)) for r in range(4)] == [0, 1, 2, 3]
    assert RP.of_path("results/eval/replicate-3/s/sft/samples.jsonl") == 3
    assert RP.of_path("results/eval/s/sft/samples.jsonl") == 0
    with pytest.raises(ValueError, match="not a replicate"):
        RP.number("rep-1/")


def test_a_replicate_redraws_every_seed_but_the_gate_sample() -> None:
    cfg = C.load(SMOKE)
    assert RP.config(cfg, 0) == cfg
    one, two = RP.config(cfg, 1), RP.config(cfg, 2)
    for path in RP.SEEDS:
        values = [cfg, one, two]
        for part in path:
            values = [v[part] for v in values]
        assert len(set(values)) == 3, path
    assert one["sft"]["quality_gate"] == cfg["sft"]["quality_gate"]
    assert one["task"] == cfg["task"]  # the posts and the gold reward are shared


def test_an_objective_learning_rate_is_the_rate_its_runs_read() -> None:
    cfg = C.load(SMOKE)
    cfg["objectives"]["dpo"]["learning_rate"] = 5.0e-4
    wc = {"rep": "", "size": "xs", "objective": "dpo", "beta": "0.1"}
    job = S.settings(cfg, "daa", wc)
    assert C.run_options(job, "daa", "xs", "dpo")["learning_rate"] == 5.0e-4
    other = S.settings(cfg, "daa", {**wc, "objective": "slic", "beta": "1"})
    assert C.run_options(other, "daa", "xs", "slic")["learning_rate"] == cfg["daa"]["learning_rate"]
    # the table and the analysis read the same resolution, from their own settings
    rates = C.learning_rates(S.settings(cfg, "collect"))
    assert rates[("xs", "dpo")] == 5.0e-4 and rates[("xs", "slic")] == cfg["daa"]["learning_rate"]
    assert C.learning_rates(S.settings(cfg, "collect")) == C.learning_rates(cfg)
    assert specs(cfg["objectives"])["dpo"].arm and not specs(cfg["objectives"])["slic"].arm


def test_a_size_rate_applies_unless_the_objective_sets_its_own() -> None:
    cfg = C.load(SMOKE)
    size = list(cfg["models"])[-1]
    cfg["models"][size].setdefault("daa", {})["learning_rate"] = 2.0e-4
    cfg["objectives"]["dpo"]["learning_rate"] = 7.0e-4
    assert C.run_options(cfg, "daa", size, "rdpo")["learning_rate"] == 2.0e-4
    assert C.run_options(cfg, "daa", size, "dpo")["learning_rate"] == 7.0e-4
    assert C.run_options(cfg, "daa", size)["learning_rate"] == 2.0e-4  # no objective: the size's


def _table(replicate: int, shift: float) -> pd.DataFrame:
    d = np.array([0.0, 0.5, 1.0, 1.5])
    win = 0.4 + shift + 0.2 * d - 0.08 * d**2
    return pd.DataFrame(
        {
            "replicate": replicate,
            "model_size": "s",
            "objective": ["sft", "dpo", "dpo", "dpo"],
            "policy": ["sft", *(f"dpo/beta-0.1/step-{i}" for i in (1, 2, 3))],
            "sqrt_kl": d,
            "win_rate": win,
        }
    )


def test_fits_are_per_replicate() -> None:
    ev = pd.concat([_table(0, 0.0), _table(1, 0.05)], ignore_index=True)
    fits = ft.fit_replicates(ev, None, {"offset": "intercept"}, 0, specs({"dpo": {"loss_type": "sigmoid"}}))
    assert list(fits.columns[:2]) == ["replicate", "model_size"]
    by = fits[fits["form"] == "bon"].set_index("replicate")
    assert by.loc[1, "intercept"] - by.loc[0, "intercept"] == pytest.approx(0.05)
    assert by.loc[0, "coef_beta"] == pytest.approx(by.loc[1, "coef_beta"])


def test_a_replicate_trains_its_own_sft_and_leaves_replicate_0(fresh_copy) -> None:
    work = fresh_copy("replicate")
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["replicates"] = 2
    path = work / "replicated.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    weights = work / "results/models/xs/sft/model.safetensors"
    before = weights.read_bytes()
    snakemake(work, "--cores", "1", "results/models/replicate-1/xs/sft", config=path)
    other = (work / "results/models/replicate-1/xs/sft/model.safetensors").read_bytes()
    assert weights.read_bytes() == before and other != before
    seed = derive_seed(RP.config(cfg, 1)["seed"], "sft", "xs")  # the replicate's seed, the job's labels
    assert f"seed={seed} " in (work / "logs/sft/replicate-1/xs.log").read_text()


def test_the_pooled_study_reads_each_replicate_from_its_path(tmp_path: Path) -> None:
    ev = pd.DataFrame(
        [{"replicate": r, "model_size": "s", "objective": "sft", "policy": "sft"} for r in (0, 1)]
    )
    paths = []
    for r, win in ((0, 0.25), (1, 0.75)):
        path = tmp_path / "results" / "eval" / RP.prefix(r) / "s" / "sft" / "samples.jsonl"
        path.parent.mkdir(parents=True)
        rows = [{"prompt_id": f"p{i}", "judge_prob_win": win, "kl_exact": 0.0, "n_tokens": 3} for i in (1, 0)]
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        paths.append(path)
    p = per_prompt.load(ev, paths)
    assert p.replicates == [0, 1]
    assert p.stack("s", ["sft"])[:, :, 0].tolist() == [[0.25, 0.25], [0.75, 0.75]]
    assert np.isnan(p.stack("s", ["sft"], "logratio")).all()  # no log-probs in these rows
    bad = tmp_path / "results" / "eval" / "replicate-1" / "s" / "sft" / "samples.jsonl"
    bad.write_text(json.dumps({"prompt_id": "other", "judge_prob_win": 0.5}) + "\n")
    with pytest.raises(ValueError, match="prompt ids differ"):
        per_prompt.load(ev, paths)


def test_jobs_of_different_replicates_never_share_a_scratch_folder() -> None:
    """Two replicates' SFT of one size run at once (the default study did, and one job's staging
    folder was removed under the other's save); every script takes its scratch from the job."""
    from types import SimpleNamespace

    from snakemake.iocontainers import Wildcards

    from overopt.pipeline import job

    def of(rep: str, size: str) -> str:
        smk = SimpleNamespace(rule="sft", wildcards=Wildcards(fromdict={"rep": rep, "size": size}))
        return job.scratch_dir(smk)

    assert of("", "m") == "results/.scratch/sft/m"
    assert len({of("", "m"), of("replicate-1/", "m"), of("replicate-2/", "m"), of("", "s")}) == 4
    scripts = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
    for script in scripts.glob("*.py"):
        assert "results/.scratch" not in script.read_text(), f"{script.name} names a scratch folder by hand"
