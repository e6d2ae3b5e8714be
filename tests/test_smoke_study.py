"""The smoke study, run for real (session fixture): what every stage leaves behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors import safe_open

from conftest import SMOKE
from overopt.core import config as C
from overopt.core import numerics
from overopt.core import runs as RN
from overopt.core.io import read_jsonl
from overopt.evaluate import best_of_n_estimators as B
from overopt.pipeline import settings as S

CFG = yaml.safe_load(SMOKE.read_text())
SIZES = list(CFG["models"])


def test_data_splits_have_the_configured_sizes(smoke_dir: Path):
    data = smoke_dir / "results" / "data"
    syn = CFG["task"]["synthetic"]
    assert len(read_jsonl(data / "sft.jsonl")) == syn["n_sft"]
    assert len(read_jsonl(data / "eval.jsonl")) == syn["n_eval"]
    pairs = read_jsonl(smoke_dir / "results" / "preferences" / "preferences.jsonl")
    assert len(pairs) == RN.n_train_pairs(CFG) == syn["n_pref_posts"] * CFG["preferences"]["pairs_per_post"]
    assert {"prompt", "chosen", "rejected", "id"} <= set(pairs[0])
    assert all(p["chosen"] != p["rejected"] for p in pairs)
    # held-out preference posts are not training posts
    held = read_jsonl(smoke_dir / "results" / "preferences" / "heldout_preferences.jsonl")
    assert not {p["post_id"] for p in held} & {p["post_id"] for p in pairs}


def test_preference_statistics_are_saved(smoke_dir: Path):
    stats = json.loads((smoke_dir / "results" / "preferences" / "preference_stats.json").read_text())
    train = stats["train"]
    for key in (
        "n_pairs",
        "label_agreement_with_noiseless",
        "longer_wins",
        "length_tokens",
        "annotator_temperature",
    ):
        assert key in train
    assert set(train["length_tokens"]) == {"reference", "chosen", "rejected"}
    assert 0.5 < train["label_agreement_with_noiseless"] < 0.95
    assert sum(train["pair_kinds"].values()) == train["n_pairs"]


def test_tokenizer_is_saved_with_save_pretrained(smoke_dir: Path):
    tok = smoke_dir / "results" / "tokenizer"
    assert (tok / "tokenizer.json").exists() and (tok / "tokenizer_config.json").exists()


@pytest.mark.parametrize("size", SIZES)
def test_sft_model_is_a_pythia_style_safetensors_directory(smoke_dir: Path, size: str):
    d = smoke_dir / "results" / "models" / size / "sft"
    config = json.loads((d / "config.json").read_text())
    assert config["model_type"] == "gpt_neox"
    assert config["use_parallel_residual"] is True and config["tie_word_embeddings"] is False
    assert config["rope_parameters"]["partial_rotary_factor"] == 0.25
    assert config["hidden_size"] == CFG["models"][size]["architecture"]["hidden_size"]
    assert (d / "tokenizer.json").exists()
    with safe_open(str(d / "model.safetensors"), "pt") as f:
        assert f.get_tensor("embed_out.weight").dtype.is_floating_point
    assert not [p for p in d.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".pkl"}]
    prov = json.loads((d / "provenance.json").read_text())
    settings = S.settings(CFG, "sft", {"size": size})  # the config values the sft rule reads
    assert (
        prov["threads"] == 1
        and prov["config_hash"] == C.config_hash(settings)
        and "torch" in prov["versions"]
    )
    if numerics.applies():  # the job ran on the pinned code paths (overopt.core.numerics)
        assert {k: prov["cpu_paths"][k] for k in numerics.PINNED} == numerics.PINNED
    assert "learning_rate" in settings["sft"] and "daa" not in settings and "evaluation" not in settings


@pytest.mark.parametrize("size", SIZES)
def test_sft_logs_progress_and_its_cost(smoke_dir: Path, size: str):
    log = (smoke_dir / "logs" / "sft" / f"{size}.log").read_text()
    assert "it/s" in log and "train_runtime" in log
    last = log.strip().splitlines()[-1]  # the work's wall time, the process's CPU and peak memory
    m = re.fullmatch(r"\[sft\] finished in ([0-9.]+) s \(process: cpu ([0-9.]+) s, max RSS (\d+) MiB\)", last)
    assert m and float(m[2]) >= float(m[1]) * 0.5 and int(m[3]) > 100, last
    hist = pd.read_csv(smoke_dir / "results" / "models" / size / "sft_history.csv")
    assert hist["loss"].iloc[-1] < hist["loss"].iloc[0]


def test_sft_quality_report(smoke_dir: Path):
    for size in SIZES:
        q = json.loads((smoke_dir / "results" / "models" / size / "sft_quality.json").read_text())
        assert 0.0 <= q["sample"]["win_rate"] <= 1.0 and q["gate_passed"]


def test_no_pickles_anywhere_in_results(smoke_dir: Path):
    bad = [
        p
        for p in (smoke_dir / "results").rglob("*")
        if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".pickle"}
    ]
    assert bad == []


CONTRACT = [
    "model_size",
    "objective",
    "beta",
    "learning_rate",
    "step",
    "epoch_fraction",
    "kl",
    "kl_exact",
    "sqrt_kl",
    "win_rate",
    "win_rate_low",
    "win_rate_high",
    "mean_length",
    "n_prompts",
    "judge",
    "gold_reward",
    "length_r2",
    "implicit_acc",
    "implicit_acc_gold",
    "replicate",
]


def test_evaluations_table_has_every_policy_and_the_contract_columns(smoke_dir: Path):
    df = pd.read_csv(smoke_dir / "results" / "tables" / "evaluations.csv")
    assert set(CONTRACT) <= set(df.columns)
    assert len(df) == len(RN.policies(CFG)) + len(SIZES) * len(B.policies(CFG["best_of_n"]["n_max"]))
    sft = df[df["objective"] == "sft"]
    assert sorted(sft["model_size"]) == sorted(SIZES)
    assert (sft["kl"] == 0).all() and (sft["kl_exact"] == 0).all() and (sft["win_gain"] == 0).all()
    daa = df[df["objective"].isin(CFG["objectives"])]
    assert (daa["kl_exact"] >= 0).all() and (daa["kl_exact"] > 0).any()
    assert ((df["win_rate_low"] <= df["win_rate"]) & (df["win_rate"] <= df["win_rate_high"])).all()
    assert (df["judge"] == "gold").all() and (df["n_prompts"] == CFG["evaluation"]["n_prompts"]).all()
    assert set(daa["epoch_fraction"].round(3)) == {0.5, 1.0}
    assert daa["implicit_acc_gold"].between(0, 1).all() and (df["replicate"] == 0).all()
    rates = C.learning_rates(CFG)  # each run's resolved rate; none for SFT, temperature, best-of-n
    pairs = zip(daa["model_size"], daa["objective"], strict=True)
    assert [rates[(s, o)] for s, o in pairs] == list(daa["learning_rate"])
    assert df[~df["objective"].isin(CFG["objectives"])]["learning_rate"].isna().all()


def test_the_pooled_table_has_every_policy_with_its_replicates_values(smoke_dir: Path):
    tables = smoke_dir / "results" / "tables"
    ev, pooled = pd.read_csv(tables / "evaluations.csv"), pd.read_csv(tables / "pooled.csv")
    merged = ev.merge(pooled, on=["model_size", "policy"], suffixes=("", "_pooled"), validate="1:1")
    assert len(merged) == len(ev) == len(pooled) and (pooled["replicates"] == 1).all()
    # one replicate: the pooled values are that replicate's own, from the same per-prompt samples
    for name in ("win_rate", "win_gain", "sqrt_kl"):
        assert (merged[name] - merged[f"{name}_pooled"]).abs().max() < 1e-5, name
        assert (pooled[f"{name}_low"] <= pooled[name] + 1e-9).all() and (
            pooled[name] <= pooled[f"{name}_high"] + 1e-9
        ).all()
    assert (pooled["win_rate_se_replicates"] == 0).all()


def test_samples_keep_what_recomputes_kl_and_win_rate(smoke_dir: Path):
    df = pd.read_csv(smoke_dir / "results" / "tables" / "evaluations.csv")
    row = df[df["objective"] == "dpo"].iloc[-1]
    rows = read_jsonl(smoke_dir / "results" / "eval" / row["model_size"] / row["policy"] / "samples.jsonl")
    assert len(rows) == CFG["evaluation"]["n_prompts"]
    for key in (
        "prompt_id",
        "completion",
        "n_tokens",
        "logp_policy",
        "logp_ref",
        "judge_prob_win",
        "kl_exact",
    ):
        assert key in rows[0]
    kl = sum(r["logp_policy"] - r["logp_ref"] for r in rows) / len(rows)
    win = sum(r["judge_prob_win"] for r in rows) / len(rows)
    assert kl == pytest.approx(row["kl"], rel=1e-4, abs=1e-6)
    assert win == pytest.approx(row["win_rate"], rel=1e-4, abs=1e-6)


def test_samples_rescore_from_their_token_ids_with_plain_transformers(smoke_dir: Path):
    """Every sample's log-probs under the policy and the reference, recomputed one prompt at a time
    with plain transformers from the saved token ids, and its text decoded from them."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    df = pd.read_csv(smoke_dir / "results" / "tables" / "evaluations.csv")
    row = df[df["objective"] == "dpo"].iloc[-1]
    size, policy = row["model_size"], row["policy"]
    results = smoke_dir / "results"
    ref = AutoModelForCausalLM.from_pretrained(results / "models" / size / "sft").eval()
    pol = AutoModelForCausalLM.from_pretrained(results / "daa" / size / policy).eval()  # rules/common.smk
    tok = AutoTokenizer.from_pretrained(results / "models" / size / "sft")
    prompts = {p["id"]: p["prompt"] for p in read_jsonl(results / "data" / "eval.jsonl")}
    temperature = CFG["evaluation"]["temperature"]
    samples = read_jsonl(results / "eval" / size / policy / "samples.jsonl")
    for s in samples:
        prompt = tok([prompts[s["prompt_id"]]], return_tensors="pt")["input_ids"]
        ids = torch.cat([prompt, torch.tensor([s["token_ids"]])], dim=1)
        start = prompt.shape[1]
        target = ids[0, start:]
        with torch.no_grad():
            logits_pol, logits_ref = (m(input_ids=ids).logits[0, start - 1 : -1] for m in (pol, ref))
        lp_pol = torch.log_softmax(logits_pol / temperature, -1).gather(-1, target[:, None]).sum()
        lp_ref = torch.log_softmax(logits_ref, -1).gather(-1, target[:, None]).sum()
        assert float(lp_pol) == pytest.approx(s["logp_policy"], abs=2e-3)
        assert float(lp_ref) == pytest.approx(s["logp_ref"], abs=2e-3)
        body = s["token_ids"][:-1] if s["finished"] else s["token_ids"]
        assert tok.decode(body, skip_special_tokens=True).strip() == s["completion"].strip()
        assert len(s["token_ids"]) == s["n_tokens"]


def test_the_smoke_study_has_the_recorded_bytes(smoke_dir: Path, capsys):
    """Every artifact identical to `digests/smoke.json`, recorded from another run (`make verify`):
    a change of code paths, packages or code that changes any result fails here, by stage."""
    from overopt.pipeline import verify

    status = verify.verify(smoke_dir, SMOKE)
    out = capsys.readouterr().out
    assert status == 0 and "all identical" in out, out
