"""The config schema stops a bad config before any job runs, naming the key; all configs dry-run offline."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO, SMOKE, snakemake
from overopt.core import config as C
from overopt.core import runs as RN
from overopt.pipeline.checks import check_config


def smoke() -> dict:
    return yaml.safe_load(SMOKE.read_text())


def with_change(change) -> dict:
    cfg = copy.deepcopy(smoke())
    change(cfg)
    return cfg


BAD = {
    "unknown loss type": (
        lambda c: c["objectives"]["dpo"].update(loss_type="sigmod"),
        ["objectives.dpo.loss_type", "'sigmod' is not a registered loss type", "sigmoid", "hinge", "ipo"],
    ),
    "non-positive beta": (
        lambda c: c["objectives"]["ipo"].update(betas=[0.1, 0.0]),
        ["objectives.ipo.betas.1", "0.0"],
    ),
    "missing key": (lambda c: c.pop("evaluation"), ["evaluation", "required"]),
    "wrong type": (lambda c: c["sft"].update(max_steps="many"), ["sft.max_steps", "'many'"]),
    "unknown objective key": (
        lambda c: c["objectives"]["dpo"].update(betaz=[0.1]),
        ["objectives.dpo", "betaz"],
    ),
    "objective name not allowed": (
        lambda c: c["objectives"].update(sft={"loss_type": "sigmoid", "betas": [0.1]}),
        ["objectives", "sft"],
    ),
    "unknown size in an objective": (
        lambda c: c["objectives"]["rdpo"].update(sizes=["xxl"]),
        ["objectives.rdpo.sizes", "xxl", "allowed: s, xs"],
    ),
    "length margin on a non-DPO loss": (
        lambda c: c["objectives"]["ipo"].update(length_alpha=0.1),
        ["objectives.ipo.length_alpha", "sigmoid"],
    ),
    "unknown generator key": (
        lambda c: c["task"]["synthetic"].update(generator={"p_dorp": 0.1}),
        ["task.synthetic.generator", "p_dorp", "reference_noise"],
    ),
    "unknown reference noise": (
        lambda c: c["task"]["synthetic"].update(generator={"reference_noise": "middle"}),
        ["task.synthetic.generator.reference_noise", "'middle'", "random, tail"],
    ),
    "unknown judge type": (
        lambda c: c["judge"].update(type="gpt"),
        ["judge.type", "'gpt'", "gold, openai, reward_model"],
    ),
    "a key of another judge": (
        lambda c: c["judge"].update(model="x"),
        ["judge", "['model']", "'gold'", "tau"],
    ),
    "gradient accumulation in daa": (
        lambda c: c["daa"].update(gradient_accumulation_steps=2),
        ["daa.gradient_accumulation_steps", "per_device_batch_size"],
    ),
    "gradient accumulation in sft": (
        lambda c: c["sft"].update(gradient_accumulation_steps=2),
        ["sft.gradient_accumulation_steps", "per_device_batch_size"],
    ),
    "a key nothing reads": (lambda c: c.update(tokenizer={"type": "trained"}), ["tokenizer", "unknown key"]),
    "unknown candidate size": (
        lambda c: c["candidates"].update(sizes=["xxl"]),
        ["candidates.sizes", "xxl", "allowed: s, xs"],
    ),
    "best-of-n without n_max": (lambda c: c["best_of_n"].pop("n_max"), ["best_of_n", "n_max"]),
    "an unknown DPOConfig field": (
        lambda c: c["daa"].update(trl={"bta": 0.1}),
        ["daa.trl.bta", "not a field of TRL's DPOConfig"],
    ),
    "a DPOConfig field the workflow sets": (
        lambda c: c["objectives"]["dpo"].update(trl={"beta": 0.1}),
        ["objectives.dpo.trl.beta", "sets this DPOConfig field itself", "objectives.<o>.betas"],
    ),
    "a renamed key": (
        lambda c: c["toy_mdp"].update(lr=c["toy_mdp"].pop("learning_rate")),
        ["'toy_mdp.lr' was renamed", "'toy_mdp.learning_rate'"],
    ),
    "unknown labels": (
        lambda c: c["objectives"]["dpo"].update(labels="random"),
        ["objectives.dpo.labels", "'random'"],
    ),
    "per-size checkpoints": (
        lambda c: c["models"]["s"].update(daa={"checkpoints": 2}),
        ["models.s.daa.checkpoints"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_is_named_by_the_library(case):
    change, words = BAD[case]
    with pytest.raises(C.ConfigError) as err:
        check_config(with_change(change))
    for word in words:
        assert word in str(err.value), (case, str(err.value))


@pytest.mark.workflow
@pytest.mark.parametrize("case", ["unknown loss type", "non-positive beta", "missing key", "wrong type"])
def test_bad_config_stops_snakemake_before_any_job(case, tmp_path):
    change, words = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_change(change)))
    proc = snakemake(tmp_path, "-n", config=path, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Configuration error" in out
    for word in words:
        assert word in out
    assert not (tmp_path / "results").exists()


@pytest.mark.workflow
@pytest.mark.parametrize("name", ["smoke.yaml", "config.yaml", "paper.yaml", "pilot.yaml"])
def test_every_config_builds_its_dag_offline(name, tmp_path):
    proc = snakemake(tmp_path, "-n", "--quiet", "rules", config=REPO / "config" / name)
    assert "daa" in proc.stdout and "sample" in proc.stdout and "judge" in proc.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.workflow
def test_paper_dag_has_the_full_grid(tmp_path):
    proc = snakemake(tmp_path, "-n", "--quiet", "rules", config=REPO / "config" / "paper.yaml")
    counts = {
        parts[0]: int(parts[1])
        for line in proc.stdout.splitlines()
        if len(parts := line.split()) == 2 and parts[1].isdigit()
    }
    assert counts["daa"] == 3 * 3 * 7
    assert counts["ref_logps"] == 3
    assert counts["sample"] == 3 * 3 * 7 + 3  # one job per run (its 5 checkpoints) and per SFT model
    assert counts["judge"] == 3 * 3 * 7 and counts["judge_sft"] == 3
    assert len(RN.policies(C.load(REPO / "config" / "paper.yaml"))) == 3 * 3 * 7 * 5 + 3  # every one judged
    assert counts["sft"] == 3


def test_paper_grid_contains_the_public_betas():
    cfg = C.load(REPO / "config" / "paper.yaml")
    for name in ("dpo", "ipo", "slic"):
        betas = cfg["objectives"][name]["betas"]
        assert len(betas) == 7 and {0.01, 0.0175, 0.025, 0.0375} <= set(betas)
        assert set(cfg["objectives"][name]["reconstructed_betas"]) <= set(betas)
    assert 0.5 in cfg["objectives"]["slic"]["betas"]


def test_checkpoints_are_evenly_spaced_and_named_by_step_and_epoch():
    cfg = smoke()
    steps = RN.checkpoint_steps(cfg, "s")
    assert steps == [6, 12]  # 96 posts x 2 pairs / batch 16 = 12 steps, 2 checkpoints
    assert RN.checkpoint_names(cfg, "s") == ["step-00006_ep-0.500", "step-00012_ep-1.000"]
    default = C.load(REPO / "config" / "config.yaml")
    assert RN.checkpoint_steps(default, "m") == [50, 100, 150, 200, 250]  # 4 intermediate + final
    paper = C.load(REPO / "config" / "paper.yaml")
    assert RN.checkpoint_steps(paper, "pythia-1b")[-1] == RN.total_steps(paper, "pythia-1b") == 1451
    assert len(RN.checkpoint_steps(paper, "pythia-1b")) == 5


PAPER_BAD = {
    "a Hub model id that is not owner/name": (
        lambda c: c["models"]["pythia-1b"].update(hub_id="pythia 1b"),
        ["models.pythia-1b.hub_id", "'pythia 1b'"],
    ),
    "a Hub model without a revision": (
        lambda c: c["models"]["pythia-1b"].pop("revision"),
        ["models.pythia-1b", "revision"],
    ),
    "a Hub dataset id that is not owner/name": (
        lambda c: c["task"]["hub"]["sft"].update(id="tldr"),
        ["task.hub.sft.id", "'tldr'"],
    ),
    "an openai judge without its key variable": (
        lambda c: c["judge"].pop("api_key_env"),
        ["judge", "api_key_env"],
    ),
    "best-of-n without a gold reward": (
        lambda c: c.update(best_of_n={"n_max": 8, "seed": 0}),
        ["config key 'best_of_n'", "gold reward", "'hub'"],
    ),
}


@pytest.mark.parametrize("case", sorted(PAPER_BAD))
def test_bad_paper_config_is_named_before_the_dag(case):
    change, words = PAPER_BAD[case]
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    change(cfg)
    with pytest.raises(C.ConfigError) as err:
        check_config(cfg)
    for word in words:
        assert word in str(err.value), (case, str(err.value))


def test_every_config_key_is_described_and_the_config_page_is_current() -> None:
    """config/README.md is generated from the schema's descriptions (``overopt.pipeline.config_docs``):
    every key the schema accepts has one, and the page is the generator's current output."""
    from overopt.pipeline import config_docs

    schema = yaml.safe_load(C.SCHEMA.read_text())
    undescribed = []

    def walk(node: dict, path: str) -> None:
        children = dict(node.get("properties", {}))
        if isinstance(node.get("additionalProperties"), dict):
            children["<name>"] = node["additionalProperties"]
        for key, child in children.items():
            here = f"{path}.{key}" if path else key
            if "description" not in child:
                undescribed.append(here)
            walk(child, here)

    walk(schema, "")
    for name in config_docs.SHARED:
        walk(schema["$defs"][name], name)
    assert not undescribed, f"schema keys without a description: {undescribed}"
    assert config_docs.PAGE.read_text() == config_docs.render(), (
        "config/README.md is not current: python -m overopt.pipeline.config_docs --write"
    )
    for key in ("`models.<size>.architecture.hidden_size`", "`objectives.<name>.labels`", "`batch_size`"):
        assert key in config_docs.PAGE.read_text(), key
