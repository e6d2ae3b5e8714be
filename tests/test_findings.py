"""The findings' pooled criteria on simulated replicated studies whose truth is known.

A study here is an evaluations table plus each policy's per-prompt values in every replicate
(``overopt.analysis.per_prompt.Pooled``), drawn around planted win-rate curves with prompt effects
and noise: what the sample and judge rules write, without training anything.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from overopt.analysis import findings as fd
from overopt.analysis import fit as ft
from overopt.analysis.per_prompt import Pooled
from overopt.core import verdicts
from overopt.core.objectives import specs

SPECS = specs(
    {
        "dpo": {"loss_type": "sigmoid"},
        "ipo": {"loss_type": "ipo"},
        "rdpo": {"loss_type": "sigmoid", "length_alpha": 0.05},
    }
)
D = np.array([0.15, 0.3, 0.5, 0.8, 1.1, 1.5, 2.0, 2.6])  # one run's checkpoints, epoch (i + 1) / 8
SFT = 0.4
BOOT = (200, 0.95, 5)
QUICK = (30, 0.95, 5)  # where only the text is checked


def hump(d: np.ndarray = D) -> np.ndarray:
    """An RL-form curve rising by ~0.1, then falling well below SFT."""
    return ft.predict("rl", 0.3, 0.25, d, SFT)


def study(
    curves: dict[tuple[str, str], dict[float, np.ndarray]],
    replicates: int = 3,
    n: int = 300,
    noise: float = 0.05,
    acc: dict[tuple[str, str], dict[float, np.ndarray]] | None = None,
    seed: int = 0,
) -> Pooled:
    """Per (size, objective): per beta, the mean win rate at each checkpoint (at ``D``)."""
    rng = np.random.default_rng(seed)
    effect = rng.uniform(-0.3, 0.3, n)  # a prompt's difficulty, shared by every policy and replicate
    rows, values = [], {}

    def add(r: int, size: str, objective: str, policy: str, beta: float, step: int, d: float, mean: float,
            implicit: float) -> None:  # fmt: skip
        win = np.clip(mean + effect + rng.normal(0, noise, n), 0, 1)
        values[(r, size, policy, "win")] = win
        values[(r, size, policy, "kl")] = np.full(n, d * d)
        values[(r, size, policy, "len")] = 10 + rng.normal(0, 2, n)
        values[(r, size, policy, "logratio")] = rng.normal(0, 1, n)
        rows.append(
            {"replicate": r, "model_size": size, "objective": objective, "beta": beta, "step": step,
             "epoch_fraction": step / len(D), "sqrt_kl": d, "win_rate": float(win.mean()),
             "implicit_acc": implicit, "implicit_acc_gold": implicit, "judge": "gold", "policy": policy}
        )  # fmt: skip

    for r in range(replicates):
        shift = rng.normal(0, 0.01)  # a replicate's own offset (another seed)
        for size in dict.fromkeys(s for s, _ in curves):
            add(r, size, "sft", "sft", np.nan, 0, 0.0, SFT + shift, np.nan)
        for (size, objective), runs in curves.items():
            for beta, means in runs.items():
                for i, m in enumerate(means):
                    implicit = acc[(size, objective)][beta][i] if acc else 0.6
                    policy = f"{objective}/beta-{beta:g}/step-{i + 1:05d}"
                    add(r, size, objective, policy, beta, i + 1, float(D[i]), float(m) + shift, implicit)
    return Pooled(pd.DataFrame(rows), values)


def tables(p: Pooled) -> fd.Tables:
    return fd.Tables(p.ev, None, None, SPECS, pooled=p, bootstrap=BOOT)


def test_finding1_hump_vs_monotone() -> None:
    humps = {(s, o): {0.1: hump()} for s in ("s", "m") for o in ("dpo", "ipo")}
    f1 = fd.FINDINGS.get("1")(tables(study(humps)))
    assert f1.verdict == verdicts.REPRODUCED and f1.summary.startswith("4/4")
    rising = {("s", "dpo"): {0.1: SFT + 0.02 * np.arange(1, 9)}}
    assert fd.FINDINGS.get("1")(tables(study(rising))).verdict == verdicts.NOT_REPRODUCED
    mixed = {("s", "dpo"): {0.1: hump()}, ("s", "ipo"): rising[("s", "dpo")]}
    assert fd.FINDINGS.get("1")(tables(study(mixed))).verdict == verdicts.PARTLY
    falling = {("s", "dpo"): {0.1: SFT - 0.02 * np.arange(1, 9)}}  # no rise
    assert fd.FINDINGS.get("1")(tables(study(falling))).verdict == verdicts.NOT_REPRODUCED


def test_finding1_does_not_find_a_rise_in_flat_noise() -> None:
    """Flat curves: the best of 16 noisy checkpoints beats SFT by chance; the held-out rise does not."""
    flat = {("s", "dpo"): {0.1: np.full(8, SFT), 1.0: np.full(8, SFT)}}
    f1 = fd.FINDINGS.get("1")(tables(study(flat, noise=0.1)))
    assert f1.verdict == verdicts.NOT_REPRODUCED and f1.cases[0].holds is False


def test_finding2_early_peaks_against_chance_and_control() -> None:
    early = np.array([0.5, 0.48, 0.45, 0.42, 0.40, 0.38, 0.36, 0.35])  # best at the first checkpoint
    late = np.linspace(0.41, 0.5, 8)
    both = {("s", "dpo"): {0.01: early, 0.1: early, 1.0: late, 3.0: late}}
    f2 = fd.FINDINGS.get("2")(tables(study(both)))
    assert f2.verdict == verdicts.REPRODUCED, f2.body
    none = {("s", "dpo"): {0.01: late, 0.1: late, 1.0: late, 3.0: late}}
    assert fd.FINDINGS.get("2")(tables(study(none))).verdict == verdicts.NOT_REPRODUCED
    everywhere = {("s", "dpo"): {0.01: early, 0.1: early, 1.0: early, 3.0: early}}
    # above chance, not the control
    assert fd.FINDINGS.get("2")(tables(study(everywhere))).verdict == verdicts.PARTLY


def test_finding5_correlation_inside_the_band() -> None:
    wins = {("s", "dpo"): {0.1: np.linspace(0.41, 0.6, 8)}}
    flat = {("s", "dpo"): {0.1: np.array([0.6, 0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5])}}
    tied = {("s", "dpo"): {0.1: np.linspace(0.5, 0.7, 8)}}
    assert fd.FINDINGS.get("5")(tables(study(wins, acc=flat))).verdict == verdicts.REPRODUCED
    assert fd.FINDINGS.get("5")(tables(study(wins, acc=tied))).verdict == verdicts.NOT_REPRODUCED


def test_findings_markdown_is_deterministic_and_complete() -> None:
    p = study({("s", "dpo"): {0.1: hump()}, ("m", "dpo"): {0.1: hump()}, ("m", "rdpo"): {0.1: hump()}})
    toy = {"verdict": "partly", "criterion": "OOD gain CI above 0", "claim": "toy", "objectives": {}}
    text = fd.findings_markdown(p.ev, None, toy, SPECS, pooled=p, bootstrap=QUICK)
    assert text == fd.findings_markdown(p.ev.copy(), None, dict(toy), SPECS, pooled=p, bootstrap=QUICK)
    for title in (*(f"## Finding {i}:" for i in range(1, 7)), "## Scaling-law form:"):
        assert title in text
    assert "- replicates: 3;" in text and "**Null.**" in text and "robust to seed" not in text
    assert "**Family-wise rule.** Holm's step-down rule at 5%" in text
    assert "selection-proof across seeds and prompts" in text
    assert "## Finding 6: partly" in text and "OOD gain CI above 0" in text
    assert "## Finding 6: not tested" in fd.findings_markdown(
        p.ev, None, None, SPECS, pooled=p, bootstrap=QUICK
    )
    assert "## Finding 1: not tested" in fd.findings_markdown(p.ev, None, None, SPECS)  # no per-prompt values


def test_renaming_objectives_changes_no_verdict() -> None:
    """The analysis knows an objective by its config (loss type, length margin), not its name."""
    curves = {("s", "dpo"): {0.1: hump()}, ("m", "dpo"): {0.1: hump()}, ("m", "rdpo"): {0.1: hump()}}
    renamed = {(s, {"dpo": "my_dpo", "rdpo": "length_dpo"}[o]): v for (s, o), v in curves.items()}
    names = {"my_dpo": {"loss_type": "sigmoid"}, "length_dpo": {"loss_type": "sigmoid", "length_alpha": 0.05}}
    before = fd.findings_markdown(study(curves).ev, None, None, SPECS, pooled=study(curves), bootstrap=QUICK)
    p = study(renamed)
    after = fd.findings_markdown(p.ev, None, None, specs(names), pooled=p, bootstrap=QUICK)
    verdicts = re.compile(r"^## .*$", re.M)
    assert len(verdicts.findall(before)) == 9
    assert verdicts.findall(before) == verdicts.findall(after)


@pytest.mark.parametrize("gap", [0.0, 0.08])
def test_finding3_compares_sizes_at_matched_sqrt_kl(gap: float) -> None:
    """The larger size's curve lies ``gap`` above the smaller's at every d: (b) holds only then."""
    curves = {("s", "dpo"): {0.1: hump()}, ("l", "dpo"): {0.1: hump() + gap * (D > 0)}}
    f3 = fd.FINDINGS.get("3")(tables(study(curves)))
    b = [c for c in f3.cases if c.labels[2].startswith("√KL")]
    assert b and all(c.holds is (gap > 0) for c in b), [(c.labels, c.estimate) for c in b]


def test_holm_holds_a_case_only_below_its_step_down_threshold() -> None:
    """p-values 0.001, 0.014, 0.02 of three cases whose CIs all lie above 0: Holm at 5% two-sided
    (2.5% on the claimed side) passes the smallest (< 0.025 / 3), stops at the second (not below
    0.025 / 2), so the third fails too, though 0.02 < 0.025 alone."""
    from overopt.analysis.findings.base import Case, holm

    cases = [Case((str(i),), None, True, p, True) for i, p in enumerate((0.02, 0.001, 0.014))]
    assert [c.holds for c in holm(cases)] == [False, True, False]
    assert [c.holds for c in holm(cases[:1])] == [True]
    untestable = Case(("x",), None, None)
    assert holm([untestable, *cases])[0].holds is None and all(c.adjusted for c in holm(cases))


def test_a_cases_p_value_agrees_with_its_ci() -> None:
    """With replicates, p < 0.025 exactly when the t interval lies above 0; with one, when the
    prompt bootstrap's percentile interval does."""
    from overopt.analysis import criteria as C
    from overopt.analysis.findings.base import above, case

    rng = np.random.default_rng(3)
    for shift in (0.0, 0.01, 0.02, 0.04):
        for reps in (1, 3):
            c = case(("x",), C.mean_of(rng.normal(shift, 0.2, (reps, 400)), (400, 0.95, 1)), above())
            assert c.ci == (c.p < 0.025) or abs(c.p - 0.025) < 0.004, (shift, reps, c.p, c.estimate)


def test_a_finding_of_many_flat_cases_is_not_partly_by_chance() -> None:
    """Twelve flat (size, objective) pairs: under the CI alone, one would hold in about a quarter of
    such studies; under the family's Holm rule none holds here."""
    flat = {(s, o): {0.1: np.full(8, SFT)} for s in ("s", "m", "l", "xl") for o in ("dpo", "ipo", "rdpo")}
    f = fd.FINDINGS.get("fit")(tables(study(flat, noise=0.2)))
    assert all(c.adjusted for c in f.cases) and not any(c.holds for c in f.cases)
