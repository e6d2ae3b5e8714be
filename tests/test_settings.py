"""Each rule's settings param: exactly the config values it reads, and a job that reads more fails."""

from __future__ import annotations

import pytest
import yaml

from conftest import SMOKE
from overopt.pipeline import settings as S

CFG = yaml.safe_load(SMOKE.read_text())


def test_subset_fills_wildcards_expands_stars_and_keeps_the_deepest_container() -> None:
    got = S.subset(
        CFG, ["seed", "models.{size}.daa", "objectives.*.loss_type", "daa.batch_size"], {"size": "s"}
    )
    # smoke's size s has no `daa` block: the subset keeps `models.s`, so `.get("daa", {})` reads the same
    assert got == {
        "seed": 7,
        "models": {"s": {}},
        "objectives": {name: {"loss_type": o["loss_type"]} for name, o in CFG["objectives"].items()},
        "daa": {"batch_size": 16},
    }
    assert list(got["objectives"]) == list(CFG["objectives"])  # config order is kept: it carries meaning


def test_settings_hold_what_the_rule_reads_and_nothing_else() -> None:
    daa = S.settings(CFG, "daa", {"size": "s", "objective": "rdpo", "beta": "0.1"})
    rdpo = {k: v for k, v in CFG["objectives"]["rdpo"].items() if k not in ("betas", "sizes")}
    assert daa["objectives"] == {"rdpo": rdpo}  # not the beta grid: a run is one beta
    assert daa["daa"] == CFG["daa"] and "evaluation" not in daa and "sft" not in daa
    fit = S.settings(CFG, "fit")
    assert set(fit) == {"seed", "task", "fit", "objectives"} and fit["task"] == {"type": "synthetic"}
    with pytest.raises(KeyError):  # what a script that read an undeclared key would meet
        fit["evaluation"]
    assert set(S.RULE_KEYS) >= {
        "prepare_data",
        "sft",
        "daa",
        "sample",
        "judge",
        "collect",
        "fit",
        "pooled",
        "figures",
        "findings",
        "reward_model",
        "best_of_n_sample",
        "best_of_n",
        "reward_models",
    }


@pytest.mark.parametrize(
    ("key", "value", "readers"),
    [
        ("fit.bootstrap", 999, {"fit", "pooled", "findings"}),  # the analysis bootstrap
        ("sft.quality_gate.min_win_rate", 0.2, {"sft_quality"}),  # the gate, not the training
        ("sft.learning_rate", 1e-3, {"sft"}),
        # the gate has its own sample settings; best-of-n's judging reads none (it reruns on new draws)
        ("evaluation.max_new_tokens", 12, {"sample", "best_of_n_sample"}),
        ("evaluation.bootstrap", 99, {"judge", "collect", "best_of_n"}),  # summaries, not samples
        ("judge.tau", 0.5, {"judge", "best_of_n"}),
        ("best_of_n.n_max", 16, {"best_of_n_sample", "best_of_n"}),
        ("best_of_n.seed", 5, {"best_of_n_sample"}),  # a redraw; the judging reruns on the new draws
        ("reward_model.learning_rate", 1e-4, {"reward_model"}),
        ("evaluation.seed", 8, {"sample"}),  # best-of-n samples with its own seed
        ("daa.learning_rate", 1e-4, {"daa", "collect"}),  # the table's learning_rate column
    ],
)
def test_a_changed_value_changes_only_the_settings_that_read_it(key: str, value, readers: set) -> None:
    edited = yaml.safe_load(SMOKE.read_text())
    *path, last = key.split(".")
    node = edited
    for part in path:
        node = node[part]
    node[last] = value
    wc = {"size": "xs", "objective": "dpo", "beta": "1", "policy": "sft"}
    changed = {r for r in S.RULE_KEYS if S.settings(CFG, r, wc) != S.settings(edited, r, wc)}
    assert changed == readers


def test_the_objective_specs_keys_are_every_field_specs_reads() -> None:
    """The analysis rules see an objective through ``overopt.core.objectives.specs``: every field of
    ``Objective`` but its name is a key their settings declare (a new field, e.g. ``labels``, is
    otherwise missing from the config those jobs are given)."""
    from dataclasses import fields

    from overopt.core.objectives import Objective

    wanted = {f"objectives.*.{f.name}" for f in fields(Objective) if f.name != "name"}
    assert wanted == set(S.OBJECTIVE_SPECS)
