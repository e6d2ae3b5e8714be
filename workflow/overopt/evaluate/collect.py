"""The collect rule: every evaluated policy of every replicate in one table, gains paired against SFT."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from overopt.core.bootstrap import paired_diff
from overopt.core.io import read_json, read_jsonl
from overopt.core.runtime import derive_seed

COLUMNS = [
    "replicate",
    "model_size",
    "objective",
    "beta",
    "learning_rate",
    "step",
    "epoch_fraction",
    "temperature",
    "n",
    "kl",
    "kl_exact",
    "sqrt_kl",
    "win_rate",
    "win_rate_low",
    "win_rate_high",
    "win_gain",
    "win_gain_low",
    "win_gain_high",
    "mean_length",
    "gold_reward",
    "length_r2",
    "implicit_acc",
    "implicit_acc_gold",
    "finished",
    "n_prompts",
    "judge",
    "judge_unparseable",
    "policy",
]


def collect(
    entries: list[tuple[int, str, str]],
    sft_samples: dict[tuple[int, str], str],
    ev: dict[str, Any],
    seed: int,
    learning_rates: Mapping[tuple[str, str], float] | None = None,
) -> pd.DataFrame:
    """``entries``: (replicate, metrics.json, samples.jsonl) per policy, in the table's order.

    ``sft_samples``: the SFT policy's samples.jsonl per (replicate, size), the gains' baseline;
    ``learning_rates``: each DAA run's rate by (size, objective) (``overopt.core.config.learning_rates``),
    the ``learning_rate`` column (empty for SFT and temperature policies).
    """
    rates = learning_rates or {}
    sft_rows = {key: read_jsonl(path) for key, path in sft_samples.items()}
    rows = []
    for replicate, metrics_path, samples_path in entries:
        m = {**read_json(metrics_path), "replicate": replicate}
        m["learning_rate"] = rates.get((m["model_size"], m["objective"]), math.nan)
        if m["objective"] == "sft":
            m["win_gain"] = m["win_gain_low"] = m["win_gain_high"] = 0.0
        else:
            labels = (m["policy"], m["model_size"], *(("replicate", replicate) if replicate else ()))
            g = paired_diff(
                {r["prompt_id"]: r["judge_prob_win"] for r in read_jsonl(samples_path)},
                {r["prompt_id"]: r["judge_prob_win"] for r in sft_rows[(replicate, m["model_size"])]},
                int(ev.get("bootstrap", 1000)),
                float(ev.get("ci", 0.95)),
                derive_seed(seed, *labels),
            )
            m["win_gain"], m["win_gain_low"], m["win_gain_high"] = g
        rows.append({c: m.get(c, math.nan) for c in COLUMNS})
    return pd.DataFrame(rows, columns=COLUMNS)
