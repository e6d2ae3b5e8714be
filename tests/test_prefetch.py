"""Prefetch (``overopt.pipeline.prefetch``): every Hub model and dataset a config names, fetched
where the network is and found offline; what the cache lacks is named. Offline here: the cache is
laid out by hand as huggingface_hub lays it out (snapshots by commit, a ref per revision)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from conftest import REPO, hub_cache_repo
from overopt.core.config import load
from overopt.pipeline import prefetch


def test_the_paper_config_names_its_three_models_and_four_datasets() -> None:
    found = [(t.kind, t.repo_id, t.key) for t in prefetch.targets(load(REPO / "config" / "paper.yaml"))]
    assert [k for k, _, _ in found] == ["model"] * 3 + ["dataset"] * 4
    assert ("model", "EleutherAI/pythia-1b-deduped", "models.pythia-1b") in found
    assert ("dataset", "openai/summarize_from_feedback", "task.hub.preferences") in found


def _config(tmp: Path) -> Path:
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg["models"] = {"tiny": {"hub_id": "owner/tiny", "revision": "step1", "params_b": 0.001}}
    for name in prefetch.DATA_SPECS:
        cfg["task"]["hub"][name] = {
            "id": "owner/tldr",
            "revision": "v1",
            "split": "train",
            "format": "carper_tldr",
        }
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _check(cfg: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "workflow")}
    return subprocess.run(
        [sys.executable, "-m", "overopt.pipeline.prefetch", "--config", str(cfg), "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_names_what_is_not_prefetched_and_passes_once_it_is(tmp_path: Path) -> None:
    cfg, home = _config(tmp_path), tmp_path / "hf"
    empty = _check(cfg, home)
    assert empty.returncode == 1
    assert "model owner/tiny at step1 (models.tiny): not in the Hugging Face cache" in empty.stderr
    assert "dataset owner/tldr at v1 (task.hub.sft): not in the Hugging Face cache" in empty.stderr
    assert "make prefetch" in empty.stderr

    from transformers import GPTNeoXConfig

    config_json = GPTNeoXConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2).to_json_string()
    hub_cache_repo(home, "model", "owner/tiny", "step1", {"config.json": config_json.encode()})
    table = tmp_path / "train.parquet"
    pd.DataFrame({"prompt": ["POST: p\nTL;DR:"], "label": [" a summary"]}).to_parquet(table)
    files = {"data/train-00000-of-00001.parquet": table.read_bytes()}
    hub_cache_repo(home, "dataset", "owner/tldr", "v1", files)
    full = _check(cfg, home)
    assert full.returncode == 0, full.stderr
    assert "all 5 Hub models and datasets" in full.stdout

    # a job on a node without network loads the prefetched model by its id and revision
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    code = (
        "from transformers import AutoConfig; "
        "print(AutoConfig.from_pretrained('owner/tiny', revision='step1').hidden_size)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert loaded.stdout.strip() == "16", loaded.stderr[-2000:]
