"""Training on two processes: the rule's script relaunches itself under ``accelerate launch``.

CI has no GPU, so the multi-process path runs on CPU: ``sft.processes`` / ``daa.processes`` = 2 start
two ranks with DDP over gloo (``overopt.pipeline.launch``; FSDP is not enabled on CPU, the GPU path
uses the same relaunch with the FSDP config). Each rank takes half of every batch (``batch_size``
stays the examples per optimizer step), gradients are averaged, and rank 0 alone writes.

Tolerance: two ranks sum each half-batch's gradients and all-reduce them, a different order of float32
additions than one process's; Adam's normalisation turns those roundings into differences of up to
~1e-4 of a weight where a gradient is zero in exact arithmetic (measured: 6e-5 after the smoke
study's 60 SFT steps, 2e-4 after its 12 DAA steps, all of it in the attention's key bias, which the
softmax ignores; every other weight within 2e-7; the logged losses agree to their 6 digits). An
error of the path (ranks not synchronised, a batch counted twice or half dropped, the wrong rank's
weights written) changes which examples drive each update, which moves weights by the size of the
updates themselves, about the learning rate per step (5e-3 and 1e-3 here, over 60 and 12 steps):
1e-2 and more (a run on other pairs: 1e-2 by step 6). ``TOLERANCE`` = 1e-3 lies between, five times
the largest gap measured.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import yaml
from safetensors.torch import load_file

from conftest import SMOKE, snakemake
from overopt.core import runs as RN

TOLERANCE = 1e-3  # max |w_2 - w_1| over every weight; the same bound on the logged losses
CFG = yaml.safe_load(SMOKE.read_text())
SFT = "results/models/s/sft"
DAA = "results/daa/s/dpo/beta-0.1"


def two_processes(work: Path, group: str) -> Path:
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg[group]["processes"] = 2
    path = work / f"two-{group}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))  # the sizes' order: candidates follow it
    return path


def weight_gap(a: Path, b: Path) -> float:
    """Largest absolute difference between two checkpoints' weights (same tensors required)."""
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def loss_gap(a: Path, b: Path) -> float:
    ha, hb = pd.read_csv(a), pd.read_csv(b)
    assert list(ha["step"]) == list(hb["step"])  # the same optimizer steps
    return float((ha["loss"] - hb["loss"]).abs().max())


def test_sft_on_two_processes_matches_one(fresh_copy, tmp_path: Path) -> None:
    work = fresh_copy("sft")
    one = tmp_path / "one"
    shutil.copytree(work / SFT, one)
    shutil.copy(work / f"{SFT}_history.csv", tmp_path / "one.csv")
    snakemake(work, "--cores", "2", SFT, config=two_processes(work, "sft"))

    log = (work / "logs" / "sft" / "s.log").read_text()
    assert "process 0 of 2" in log and "process 1 of 2" in log, log[-2000:]
    assert sorted(p.name for p in (work / SFT).iterdir()) == sorted(p.name for p in one.iterdir())
    assert weight_gap(work / SFT, one) < TOLERANCE
    assert loss_gap(work / f"{SFT}_history.csv", tmp_path / "one.csv") < TOLERANCE
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(work / SFT).num_parameters() > 0


def test_daa_on_two_processes_matches_one_and_resumes(fresh_copy, tmp_path: Path) -> None:
    work = fresh_copy("daa")
    names = RN.checkpoint_names(CFG, "s")
    one = tmp_path / "one"
    shutil.copytree(work / DAA, one)
    config = two_processes(work, "daa")
    history = f"{DAA}/history.csv"
    snakemake(work, "--cores", "2", history, config=config)

    log_file = work / "logs" / "daa" / "s" / "dpo" / "beta-0.1.log"
    assert "process 1 of 2" in log_file.read_text()
    for name in names:  # rank 0 alone wrote: the single process's files, no rank's training state
        assert sorted(p.name for p in (work / DAA / name).iterdir()) == sorted(
            p.name for p in (one / name).iterdir()
        )
        assert weight_gap(work / DAA / name, one / name) < TOLERANCE, name
    assert loss_gap(work / history, one / "history.csv") < TOLERANCE
    two = {n: (work / DAA / n / "model.safetensors").read_bytes() for n in names}

    # killed mid-epoch (both ranks, after the checkpoint at step 6), then resumed: the same bytes
    shutil.rmtree(work / DAA)
    killed = snakemake(
        work, "--cores", "2", history, config=config, check=False, env={"OVEROPT_KILL_AT_STEP": "9"}
    )
    assert killed.returncode != 0
    state = work / "results" / ".state" / "daa" / "s" / "dpo" / "beta-0.1" / "checkpoint-6"
    assert {"rng_state_0.safetensors", "rng_state_1.safetensors", "optimizer.safetensors"} <= {
        p.name for p in state.iterdir()
    }
    assert not [p for p in state.parent.rglob("*") if p.suffix in {".pt", ".pth", ".bin"}]
    snakemake(work, "--cores", "2", history, config=config)
    assert "checkpoint-6" in log_file.read_text().split("resuming")[-1]
    for name, data in two.items():
        assert (work / DAA / name / "model.safetensors").read_bytes() == data, name
