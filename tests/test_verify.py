"""`make verify` (overopt.pipeline.verify) on a small study tree: identical, changed bytes by stage, and the
statistical comparison where bytes cannot match."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from overopt.core import numerics
from overopt.pipeline import verify

FINDINGS = """# Findings
| finding | claim | verdict | in numbers |
|---|---|---|---|
| 1 | Every objective shows a hump. | **partly** | 1/2 |
| fit | The RL form fits better. | **reproduced** | 2/2 |
"""


def study(root: Path, win: float = 0.6, replicates: int | None = None) -> Path:
    """A tree shaped like a study's results: a model, samples, the evaluations table, findings."""
    (root / "results" / "models" / "s" / "sft").mkdir(parents=True)
    (root / "results" / "models" / "s" / "sft" / "model.safetensors").write_bytes(b"weights")
    (root / "results" / "models" / "s" / "sft" / "provenance.json").write_text(
        '{"rule": "sft", "git_commit": "abc", "seed": 1}'
    )
    (root / "results" / ".state").mkdir()
    (root / "results" / ".state" / "x").write_text("resume state, not a result")
    (root / "results" / "tables").mkdir()
    table = pd.DataFrame(
        [
            {
                "model_size": "s",
                "policy": "sft",
                "win_rate": 0.5,
                "win_rate_low": 0.45,
                "win_rate_high": 0.55,
                "kl_exact": 0.0,
            },
            {
                "model_size": "s",
                "policy": "dpo/beta-1/step-1",
                "win_rate": win,
                "win_rate_low": win - 0.05,
                "win_rate_high": win + 0.05,
                "kl_exact": 1.0,
            },
        ]
    )
    if replicates is not None:  # the same policies in every replicate; only replicate 0 gets ``win``
        other = table.assign(win_rate=0.6, win_rate_low=0.55, win_rate_high=0.65)
        table = pd.concat(
            [table.assign(replicate=r) if r == 0 else other.assign(replicate=r) for r in range(replicates)]
        )
    table.to_csv(root / "results" / "tables" / "evaluations.csv", index=False)
    (root / "results" / "findings.md").write_text(FINDINGS)
    return root


def test_identical_study_and_manifests_without_their_commit(tmp_path: Path, capsys) -> None:
    records = tmp_path / "records"
    verify.record(study(tmp_path / "a"), "config/toy.yaml", records)
    b = study(tmp_path / "b")
    manifest = b / "results" / "models" / "s" / "sft" / "provenance.json"
    manifest.write_text(manifest.read_text().replace("abc", "def"))  # another commit: same result
    assert verify.verify(b, "config/toy.yaml", records) == 0
    out = capsys.readouterr().out
    assert "sft             2 of    2 identical" in out and "all identical" in out
    assert ".state" not in (records / "toy.json").read_text()


def test_a_changed_artifact_is_named_under_its_stage(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(numerics.OPT_OUT, raising=False)
    records = tmp_path / "records"
    verify.record(study(tmp_path / "a"), "config/toy.yaml", records)
    b = study(tmp_path / "b")
    (b / "results" / "models" / "s" / "sft" / "model.safetensors").write_bytes(b"other weights")
    assert verify.verify(b, "config/toy.yaml", records) == 1
    out = capsys.readouterr().out
    assert "sft             1 of    2 identical" in out
    assert "differ   results/models/s/sft/model.safetensors" in out
    assert "bytes should match on this machine" in out


@pytest.mark.parametrize(("win", "status", "word"), [(0.62, 0, "agrees"), (0.9, 1, "DIFFERS")])
def test_where_bytes_cannot_match_the_headline_numbers_are_compared(
    tmp_path: Path, capsys, monkeypatch, win: float, status: int, word: str
) -> None:
    monkeypatch.setenv(numerics.OPT_OUT, "native")
    records = tmp_path / "records"
    verify.record(study(tmp_path / "a"), "config/toy.yaml", records)
    assert verify.verify(study(tmp_path / "b", win=win), "config/toy.yaml", records) == status
    out = capsys.readouterr().out
    assert "bytes cannot match here" in out and "OVEROPT_CPU_PATHS=native" in out
    assert f"s/dpo/beta-1/step-1: win rate {win:.3f} vs recorded 0.600" in out and word in out
    assert "verdict fit: reproduced (recorded: reproduced)" in out


def test_no_record_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert verify.verify(study(tmp_path / "a"), "config/none.yaml", tmp_path) == 1
    assert "make record CONFIG=config/none.yaml" in capsys.readouterr().err


def test_the_record_names_its_machine_and_a_mismatch_names_what_differs(tmp_path: Path, capsys) -> None:
    """The record holds the CPU and numerics it was made with; when bytes differ, the report names the
    record's CPU, this one, and every numerics difference (here: another MKL branch, another torch)."""
    import json

    records = tmp_path / "records"
    path = verify.record(study(tmp_path / "a"), "config/toy.yaml", records)
    rec = json.loads(path.read_text())
    made = rec["machine"]
    assert made == verify.machine() and made["torch"] and made["cpu"] == verify.cpu_model()
    if numerics.applies():
        assert made["cpu_paths"]["MKL_CBWR"] == numerics.PINNED["MKL_CBWR"]
    rec["machine"] = {
        **made,
        "cpu": "Some Other CPU (GenuineIntel, family 6 model 143)",
        "torch": "2.13.0",
        "cpu_paths": (
            {**made["cpu_paths"], "MKL_CBWR": "COMPATIBLE"} if numerics.applies() else made["cpu_paths"]
        ),
    }
    path.write_text(json.dumps(rec))
    b = study(tmp_path / "b")
    (b / "results" / "models" / "s" / "sft" / "model.safetensors").write_bytes(b"other weights")
    verify.verify(b, "config/toy.yaml", records)
    out = capsys.readouterr().out
    assert "record made on: Some Other CPU (GenuineIntel, family 6 model 143)" in out
    assert f"this machine:   {verify.cpu_model()}" in out
    assert f"torch: recorded 2.13.0, here {made['torch']}" in out
    assert "cpu: recorded Some Other CPU" in out
    if numerics.applies():
        assert "'MKL_CBWR': 'COMPATIBLE'" in out


def test_headline_numbers_are_keyed_and_compared_per_replicate(tmp_path: Path, capsys, monkeypatch) -> None:
    """Three replicates share their policies' names: each is recorded, and a change in the first
    replicate alone is found (keyed by size and policy only, the last replicate would hide it)."""
    monkeypatch.setenv(numerics.OPT_OUT, "native")
    records = tmp_path / "records"
    verify.record(study(tmp_path / "a", replicates=3), "config/toy.yaml", records)
    assert len(verify.headline(tmp_path / "a")["policies"]) == 6
    assert verify.verify(study(tmp_path / "b", win=0.9, replicates=3), "config/toy.yaml", records) == 1
    out = capsys.readouterr().out
    assert "replicate-0/s/dpo/beta-1/step-1: win rate 0.900 vs recorded 0.600" in out and "DIFFERS" in out
    assert "replicate-2/s/dpo/beta-1/step-1: win rate 0.600 vs recorded 0.600" in out


def test_a_study_made_with_another_torch_build_names_it_as_the_cause(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """The manifests name the torch build each artifact was made with: where it is not the
    record's (a CUDA build's ``2.13.0`` against ``2.13.0+cpu``), verify says so."""
    monkeypatch.delenv(numerics.OPT_OUT, raising=False)
    records = tmp_path / "records"
    verify.record(study(tmp_path / "a"), "config/toy.yaml", records)
    recorded = verify.json.loads((records / "toy.json").read_text())["machine"]["torch"]
    b = study(tmp_path / "b")
    manifest = b / "results" / "models" / "s" / "sft" / "provenance.json"
    manifest.write_text(
        verify.json.dumps({"rule": "sft", "git_commit": "abc", "seed": 1, "versions": {"torch": "2.13.0"}})
    )
    assert verify.verify(b, "config/toy.yaml", records) == 1
    out = capsys.readouterr().out
    assert f"made with torch 2.13.0 (1 manifests), the record with {recorded}" in out
    same = study(tmp_path / "c")
    (same / "results" / "models" / "s" / "sft" / "provenance.json").write_text(
        verify.json.dumps({"rule": "sft", "git_commit": "abc", "seed": 1, "versions": {"torch": recorded}})
    )
    (same / "results" / "models" / "s" / "sft" / "model.safetensors").write_bytes(b"other weights")
    verify.verify(same, "config/toy.yaml", records)
    assert "made with torch" not in capsys.readouterr().out
