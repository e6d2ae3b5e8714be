"""The proxy reward models and the best-of-n curves of the smoke study (session fixture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import SMOKE
from overopt.core.io import read_jsonl
from overopt.evaluate import best_of_n_estimators as B

CFG = yaml.safe_load(SMOKE.read_text())
SIZES = list(CFG["models"])


def test_fast_reward_tokenization_equals_trls(smoke_dir: Path, tmp_path: Path):
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    from overopt.lm.tokenizer import load_tokenizer
    from overopt.train.reward_model import reward_config, tokenize_pairs

    sft = str(smoke_dir / "results" / "models" / "s" / "sft")
    pairs = read_jsonl(smoke_dir / "results" / "preferences" / "preferences.jsonl")
    tok = load_tokenizer(sft)
    raw = Dataset.from_dict({k: [p[k] for p in pairs] for k in ("prompt", "chosen", "rejected")})
    args = reward_config(CFG["reward_model"], str(tmp_path), 0)
    model = AutoModelForSequenceClassification.from_pretrained(sft, num_labels=1)
    trainer = RewardTrainer(model=model, args=args, train_dataset=raw, processing_class=tok)
    ours = tokenize_pairs(pairs, tok)
    for col in ("chosen_ids", "rejected_ids"):
        assert trainer.train_dataset[col] == ours[col]


@pytest.mark.parametrize("size", SIZES)
def test_reward_model_loads_with_plain_transformers_and_scores_as_the_table_says(smoke_dir: Path, size: str):
    """Saved as a Hugging Face sequence classifier in safetensors; each held-out pair scored one
    text at a time (no padding) gives the accuracies of results/tables/reward_models.csv."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    results = smoke_dir / "results"
    path = results / "reward_models" / size / "model"
    assert (path / "model.safetensors").exists() and not list(path.glob("*.bin"))
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.num_labels == 1
    pairs = read_jsonl(results / "preferences" / "heldout_preferences.jsonl")[
        : CFG["evaluation"]["heldout_pairs"]
    ]

    def reward(prompt: str, completion: str) -> float:
        ids = tok([prompt + completion + tok.eos_token], return_tensors="pt")["input_ids"]
        with torch.no_grad():
            return float(model(input_ids=ids).logits[0, 0])

    diff = np.array([reward(p["prompt"], p["chosen"]) - reward(p["prompt"], p["rejected"]) for p in pairs])
    gold = np.array([p["gold_chosen"] - p["gold_rejected"] for p in pairs])
    table = pd.read_csv(results / "tables" / "reward_models.csv").set_index("model_size").loc[size]
    assert table["n_pairs"] == len(pairs)
    assert table["accuracy_noisy"] == pytest.approx(np.mean(diff > 0))
    assert table["accuracy_gold"] == pytest.approx(np.mean((diff > 0)[gold != 0] == (gold[gold != 0] > 0)))
    assert table["n_train_pairs"] + table["n_train_dropped"] == len(
        read_jsonl(results / "preferences" / "preferences.jsonl")
    )


def test_best_of_n_curves_are_in_the_evaluations_table(smoke_dir: Path):
    df = pd.read_csv(smoke_dir / "results" / "tables" / "evaluations.csv")
    df["model_size"] = df["model_size"].astype(str)
    ns = B.ns(CFG["best_of_n"]["n_max"])
    for size in SIZES:
        curves = {
            o: df[(df["model_size"] == size) & (df["objective"] == o)].set_index("n") for o in B.OBJECTIVES
        }
        for rows in curves.values():
            assert list(rows.index) == ns
            # the table's numbers have 6 significant digits
            assert rows["kl"].to_numpy() == pytest.approx([B.kl_analytic(n) for n in ns], rel=1e-5)
            assert (rows["kl_exact"] <= rows["kl"] * (1 + 1e-5)).all()
            assert rows["sqrt_kl"].to_numpy() == pytest.approx(np.sqrt(rows["kl_exact"].to_numpy()), rel=1e-5)
            assert rows.loc[1, "kl_exact"] == 0
        proxy, gold = curves["bon_proxy"], curves["bon_gold"]
        assert proxy.loc[1, "win_rate"] == gold.loc[1, "win_rate"]  # best of one: every sample, equally
        assert (gold["win_rate"] >= proxy["win_rate"] * (1 - 1e-5)).all()  # the oracle's envelope
        assert gold["win_rate"].is_monotonic_increasing


def test_best_of_n_rows_recompute_from_the_scored_samples(smoke_dir: Path):
    size, n = SIZES[-1], CFG["best_of_n"]["n_max"] // 2
    root = smoke_dir / "results" / "best_of_n" / size
    scored = read_jsonl(root / "scored.jsonl")
    assert len(scored) == CFG["evaluation"]["n_prompts"]
    assert all(len(r["proxy_reward"]) == CFG["best_of_n"]["n_max"] for r in scored)
    rows = {r["prompt_id"]: r for r in read_jsonl(root / B.policy_name("proxy", n) / "samples.jsonl")}
    for r in scored:
        want = B.expected_best(np.array(r["judge_prob_win"]), np.array(r["proxy_reward"]), n)
        assert rows[r["prompt_id"]]["judge_prob_win"] == pytest.approx(want, abs=1e-12)


def test_findings_compare_the_daas_with_best_of_n(smoke_dir: Path):
    text = (smoke_dir / "results" / "findings.md").read_text()
    assert "## Beyond the paper: DAA against best-of-n:" in text
    assert "| size | objective | D per replicate | D vs proxy BoN pooled [95% CI] | p (one-sided) |" in text
    assert "calibration on the best-of-n curves" in text


def test_the_reward_model_judge_scores_with_a_proxy_reward_model(smoke_dir: Path):
    """config `judge: {type: reward_model, model: results/reward_models/<size>/model, text: concat}`
    judges with the proxy: P(chosen beats rejected) > 0.5 on exactly the pairs it ranks right."""
    from overopt.evaluate.judges import JudgeItem, make_judge
    from overopt.lm.reward import load_reward_model, score
    from overopt.lm.tokenizer import load_tokenizer

    results = smoke_dir / "results"
    path = str(results / "reward_models" / SIZES[-1] / "model")
    judge = make_judge({"type": "reward_model", "model": path, "text": "concat", "max_length": 64}, seed=0)
    pairs = read_jsonl(results / "preferences" / "heldout_preferences.jsonl")[:16]
    verdicts = judge.judge(
        [JudgeItem(key=p["id"], post=p["prompt"], a=p["chosen"], b=p["rejected"]) for p in pairs]
    )
    model, tok = load_reward_model(path), load_tokenizer(path)
    prompts = [p["prompt"] for p in pairs]
    diff = score(model, tok, prompts, [p["chosen"] for p in pairs]) - score(
        model, tok, prompts, [p["rejected"] for p in pairs]
    )
    assert [v.prob_a > 0.5 for v in verdicts] == list(diff > 0)
    assert [v.prob_a for v in verdicts] == pytest.approx(1 / (1 + np.exp(-diff)), abs=1e-5)
