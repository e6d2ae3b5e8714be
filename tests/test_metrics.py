"""The headline numbers DVC compares (overopt.analysis.metrics), from small pooled and fits tables."""

from __future__ import annotations

import math

import pandas as pd

from overopt.analysis.metrics import headline


def pooled() -> pd.DataFrame:
    rows = [
        ("s", "sft", math.nan, 0, "sft", 0.45, 0.0),
        ("s", "temperature", math.nan, 0, "temperature/T-0", 0.60, 0.7),  # not a checkpoint
        ("s", "bon_gold", math.nan, 0, "bon_gold/n-4", 0.70, 0.9),  # nor this
        ("s", "dpo", 0.1, 50, "dpo/beta-0.1/step-00050", 0.50, 0.4),
        ("s", "dpo", 0.1, 100, "dpo/beta-0.1/step-00100", 0.40, 0.8),
        ("s", "dpo", 0.3, 50, "dpo/beta-0.3/step-00050", 0.55, 0.3),
        ("s", "ipo", 0.3, 50, "ipo/beta-0.3/step-00050", 0.52, 0.2),
        ("s", "ipo", 0.1, 50, "ipo/beta-0.1/step-00050", 0.52, 0.6),  # a tie: the first policy
        ("m", "sft", math.nan, 0, "sft", 0.5, 0.0),
    ]
    cols = ["model_size", "objective", "beta", "step", "policy", "win_rate", "sqrt_kl"]
    return pd.DataFrame(rows, columns=cols)


def fits() -> pd.DataFrame:
    rows = [
        (0, "s", "dpo", "rl", 0.9, 0.1),
        (1, "s", "dpo", "rl", 0.7, 0.3),
        (0, "s", "dpo", "bon", 0.8, math.nan),
    ]
    return pd.DataFrame(rows, columns=["replicate", "model_size", "objective", "form", "r2", "r_peak"])


def test_headline_numbers_are_the_tables_own() -> None:
    out = headline(pooled(), fits())
    assert out["sft"] == {"s": 0.45, "m": 0.5}
    assert out["peak"]["s"]["dpo"] == {"win_rate": 0.55, "sqrt_kl": 0.3, "beta": 0.3}
    assert out["peak"]["s"]["ipo"] == {"win_rate": 0.52, "sqrt_kl": 0.6, "beta": 0.1}
    assert set(out["peak"]) == {"s"}  # temperature, best-of-n and SFT rows are not checkpoints
    assert out["fit"]["rl"]["s"]["dpo"] == {"r2": 0.8, "r_peak": 0.2}
    assert out["fit"]["bon"]["s"]["dpo"]["r_peak"] is None  # NaN: JSON null, not an invalid NaN
