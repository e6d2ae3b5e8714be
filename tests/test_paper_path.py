"""The paper config's DAG, run for real at toy scale and offline.

``config/paper.yaml`` (task type ``hub``, Pythia from the Hub, an ``openai`` judge) shrunk to toy
scale and pointed at local stand-ins: its datasets as local directories laid out like the Hub
repositories (CarperAI/openai_summarize_tldr's ``data/<split>-*.parquet``, the parquet conversion
of openai/summarize_from_feedback's ``comparisons/<split>/*.parquet``) in their own columns; its
model as a tiny GPT-NeoX directory saved with its own byte-level BPE tokenizer, as Pythia ships;
its judge as a real chat-completions server on 127.0.0.1. The whole DAG runs in a copy of the
project.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from chat_server import ENV, KEY, MODEL, ChatServer
from conftest import REPO, copy_project, hub_cache_repo
from overopt.core import runs as RN
from overopt.core.io import read_jsonl
from overopt.data.hub import TLDR_TEMPLATE
from overopt.pipeline import settings as S

PAPER = REPO / "config" / "paper.yaml"
SMOKE = REPO / "config" / "smoke.yaml"
SIZE = "pythia-1b"  # one size: the fits, figures and findings cope with one
EOS = "<|endoftext|>"
# every rule but the synthetic task's own (rules/data.smk, rules/sft.smk: `if SYNTHETIC`) and
# best-of-n's, which needs the synthetic task's gold reward (the paper config has no `best_of_n`)
SYNTHETIC_ONLY = {
    "tokenizer",
    "candidates",
    "preferences",
    "sft_quality",
    "reward_model",
    "best_of_n_sample",
    "best_of_n",
    "reward_models",
}
PAPER_RULES = {"all", *S.RULE_KEYS} - SYNTHETIC_ONLY

SUBREDDITS = ["relationships", "loseit", "AskReddit", "personalfinance"]
NOUNS = ["landlord", "sister", "boss", "roommate", "cat", "car", "budget", "neighbour", "gym", "exam"]
VERBS = ["ignores", "borrowed", "broke", "forgot", "moved", "cancelled", "doubled", "fixed"]
OBJECTS = ["the heating", "my bike", "our plans", "the rent", "my diet", "the lease", "my savings"]


def toy_posts(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` short Reddit-like posts: subreddit, title, post (with a blank line) and a TL;DR."""
    rng = random.Random(seed)
    posts = []
    for i in range(n):
        noun, verb, obj = rng.choice(NOUNS), rng.choice(VERBS), rng.choice(OBJECTS)
        other = rng.choice(NOUNS)
        posts.append(
            {
                "subreddit": rng.choice(SUBREDDITS),
                "title": f"My {noun} {verb} {obj} [{20 + i % 15}F]",
                "post": f"So my {noun} {verb} {obj} last week.\n\nNow my {other} is upset and I do "
                f"not know what to say about {obj}.",
                "summary": f"my {noun} {verb} {obj}, {other} upset",
            }
        )
    return posts


def carper_row(post: dict[str, str]) -> dict[str, str]:
    """A CarperAI/openai_summarize_tldr row: single-newline prompt ending "TL;DR: ", and the label."""
    prompt = f"SUBREDDIT: r/{post['subreddit']}\nTITLE: {post['title']}\nPOST: {post['post']}\nTL;DR: "
    return {"prompt": prompt, "label": post["summary"]}


def comparison_row(post: dict[str, str], post_id: str, k: int, split: str) -> dict[str, Any]:
    """An openai/summarize_from_feedback ``comparisons`` row (all seven columns) about ``post``: a
    concise and a padded summary, in either order; the labeller picks the concise one 4 times in 5."""
    rng = random.Random(k)
    concise = post["summary"]
    padded = f"{concise} {rng.choice(['and I need advice about it', 'so what do I do now'])}"
    summaries = rng.sample([concise, padded], 2)
    choice = summaries.index(concise if k % 5 else padded)
    return {
        "info": {
            "id": post_id,
            "post": post["post"],
            "title": post["title"],
            "subreddit": post["subreddit"],
            "site": None,
            "article": None,
        },
        "summaries": [
            {"text": " " + summaries[0], "policy": "sup2", "note": None},
            {"text": " " + summaries[1], "policy": "ref", "note": None},
        ],
        "choice": choice,
        "worker": f"worker{k % 3}",
        "batch": f"batch{3 + k % 4}",
        "split": split,
        "extra": {"confidence": 1 + k % 9},
    }


def cnndm_row() -> dict[str, Any]:
    """A CNN/Daily Mail comparison, as the train split holds: the loader skips it."""
    return {
        "info": {
            "id": "0a1b2c",
            "post": None,
            "title": "Sissoko faces action",
            "subreddit": None,
            "site": "dailymail",
            "article": "Newcastle...",
        },
        "summaries": [
            {"text": " Sissoko sent off.", "policy": "ref", "note": None},
            {"text": " Newcastle lost.", "policy": "sup2", "note": None},
        ],
        "choice": 0,
        "worker": "worker9",
        "batch": "cnndm0",
        "split": "train",
        "extra": {"confidence": None},
    }


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def write_datasets(root: Path, posts: list[dict[str, str]]) -> dict[str, Path]:
    """Both datasets as local directories in their Hub layouts; splits of ``posts``: 40 SFT, 8
    evaluation, 8 held-out; 2 comparisons for each of 16 SFT posts, and one CNN/DM row."""
    tldr, feedback = root / "openai_summarize_tldr", root / "summarize_from_feedback"
    splits = {"train": posts[:40], "test": posts[40:48], "valid": posts[48:56]}
    for split, rows in splits.items():
        write_parquet(tldr / "data" / f"{split}-00000-of-00001.parquet", [carper_row(p) for p in rows])
    train = [
        comparison_row(p, f"t3_{i:05x}", 2 * i + j, "train") for i, p in enumerate(posts[:16]) for j in (0, 1)
    ]
    train.insert(5, cnndm_row())
    held = [comparison_row(p, f"t3_v{i:04x}", i, "valid1") for i, p in enumerate(posts[48:56])]
    write_parquet(feedback / "comparisons" / "train" / "0000.parquet", train)
    write_parquet(feedback / "comparisons" / "validation" / "0000.parquet", held)
    return {"tldr": tldr, "feedback": feedback}


def write_pythia_standin(out: Path, texts: list[str], seed: int = 0) -> Path:
    """A tiny GPT-NeoX causal LM in Hugging Face format with its own byte-level BPE tokenizer
    (eos = bos = unk = ``<|endoftext|>``, no pad token: Pythia's special tokens)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=[EOS, "<|padding|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=EOS, eos_token=EOS, unk_token=EOS, clean_up_tokenization_spaces=False
    )
    config = GPTNeoXConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=512,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
        use_parallel_residual=True,
        tie_word_embeddings=False,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    GPTNeoXForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    return out


def write_hub_cache(home: Path, posts: list[dict[str, str]], work: Path) -> None:
    """The paper config's datasets and model, under their Hub ids at its pinned revisions, in the
    Hugging Face cache of ``HF_HOME`` ``home``: what ``make prefetch`` leaves there."""
    paper = yaml.safe_load(PAPER.read_text())
    data = write_datasets(work / "datasets", posts)
    for name, key in (("tldr", "sft"), ("feedback", "preferences")):
        spec = paper["task"]["hub"][key]  # eval and heldout_preferences: the same repositories
        files = {str(f.relative_to(data[name])): f.read_bytes() for f in data[name].rglob("*.parquet")}
        hub_cache_repo(home, "dataset", spec["id"], spec["revision"], files)
    model = paper["models"][SIZE]
    snapshot = hub_cache_repo(home, "model", model["hub_id"], model["revision"], {})
    write_pythia_standin(snapshot, [carper_row(p)["prompt"] + p["summary"] for p in posts])


def toy_paper_config(base_url: str) -> dict[str, Any]:
    """config/paper.yaml at toy scale: its structure and Hub ids, small numbers, float32."""
    cfg = yaml.safe_load(PAPER.read_text())
    cfg["threads"] = 1
    cfg["task"]["hub"]["heldout_preferences"]["limit"] = 6
    paper_model = cfg["models"][SIZE]
    cfg["models"] = {
        SIZE: {
            **paper_model,
            "params_b": 0.0001,
            "dtype": "float32",
            "sft": {"bf16": False},
            "daa": {"learning_rate": 1.0e-3, "per_device_batch_size": 4, "bf16": False},
        }
    }
    small = {"warmup_steps": 0, "max_length": 128, "logging_steps": 1}
    cfg["sft"] |= {**small, "batch_size": 8, "learning_rate": 3.0e-3, "max_steps": 40}
    cfg["daa"] |= {**small, "batch_size": 8, "learning_rate": 1.0e-3, "checkpoints": 1}
    cfg["preferences"]["n_train_pairs"] = 32
    for obj in cfg["objectives"].values():
        obj["betas"] = obj["betas"][-2:]
        obj["reconstructed_betas"] = [b for b in obj["reconstructed_betas"] if b in obj["betas"]]
    cfg["evaluation"] |= {"n_prompts": 6, "max_new_tokens": 16, "batch_size": 8, "bootstrap": 20}
    cfg["evaluation"]["heldout_pairs"] = 6
    cfg["judge"] |= {"base_url": base_url, "model": MODEL, "api_key_env": ENV, "max_tokens": 64}
    cfg["judge"] |= {"timeout_s": 10, "max_retries": 1, "backoff_s": 0.01}
    cfg["fit"]["bootstrap"] = 20
    cfg["toy_mdp"] = copy.deepcopy(yaml.safe_load(SMOKE.read_text())["toy_mdp"])
    return cfg


def offline_env(hf_home: Path) -> dict[str, str]:
    """A compute node without network: every request but to 127.0.0.1 (the judge's stand-in server)
    goes to a closed port, and HF_HUB_OFFLINE is left for the workflow to set."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE" and "proxy" not in k.lower()}
    dead = "http://127.0.0.1:9"
    return {
        **env,
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ALL_PROXY": dead,
        "NO_PROXY": "127.0.0.1,localhost",
        "HF_HOME": str(hf_home),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }


def job_stats(log: str) -> dict[str, int]:
    """Jobs by rule, summed over every "Job stats" table of the log (one per Snakemake run)."""
    counts: dict[str, int] = {}
    for part in log.split("Job stats:")[1:]:
        table = part.split("total", 1)[0]
        for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE):
            counts[m[1]] = counts.get(m[1], 0) + int(m[2])
    return counts


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer()
    yield srv
    srv.close()


@pytest.mark.workflow
def test_paper_dag_runs_offline_at_toy_scale(tmp_path: Path, server: ChatServer) -> None:
    """Every rule of the paper DAG runs through `dvc repro` on Hub-format data, a Pythia-format model
    and the openai judge, which a rerun does not pay again; the API key is in no file written."""
    write_hub_cache(tmp_path / "hf-home", toy_posts(56), tmp_path)
    cfg = toy_paper_config(server.base_url)
    project = copy_project(tmp_path / "project")
    config = project / "config" / "paper-toy.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {
        **offline_env(tmp_path / "hf-home"),
        ENV: KEY,  # the key only in the workflow's environment
        "PYTHONPATH": str(project / "workflow"),
    }

    def run(*cmd: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        return proc

    # `make dvc-yaml CONFIG=config/paper-toy.yaml`, then `dvc repro`: the study, stage by stage
    run(sys.executable, "-m", "overopt.pipeline.dvc_stages", "--config", "config/paper-toy.yaml", "--write")
    run("git", "init", "-q")
    start = time.monotonic()
    proc = run(sys.executable, "-m", "dvc", "repro")
    print(f"paper DAG at toy scale, through dvc repro: {time.monotonic() - start:.0f} s")
    log = proc.stdout + proc.stderr
    stages = [line.split("'")[1] for line in proc.stdout.splitlines() if line.startswith("Running stage")]
    assert stages == ["data", "sft", "daa", "evaluation", "report"], proc.stdout
    run(sys.executable, "-m", "dvc", "status", "--quiet")  # dvc.lock records every output
    study = project

    runs = RN.runs(cfg)
    assert len(runs) == 6  # 3 objectives x 2 betas
    assert job_stats(log) == {
        **dict.fromkeys(PAPER_RULES - {"daa", "sample", "judge"}, 1),
        "daa": len(runs),
        "sample": len(RN.groups(cfg)),  # one job per run (its checkpoints) and per SFT model
        "judge": len(runs),
        "judge_sft": 1,
    }

    results = study / "results"
    for log_file in ("logs/prepare_data.log", f"logs/sft/{SIZE}.log"):  # from the cache, not the network
        assert "HF_HUB_OFFLINE=1" in (study / log_file).read_text(), log_file
    assert len((results / "data" / "sft.jsonl").read_text().splitlines()) == 40
    assert len((results / "preferences" / "preferences.jsonl").read_text().splitlines()) == 32
    sft = results / "models" / SIZE / "sft"
    assert (sft / "model.safetensors").is_file() and (sft / "tokenizer.json").is_file()
    assert json.loads((sft / "tokenizer_config.json").read_text())["eos_token"] == EOS

    table = pd.read_csv(results / "tables" / "evaluations.csv")
    assert len(table) == len(RN.policies(cfg))
    assert set(table["judge"]) == {f"openai:{MODEL}"}
    assert (table["judge_unparseable"] == 0).all()
    # Every comparison, in the order it was shown, reached the server; the same one again (another
    # policy's identical sample in the same order) came from the judge's cache.
    posts = {p["id"]: p for p in read_jsonl(results / "data" / "eval.jsonl")}
    shown = set()
    for f in (results / "eval").rglob("samples.jsonl"):
        for s in read_jsonl(f):
            post = posts[s["prompt_id"]]
            pair = (s["completion"], post["reference"])
            shown.add((post["prompt"], *(pair[::-1] if s["judge_swapped"] else pair)))
    assert {(s["post"], s["a"], s["b"]) for s in server.seen} == shown
    assert len(read_jsonl(study / "cache" / "judge" / "ledger.jsonl")) == len(server.seen)
    for out in ("tables/fits.csv", "figures/figure1.png", "findings.md", "tables/provenance.csv"):
        assert (results / out).stat().st_size > 0, out
    sent = len(server.seen)
    target = f"results/eval/{SIZE}/sft/metrics.json"
    run(sys.executable, "-m", "snakemake", "--configfile", str(config), "--cores", "1", "-f", target)
    assert len(server.seen) == sent  # a rerun is judged from the persistent cache: nothing paid twice
    for root in ("results", "logs", "cache", ".dvc", ".snakemake"):
        for f in [*(study / root).rglob("*"), study / "dvc.lock"]:
            assert not f.is_file() or KEY.encode() not in f.read_bytes(), f


def test_a_study_stops_before_any_job_naming_what_is_not_prefetched(tmp_path: Path) -> None:
    """With the model but not the datasets in the cache, the paper DAG stops before its first job
    and names each dataset; a target that loads nothing from the Hub (the toy MDP) still runs."""
    home = tmp_path / "hf-home"
    model = yaml.safe_load(PAPER.read_text())["models"][SIZE]
    write_pythia_standin(hub_cache_repo(home, "model", model["hub_id"], model["revision"], {}), ["a b c"])
    project = copy_project(tmp_path / "project")
    config = project / "config" / "paper-toy.yaml"
    config.write_text(yaml.safe_dump(toy_paper_config("http://127.0.0.1:9/v1"), sort_keys=False))
    env = {**offline_env(home), ENV: KEY, "PYTHONPATH": str(project / "workflow")}

    def snakemake(*targets: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "snakemake", "--configfile", str(config), "--cores", "1", *targets]
        return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)

    stopped = snakemake()
    assert stopped.returncode != 0
    err = stopped.stdout + stopped.stderr
    assert "Not prefetched (jobs run offline, HF_HUB_OFFLINE=1)" in err, err[-3000:]
    spec = yaml.safe_load(PAPER.read_text())["task"]["hub"]["preferences"]
    assert f"dataset {spec['id']} at {spec['revision']} (task.hub.preferences)" in err
    assert f"model {model['hub_id']}" not in err  # the model is there
    assert not (project / "results").exists() and not (project / "logs").exists()  # no job started
    toy = snakemake("results/toy_mdp/findings.json")
    assert toy.returncode == 0, toy.stderr[-3000:]


def test_sft_starts_from_the_pinned_revision_of_a_hub_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, with only the paper's pinned revision of a Hub model fetched (what ``hf download
    --revision`` leaves in the cache), SFT loads that revision's model and its own tokenizer."""
    import huggingface_hub.constants

    from overopt.train.sft import train_sft

    paper = yaml.safe_load(PAPER.read_text())["models"][SIZE]
    repo = tmp_path / "hub-cache" / f"models--{paper['hub_id'].replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    rows = [
        {"id": str(i), "prompt": TLDR_TEMPLATE.format(**p), "reference": " " + p["summary"]}
        for i, p in enumerate(toy_posts(8))
    ]
    write_pythia_standin(repo / "snapshots" / commit, [r["prompt"] + r["reference"] for r in rows])
    (repo / "refs").mkdir()
    (repo / "refs" / paper["revision"]).write_text(commit)  # no "main": it was never fetched
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(repo.parent))

    info = train_sft(
        rows,
        out_dir=str(tmp_path / "sft"),
        history_path=str(tmp_path / "history.csv"),
        model_cfg=paper,
        tokenizer_path=paper["hub_id"],
        opts={"batch_size": 4, "learning_rate": 1.0e-3, "max_steps": 1, "max_length": 128},
        seed=0,
        scratch_dir=str(tmp_path / "scratch"),
    )
    assert info["steps"] == 1
    saved = json.loads((tmp_path / "sft" / "tokenizer_config.json").read_text())
    assert saved["eos_token"] == EOS
