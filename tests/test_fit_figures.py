"""Scaling-law fits, their bootstrap, byte-identical figures and the findings' verdict logic."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from overopt.analysis import fit as ft
from overopt.analysis.figures import FIGURES, make_all
from overopt.analysis.figures.length import length
from overopt.core.io import write_csv
from overopt.core.objectives import specs

# The objectives these tables use, as a config would declare them: the analysis knows an
# objective by its loss type and length margin, never by its name.
SPECS = specs(
    {
        "dpo": {"loss_type": "sigmoid"},
        "ipo": {"loss_type": "ipo"},
        "rdpo": {"loss_type": "sigmoid", "length_alpha": 0.05},
    }
)

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
D = np.array([0.15, 0.3, 0.5, 0.8, 1.1, 1.5, 2.0, 2.6])
SFT_WIN = 0.4


def table(
    curves: dict[tuple[str, str], list[float]],
    d: np.ndarray = D,
    hw: float = 0.01,
    sft_win: float = SFT_WIN,
    implicit: dict[tuple[str, str], list[float]] | None = None,
) -> pd.DataFrame:
    """An evaluations table: per (size, objective) one beta whose checkpoints sit at ``d``.

    Each checkpoint i of a run is at epoch fraction (i + 1) / len(d); win rates are ``curves``.
    """
    rows = []
    for size in dict.fromkeys(s for s, _ in curves):
        rows.append(_row(size, "sft", math.nan, 0, 0.0, 0.0, sft_win, hw, sft_win, "sft"))
    for (size, objective), wins in curves.items():
        for i, (x, w) in enumerate(zip(d, wins, strict=True)):
            frac = (i + 1) / len(d)
            policy = f"{objective}/beta-0.1/step-{i + 1:05d}_ep-{frac:.3f}"
            row = _row(size, objective, 0.1, i + 1, frac, float(x), w, hw, sft_win, policy)
            row["implicit_acc"] = implicit[(size, objective)][i] if implicit else 0.6
            rows.append(row)
    return pd.DataFrame(rows)


def _row(
    size: str, objective: str, beta: float, step: int, frac: float, d: float, win: float, hw: float,
    sft: float, policy: str,
) -> dict:  # fmt: skip
    return {
        "model_size": size, "objective": objective, "beta": beta, "step": step, "epoch_fraction": frac,
        "temperature": 1.0, "kl": d * d, "kl_exact": d * d, "sqrt_kl": d, "win_rate": win,
        "win_rate_low": win - hw, "win_rate_high": win + hw, "win_gain": win - sft,
        "win_gain_low": win - sft - hw, "win_gain_high": win - sft + hw, "mean_length": 20 + 5 * d,
        "gold_reward": win, "length_r2": 0.5 / (1 + d), "implicit_acc": math.nan, "finished": 1.0,
        "n_prompts": 100, "judge": "gold", "judge_unparseable": 0, "policy": policy,
    }  # fmt: skip


def curve(form: str, alpha: float, beta: float, d: np.ndarray = D, base: float = SFT_WIN) -> list[float]:
    return list(ft.predict(form, alpha, beta, d, base))


# ----- (a) exact recovery and peaks --------------------------------------------------------


@pytest.mark.parametrize("offset", ft.OFFSETS)
@pytest.mark.parametrize("form", ft.FORMS)
def test_fit_recovers_noiseless_coefficients(form: str, offset: str) -> None:
    alpha, beta = 0.3, 0.12
    ev = table({("s", "dpo"): curve(form, alpha, beta)})
    fits = ft.fit_table(ev, None, {"offset": offset}, seed=0, objectives=SPECS)
    row = fits[fits["form"] == form].iloc[0]
    assert row["coef_alpha"] == pytest.approx(alpha, rel=1e-9)
    assert row["coef_beta"] == pytest.approx(beta, rel=1e-9)
    assert row["intercept"] == pytest.approx(SFT_WIN, rel=1e-9)
    assert row["rmse"] == pytest.approx(0, abs=1e-12)
    assert row["r2"] == pytest.approx(1, abs=1e-12)
    assert row["n_points"] == len(D) + 1 and row["d_max"] == D.max() and row["offset"] == offset
    other = fits[fits["form"] != form].iloc[0]
    assert other["rmse"] > 1e-4  # the other form cannot fit exactly
    assert (fits["rmse_ratio"] == fits["rmse_ratio"].iloc[0]).all()
    assert np.isnan(fits[["coef_alpha_low", "d_peak_high", "peak_frac"]].to_numpy()).all()  # no samples


def test_peak_formulas() -> None:
    alpha, beta = 0.3, 0.12
    grid = np.linspace(1e-6, 20, 400_001)
    for form in ft.FORMS:
        d_star, r_star = ft.peak(form, np.array(alpha), np.array(beta))
        values = ft.predict(form, alpha, beta, grid)
        assert float(d_star) == pytest.approx(grid[np.argmax(values)], abs=1e-3)
        assert float(r_star) == pytest.approx(values.max(), rel=1e-9)
    assert float(ft.peak("rl", np.array(alpha), np.array(beta))[0]) == pytest.approx(
        math.exp(alpha / beta - 1)
    )
    assert float(ft.peak("bon", np.array(alpha), np.array(beta))[1]) == pytest.approx(alpha**2 / (4 * beta))
    for form in ft.FORMS:  # no maximum: nan
        assert np.isnan(ft.peak(form, np.array([alpha, alpha]), np.array([0.0, -0.1]))).all()
    assert np.isnan(ft.peak("bon", np.array(-0.1), np.array(0.2))).all()
    assert np.isinf(ft.peak("rl", np.array(1e3), np.array(1e-3))[0])  # overflows: far beyond the data
    assert ft.basis("rl", np.array([0.0]))[0].tolist() == [0.0, 0.0]  # d log d -> 0


# ----- (b) the bootstrap -------------------------------------------------------------------


def noisy_samples(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, dict, dict]:
    """Per-prompt win probabilities around an RL-form hump; table win rates are their means."""
    rng = np.random.default_rng(seed)
    difficulty = rng.uniform(-0.3, 0.3, n)
    mean = {"sft": SFT_WIN, **{i: w for i, w in enumerate(curve("rl", 0.3, 0.12))}}
    per_prompt = {k: np.clip(m + difficulty + rng.normal(0, 0.05, n), 0, 1) for k, m in mean.items()}
    ev = table(
        {("s", "dpo"): [per_prompt[i].mean() for i in range(len(D))]}, sft_win=per_prompt["sft"].mean()
    )
    keys = {"sft": "sft", **{i: p for i, p in enumerate(ev["policy"].iloc[1:])}}
    samples = {("s", keys[k]): v for k, v in per_prompt.items()}
    return ev, samples, per_prompt


@pytest.mark.parametrize("offset", ft.OFFSETS)
def test_bootstrap_is_deterministic_and_covers_the_estimate(offset: str, tmp_path: Path) -> None:
    ev, samples, _ = noisy_samples()
    cfg = {"offset": offset, "bootstrap": 200, "ci": 0.95}
    a, b = (
        ft.fit_table(ev, samples, cfg, seed=11, objectives=SPECS),
        ft.fit_table(ev, samples, cfg, seed=11, objectives=SPECS),
    )
    write_csv(a, tmp_path / "a.csv")
    write_csv(b, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    other = ft.fit_table(ev, samples, cfg, seed=12, objectives=SPECS)
    assert not np.allclose(a["coef_alpha_low"], other["coef_alpha_low"])
    rl = a[a["form"] == "rl"].iloc[0]
    for name in ("coef_alpha", "coef_beta", "intercept", "d_peak", "r_peak", "rmse_ratio"):
        assert rl[f"{name}_low"] <= rl[name] <= rl[f"{name}_high"], name
    assert rl["peak_frac"] == 1.0 and rl["n_boot"] == 200
    assert rl["d_peak"] == pytest.approx(math.exp(0.3 / 0.12 - 1), rel=0.2)


def test_load_replicate_samples_aligns_by_prompt_and_parses_paths(tmp_path: Path) -> None:
    ev, _, per_prompt = noisy_samples(n=5)
    temp = ev.iloc[[0]].assign(objective="temperature", policy="temperature/T-0.7", sqrt_kl=0.1)
    ev = pd.concat([ev, temp], ignore_index=True)
    paths = []
    policies = [("sft", "sft"), (ev["policy"].iloc[1], 0), ("temperature/T-0.7", 1)]
    for policy, values in ((p, per_prompt[k]) for p, k in policies):
        path = tmp_path / "results" / "eval" / "s" / policy / "samples.jsonl"
        path.parent.mkdir(parents=True)
        rows = [{"prompt_id": f"eval-{i:03d}", "judge_prob_win": float(v)} for i, v in enumerate(values)]
        path.write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)))  # out of order on disk
        paths.append(path)
    loaded = ft.load_replicate_samples(paths, ev)
    assert list(loaded) == [0]  # one replicate: the plain layout
    out = loaded[0]
    assert set(out) == {("s", "sft"), ("s", ev["policy"].iloc[1]), ("s", "temperature/T-0.7")}
    np.testing.assert_array_equal(out[("s", "sft")], per_prompt["sft"])
    with pytest.raises(ValueError, match="no single"):
        ft.load_replicate_samples([tmp_path / "results" / "eval" / "m" / "sft" / "samples.jsonl"], ev)
    with pytest.raises(KeyError, match="no samples"):  # a policy without samples
        ft.fit_table(ev, out, {"bootstrap": 10}, seed=0, objectives=SPECS)


# ----- (c) figures -------------------------------------------------------------------------


def figure_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    ev = table(
        {
            ("s", "dpo"): curve("rl", 0.3, 0.12),
            ("m", "dpo"): curve("bon", 0.35, 0.1),
            ("m", "rdpo"): curve("rl", 0.25, 0.1),
        }
    )
    temp = ev[ev["objective"] == "sft"].assign(
        objective="temperature", policy="temperature/T-0.7", sqrt_kl=0.2
    )
    ev = pd.concat([ev, temp], ignore_index=True)
    return ev, ft.fit_table(ev, None, {"offset": "gain"}, seed=0, objectives=SPECS)


def test_figures_are_byte_identical_and_timestamp_free(tmp_path: Path) -> None:
    ev, fits = figure_tables()
    a = make_all(ev, fits, SPECS, tmp_path / "a")
    b = make_all(ev.copy(), fits.copy(), SPECS, tmp_path / "b")
    assert [p.name for p in a] == [f"{n}.{ext}" for n in FIGURES.names() for ext in ("png", "pdf")]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
        data = pa.read_bytes()
        assert b"Software" not in data and b"matplotlib version" not in data
        if pa.suffix == ".pdf":
            assert b"CreationDate" not in data and b"ModDate" not in data and b"Producer" not in data
            assert re.search(rb"D:\d{8}", data) is None
    # without R-DPO the length figure skips its DPO-vs-R-DPO panels
    no_rdpo = ev[ev["objective"] != "rdpo"]
    assert len([ax for ax in length(no_rdpo, None, SPECS).axes if ax.axison]) == 1 + 1


# ----- the Snakemake entry scripts ---------------------------------------------------------


def test_rules_in_the_smoke_study_write_fits_figures_findings(smoke_dir: Path) -> None:
    res = smoke_dir / "results"
    fits = pd.read_csv(res / "tables" / "fits.csv")
    assert {
        "coef_alpha",
        "coef_beta",
        "intercept",
        "rmse",
        "r2",
        "n_points",
        "d_peak",
        "r_peak",
        "rmse_ratio",
    } <= set(fits.columns)
    assert {"coef_alpha_low", "coef_alpha_high"} <= set(fits.columns)
    assert set(fits["form"]) == {"rl", "bon"}
    for name in ("figure1", "intra_epoch", "length", "implicit_acc"):
        for ext in ("png", "pdf"):
            assert (res / "figures" / f"{name}.{ext}").stat().st_size > 1000
    text = (res / "findings.md").read_text()
    for k in range(1, 7):
        assert f"Finding {k}" in text


def test_figure1_draws_every_replicate_and_the_others_the_first(tmp_path: Path) -> None:
    """Figure 1 shows the spread across replicates; every other figure shows the first replicate."""
    ev, _ = figure_tables()
    second = ev.assign(win_rate=ev["win_rate"] + 0.03 * (ev["objective"] != "sft"))
    both = pd.concat([ev.assign(replicate=0), second.assign(replicate=1)], ignore_index=True)
    fits = ft.fit_replicates(both, None, {"offset": "gain"}, 0, SPECS)
    one = make_all(both[both["replicate"] == 0], fits[fits["replicate"] == 0], SPECS, tmp_path / "one")
    two = make_all(both, fits, SPECS, tmp_path / "two")
    for a, b in zip(one, two, strict=True):
        same = a.read_bytes() == b.read_bytes()
        assert same is (not a.name.startswith("figure1.")), a.name
