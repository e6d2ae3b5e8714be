"""The collect rule: every evaluated policy in one table, with win-rate gains paired against SFT."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from overopt.core.bootstrap import paired_diff
from overopt.core.io import read_json, read_jsonl
from overopt.core.runtime import derive_seed

COLUMNS = [
    "model_size",
    "objective",
    "beta",
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
    "finished",
    "n_prompts",
    "judge",
    "judge_unparseable",
    "policy",
]


def collect(
    entries: list[tuple[str, str]], sft_samples: dict[str, str], ev: dict[str, Any], seed: int
) -> pd.DataFrame:
    """``entries``: (metrics.json, samples.jsonl) per policy, in the order the table lists them."""
    sft_rows = {size: read_jsonl(path) for size, path in sft_samples.items()}
    rows = []
    for metrics_path, samples_path in entries:
        m = read_json(metrics_path)
        if m["objective"] == "sft":
            m["win_gain"] = m["win_gain_low"] = m["win_gain_high"] = 0.0
        else:
            g = paired_diff(
                {r["prompt_id"]: r["judge_prob_win"] for r in read_jsonl(samples_path)},
                {r["prompt_id"]: r["judge_prob_win"] for r in sft_rows[m["model_size"]]},
                int(ev.get("bootstrap", 1000)),
                float(ev.get("ci", 0.95)),
                derive_seed(seed, m["policy"], m["model_size"]),
            )
            m["win_gain"], m["win_gain_low"], m["win_gain_high"] = g
        rows.append({c: m.get(c, math.nan) for c in COLUMNS})
    return pd.DataFrame(rows, columns=COLUMNS)
