"""DAA training: TRL's losses as the formulas say, R-DPO's length margin, shared reference
log-probs, checkpoints, resume after SIGKILL (bitwise), and a non-finite loss."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import SMOKE, snakemake
from overopt.core import runs as RN
from overopt.core.io import read_jsonl, write_jsonl
from overopt.core.objectives import daa_loss, ipo_margin
from overopt.core.objectives import loss_type as registered
from overopt.core.runs import Run
from overopt.lm.models import load_model
from overopt.lm.scoring import completion_ids, sequence_logps
from overopt.lm.tokenizer import load_tokenizer
from overopt.train.daa import DAATrainer, dpo_config, pairs_dataset, shuffle_labels, swapped

CFG = yaml.safe_load(SMOKE.read_text())


@pytest.mark.parametrize(
    ("loss_type", "alpha"),
    [("sigmoid", 0.0), ("hinge", 0.0), ("ipo", 0.0), ("ipo_sum", 0.0), ("sigmoid", 0.3)],
)
def test_trainer_loss_is_the_formula(smoke_dir: Path, tmp_path: Path, loss_type: str, alpha: float):
    sft = str(smoke_dir / "results" / "models" / "s" / "sft")
    pairs = read_jsonl(smoke_dir / "results" / "preferences" / "preferences.jsonl")[:8]
    ref = {r["id"]: r for r in read_jsonl(smoke_dir / "results" / "ref_logps" / "s.jsonl")}
    tok, model = load_tokenizer(sft), load_model(sft)
    # move the policy away from the reference so that h != 0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p, generator=torch.Generator().manual_seed(0)))
    beta = 0.7
    spec = registered(loss_type)
    args = dpo_config({**CFG["daa"], "batch_size": 8}, {"loss_type": loss_type}, beta, str(tmp_path), 0)
    trainer = DAATrainer(
        model=model,
        args=args,
        train_dataset=pairs_dataset(pairs, ref),
        processing_class=tok,
        run=Run("s", loss_type, str(beta)),
        length_alpha=alpha,
        custom_loss=None if spec.trl else spec.formula,
    )
    batch = next(
        iter(
            torch.utils.data.DataLoader(trainer.train_dataset, batch_size=8, collate_fn=trainer.data_collator)
        )
    )
    model.eval()
    with torch.no_grad():
        got = float(trainer.compute_loss(model, batch))
    prompts = [p["prompt"] for p in pairs]
    pw = torch.tensor(sequence_logps(model, tok, prompts, [p["chosen"] for p in pairs]))
    pl = torch.tensor(sequence_logps(model, tok, prompts, [p["rejected"] for p in pairs]))
    rw = torch.tensor([ref[p["id"]]["ref_chosen_logps"] for p in pairs], dtype=torch.float64)
    rl = torch.tensor([ref[p["id"]]["ref_rejected_logps"] for p in pairs], dtype=torch.float64)
    lw = torch.tensor([len(c) for _, c in completion_ids(tok, prompts, [p["chosen"] for p in pairs])])
    ll = torch.tensor([len(c) for _, c in completion_ids(tok, prompts, [p["rejected"] for p in pairs])])
    h = (pw - rw) - (pl - rl)
    if loss_type == "ipo":
        h = ipo_margin(pw - rw, pl - rl, lw, ll)
    h = h + alpha * (lw - ll) / beta  # R-DPO: beta*h + alpha*(|y_w| - |y_l|)
    want = float(daa_loss(loss_type, beta, h).mean())
    if loss_type == "ipo_sum":  # the paper's IPO: (h - 1/(2 beta))^2 on the summed margin
        want = float(((h - 1 / (2 * beta)) ** 2).mean())
    assert abs(h).max() > 0.01
    assert got == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_the_shuffled_label_control_swaps_a_fixed_half_of_the_pairs():
    """``labels: shuffled``: the same half of the pairs swapped every time (by id), about half."""
    pairs = [{"id": f"p{i}", "prompt": "x", "chosen": f"c{i}", "rejected": f"r{i}"} for i in range(2000)]
    out = shuffle_labels(pairs)
    flipped = [
        q["chosen"] == p["rejected"] and q["rejected"] == p["chosen"] for p, q in zip(pairs, out, strict=True)
    ]
    assert 0.45 < sum(flipped) / len(pairs) < 0.55
    assert flipped == [swapped(p["id"]) for p in pairs] and out == shuffle_labels(pairs)
    assert all(not q.get("swapped") for q, f in zip(out, flipped, strict=True) if not f)


def test_the_shuffled_control_trains_on_the_negated_margin_of_swapped_pairs(smoke_dir: Path, tmp_path: Path):
    """The control's DPO loss is the formula with h negated on the swapped pairs: their reference
    log-probs are swapped with their sides."""
    sft = str(smoke_dir / "results" / "models" / "s" / "sft")
    pairs = read_jsonl(smoke_dir / "results" / "preferences" / "preferences.jsonl")[:16]
    ref = {r["id"]: r for r in read_jsonl(smoke_dir / "results" / "ref_logps" / "s.jsonl")}
    flip = torch.tensor([swapped(str(p["id"])) for p in pairs])
    assert 0 < int(flip.sum()) < len(pairs)
    tok, model = load_tokenizer(sft), load_model(sft)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p, generator=torch.Generator().manual_seed(0)))
    beta = 0.5
    args = dpo_config({**CFG["daa"], "batch_size": 16}, {"loss_type": "sigmoid"}, beta, str(tmp_path), 0)
    trainer = DAATrainer(
        model=model,
        args=args,
        train_dataset=pairs_dataset(shuffle_labels(pairs), ref),
        processing_class=tok,
        run=Run("s", "dpo_shuffled", str(beta)),
    )
    loader = torch.utils.data.DataLoader(
        trainer.train_dataset, batch_size=16, collate_fn=trainer.data_collator
    )
    model.eval()
    with torch.no_grad():
        got = float(trainer.compute_loss(model, next(iter(loader))))
    prompts = [p["prompt"] for p in pairs]
    pw = torch.tensor(sequence_logps(model, tok, prompts, [p["chosen"] for p in pairs]))
    pl = torch.tensor(sequence_logps(model, tok, prompts, [p["rejected"] for p in pairs]))
    rw = torch.tensor([ref[p["id"]]["ref_chosen_logps"] for p in pairs], dtype=torch.float64)
    rl = torch.tensor([ref[p["id"]]["ref_rejected_logps"] for p in pairs], dtype=torch.float64)
    h = torch.where(flip, -1.0, 1.0) * ((pw - rw) - (pl - rl))
    assert got == pytest.approx(float(daa_loss("sigmoid", beta, h).mean()), rel=1e-4, abs=1e-5)


def test_summed_ipo_is_its_formula_on_hand_computed_margins():
    # (h - 1/(2 beta))^2 at beta = 0.5: 1/(2 beta) = 1
    got = daa_loss("ipo_sum", 0.5, torch.tensor([3.0, 1.0, -1.0, 0.25]))
    assert got.tolist() == [4.0, 0.0, 4.0, 0.5625]
    assert registered("ipo_sum").family == "ipo" and not registered("ipo_sum").trl


def test_fast_pair_tokenization_equals_trls(smoke_dir: Path, tmp_path: Path):
    from trl import DPOTrainer

    sft = str(smoke_dir / "results" / "models" / "s" / "sft")
    pairs = read_jsonl(smoke_dir / "results" / "preferences" / "preferences.jsonl")
    tok = load_tokenizer(sft)
    args = dpo_config(CFG["daa"], {"loss_type": "sigmoid"}, 0.1, str(tmp_path), 0)
    trainer = DAATrainer(
        model=load_model(sft),
        args=args,
        train_dataset=pairs_dataset(pairs, None),
        processing_class=tok,
        run=Run("s", "dpo", "0.1"),
    )
    data = pairs_dataset(pairs, None)
    ours = trainer._prepare_dataset(data, tok, args, "x")
    trls = DPOTrainer._prepare_dataset(trainer, data, tok, args, "x")
    for col in ("prompt_ids", "chosen_ids", "rejected_ids"):
        assert ours[col] == trls[col]


def test_reference_logps_match_an_independent_computation(smoke_dir: Path):
    sft = str(smoke_dir / "results" / "models" / "xs" / "sft")
    pairs = read_jsonl(smoke_dir / "results" / "preferences" / "preferences.jsonl")[:32]
    ref = {r["id"]: r for r in read_jsonl(smoke_dir / "results" / "ref_logps" / "xs.jsonl")}
    tok, model = load_tokenizer(sft), load_model(sft)
    mine = sequence_logps(model, tok, [p["prompt"] for p in pairs], [p["chosen"] for p in pairs])
    for p, v in zip(pairs, mine, strict=True):
        assert ref[p["id"]]["ref_chosen_logps"] == pytest.approx(v, abs=1e-4)


def test_every_run_has_its_checkpoints_and_metrics(smoke_dir: Path):
    names = RN.checkpoint_names(CFG, "s")
    assert len(names) == CFG["daa"]["checkpoints"]
    for run in RN.runs(CFG):
        d = smoke_dir / "results" / "daa" / run.path
        for name in names:
            ck = d / name
            assert (ck / "model.safetensors").exists() and (ck / "tokenizer.json").exists()
            assert not (ck / "optimizer.safetensors").exists()
        hist = pd.read_csv(d / "history.csv")
        for col in ("loss", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"):
            assert col in hist.columns
        log = (smoke_dir / "logs" / "daa" / run.size / run.objective / f"beta-{run.beta}.log").read_text()
        assert "Computing reference log probs" not in log  # the shared ones were used
    assert not (smoke_dir / "results" / ".state").exists() or not any(
        (smoke_dir / "results" / ".state").rglob("*.safetensors")
    )


def test_intermediate_checkpoints_differ_and_move_away_from_sft(smoke_dir: Path):
    from safetensors.torch import load_file

    d = smoke_dir / "results" / "daa" / "s" / "dpo" / "beta-0.1"
    sft = load_file(str(smoke_dir / "results" / "models" / "s" / "sft" / "model.safetensors"))
    dist = []
    for name in RN.checkpoint_names(CFG, "s"):
        w = load_file(str(d / name / "model.safetensors"))
        dist.append(sum(float((w[k] - sft[k]).pow(2).sum()) for k in sft))
    assert dist[0] > 0 and dist == sorted(dist)


def test_killed_job_resumes_bitwise(fresh_copy):
    work = fresh_copy("resume")
    target = "results/daa/s/dpo/beta-0.1"
    original = {
        n: (work / target / n / "model.safetensors").read_bytes() for n in RN.checkpoint_names(CFG, "s")
    }
    original_hist = pd.read_csv(work / target / "history.csv")
    shutil.rmtree(work / target)
    proc = snakemake(
        work, "--cores", "1", f"{target}/history.csv", check=False, env={"OVEROPT_KILL_AT_STEP": "9"}
    )
    assert proc.returncode != 0
    assert "SIGKILL" in proc.stdout + proc.stderr or "-9" in proc.stdout + proc.stderr
    # nothing partial where Snakemake would take it as complete; the trainer state survives
    assert not (work / target).exists() or not any((work / target).iterdir())
    state = work / "results" / ".state" / "daa" / "s" / "dpo" / "beta-0.1"
    assert (state / "checkpoint-6" / "optimizer.safetensors").exists()
    assert not list(state.rglob("*.pt")) and not list(state.rglob("*.bin")) and not list(state.rglob("*.pth"))
    snakemake(work, "--cores", "1", f"{target}/history.csv")
    log = (work / "logs" / "daa" / "s" / "dpo" / "beta-0.1.log").read_text()
    assert "resuming size s, objective dpo, beta 0.1 from" in log and "checkpoint-6" in log
    for name, data in original.items():
        assert (work / target / name / "model.safetensors").read_bytes() == data, name
    resumed_hist = pd.read_csv(work / target / "history.csv")
    pd.testing.assert_series_equal(resumed_hist["loss"], original_hist["loss"])
    assert not state.exists()


def test_non_finite_loss_stops_with_a_named_error(fresh_copy):
    work = fresh_copy("nan")
    bad = yaml.safe_load(SMOKE.read_text())
    bad["models"]["s"]["daa"] = {"learning_rate": 1.0e6}
    cfg_path = work / "explode.yaml"
    cfg_path.write_text(yaml.safe_dump(bad))
    target = "results/daa/s/dpo/beta-1/history.csv"
    proc = snakemake(work, "--cores", "1", "-f", target, config=cfg_path, check=False)
    assert proc.returncode != 0
    log = (work / "logs" / "daa" / "s" / "dpo" / "beta-1.log").read_text()
    assert "non-finite loss" in log and "size s, objective dpo, beta 1" in log and "at step" in log
    assert not (work / target).exists()
    assert not (
        work / "results" / "daa" / "s" / "dpo" / "beta-1" / RN.checkpoint_names(CFG, "s")[-1]
    ).exists()


def test_bad_reference_logps_are_refused_before_training(fresh_copy):
    work = fresh_copy("badref")
    path = work / "results" / "ref_logps" / "s.jsonl"
    rows = read_jsonl(path)
    rows[3]["ref_chosen_logps"] = math.nan
    write_jsonl(path, rows)
    proc = snakemake(work, "--cores", "1", "-f", "results/daa/s/dpo/beta-1/history.csv", check=False)
    assert proc.returncode != 0
    log = (work / "logs" / "daa" / "s" / "dpo" / "beta-1.log").read_text()
    assert rows[3]["id"] in log and "non-finite reference log-prob" in log
