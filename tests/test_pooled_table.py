"""The pooled table: every policy's win rate, paired gain over SFT and sqrt(KL) over replicates and
prompts, with the two-level CI and its seed-to-seed part."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from overopt.analysis.per_prompt import Pooled
from overopt.analysis.pooled_table import table

BOOT = (400, 0.95, 3)
N = 200  # prompts


def _pooled(shifts: tuple[float, ...], drop: tuple[int, str] | None = None) -> Pooled:
    """Two sizes, an SFT policy and a DPO checkpoint each; replicate r shifts the DPO win rate."""
    rng = np.random.default_rng(0)
    common = rng.normal(0.0, 0.1, N)  # prompts' own difficulty, shared by replicates and policies
    rows, values = [], {}
    for r, shift in enumerate(shifts):
        for size in ("s", "m"):
            for objective, policy, base, kl in (
                ("sft", "sft", 0.4, 0.0),
                ("dpo", "dpo/b-0.1/s-2", 0.5, 0.25),
            ):
                if drop == (r, policy):
                    continue
                rows.append(
                    {
                        "replicate": r,
                        "model_size": size,
                        "objective": objective,
                        "beta": np.nan,
                        "step": 2,
                        "epoch_fraction": 1.0,
                        "temperature": 1.0,
                        "n": np.nan,
                        "policy": policy,
                    }
                )
                win = base + common + (shift if objective == "dpo" else 0.0) + rng.normal(0.0, 0.05, N)
                values |= {
                    (r, size, policy, "win"): win,
                    (r, size, policy, "kl"): np.full(N, kl) + rng.normal(0.0, 0.01, N) * (kl > 0),
                }
    return Pooled(pd.DataFrame(rows), values)


def test_each_policy_pools_its_replicates_and_prompts() -> None:
    p = _pooled((0.0, 0.04, 0.08))
    out = table(p, BOOT)
    assert list(zip(out["model_size"], out["policy"], strict=True)) == [
        ("s", "sft"),
        ("s", "dpo/b-0.1/s-2"),
        ("m", "sft"),
        ("m", "dpo/b-0.1/s-2"),
    ]
    assert set(out["replicates"]) == {3}
    row = out.iloc[1]
    win, sft = p.stack("s", ["dpo/b-0.1/s-2"])[..., 0], p.stack("s", ["sft"])[..., 0]
    assert row["win_rate"] == pytest.approx(win.mean())
    assert row["win_gain"] == pytest.approx((win - sft).mean())
    assert row["sqrt_kl"] == pytest.approx(math.sqrt(p.stack("s", ["dpo/b-0.1/s-2"], "kl").mean()))
    for name in ("win_rate", "win_gain", "sqrt_kl"):
        assert row[f"{name}_low"] < row[name] < row[f"{name}_high"], name
    # the replicates' shifts (sd 0.04) dominate the gain's spread; its CI is wider than the prompts' alone
    assert row["win_gain_se_replicates"] > 0.01
    assert row["win_gain_high"] - row["win_gain_low"] > 4 * 0.05 / math.sqrt(3 * N)
    sft_row = out.iloc[0]
    assert sft_row["win_gain"] == sft_row["win_gain_low"] == sft_row["win_gain_high"] == 0.0


def test_replicates_that_agree_leave_no_seed_to_seed_error() -> None:
    out = table(_pooled((0.05, 0.05, 0.05)), BOOT)
    agreed = table(_pooled((0.0, 0.04, 0.08)), BOOT)
    gain = out.iloc[1]
    assert gain["win_gain_se_replicates"] < 0.005 < agreed.iloc[1]["win_gain_se_replicates"]


def test_a_replicate_without_a_policy_is_named() -> None:
    with pytest.raises(ValueError, match="replicate 1"):
        table(_pooled((0.0, 0.0), drop=(1, "dpo/b-0.1/s-2")), BOOT)


def test_a_policy_without_kl_has_an_empty_sqrt_kl() -> None:
    p = _pooled((0.0, 0.02))
    for key in [k for k in p.values if k[2] == "dpo/b-0.1/s-2" and k[3] == "kl"]:
        p.values[key] = np.full(N, np.nan)
    row = table(p, BOOT).iloc[1]
    assert math.isnan(row["sqrt_kl"]) and math.isnan(row["sqrt_kl_high"]) and not math.isnan(row["win_rate"])
