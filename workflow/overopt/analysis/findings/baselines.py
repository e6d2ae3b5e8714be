"""Beyond the paper: the DAAs against temperature sharpening and against best-of-n."""

from __future__ import annotations

import numpy as np

from overopt.analysis import criteria as C
from overopt.analysis import matched_kl
from overopt.analysis.criteria import Estimate
from overopt.analysis.findings.base import Finding, Tables, above, below, case, finding, not_tested, verdict
from overopt.analysis.findings.curves import win_curve
from overopt.analysis.findings.markdown import CASE_HEADER, case_cells, count, est_cell, fmt, reps_cell, table
from overopt.analysis.tables import (
    best_of_n_objectives,
    daa_objectives,
    with_replicate,
)
from overopt.core.verdicts import NOT_TESTED


@finding("sharpening", order=8, title="Beyond the paper: DAA against temperature sharpening")
def sharpening(t: Tables) -> Finding:
    """The best DAA checkpoint against the SFT policy sharpened by temperature, at matched sqrt(KL)."""
    claim = (
        "The best DAA checkpoint wins more often than the SFT policy sharpened by temperature alone at "
        "the same sqrt(KL): preference learning, not only entropy reduction."
    )
    temps = t.pooled is not None and any(len(t.pooled.rows(s, "temperature")) for s in t.sizes)
    if not temps:
        return not_tested("sharpening", claim, "no temperature-sharpened SFT policies in this study")
    p, cases = t.pooled, []
    for size in t.sizes:
        temp = p.rows(size, "temperature").sort_values("temperature", ascending=False, kind="stable")
        curve_win, curve_d = win_curve(p, size, [str(x) for x in temp["policy"]])
        for objective in t.mains:
            if not len(p.rows(size, objective)):
                continue
            policies = p.policies(size, objective)
            est = C.beyond_curve(
                p.stack(size, policies),
                p.sqrt_kl(size, policies),
                curve_win,
                curve_d,
                t.boot("sharp", size, objective),
            )
            cases.append(case((size, objective), est, above()))
    body = table(["size", "objective", *CASE_HEADER], [[*c.labels, *case_cells(c)] for c in cases])
    return Finding(
        "sharpening",
        claim,
        "per (size, objective), the CI lies above 0; checkpoints beyond the temperature curve's largest "
        "sqrt(KL) are left out (a case with none left is not tested).",
        verdict(cases),
        f"{count(cases)} (size, objective) pairs beat temperature sharpening",
        body,
        null="at the same sqrt(KL), the best checkpoint wins no more often than temperature sharpening.",
        statistic="the checkpoint chosen on one half of the prompts, measured on the other (cross-fitted): "
        "its win probability minus the temperature curve's at its sqrt(KL) (the curve through SFT at "
        "d = 0 and each temperature, read per prompt by linear interpolation in d).",
        cases=tuple(cases),
    )


@finding("bon", order=9, title="Beyond the paper: DAA against best-of-n")
def against_best_of_n(t: Tables) -> Finding:
    """DAA checkpoints against proxy-RM best-of-n (graded) and the gold envelope, at matched sqrt(KL)."""
    claim = (
        "At matched √KL, DAA checkpoints win less often than best-of-n selected by a proxy reward model "
        "trained on the same preference pairs (the classical expectation: Gao et al. 2022 found "
        "best-of-n more KL-efficient than RL against a proxy)."
    )
    criterion = (
        "per (size, DAA objective), the CI of D lies below 0 (above 0: the DAA beats best-of-n; "
        "otherwise level). The gold-selected envelope is compared the same way and reported, not graded."
    )
    if t.pooled is None or "bon_proxy" not in best_of_n_objectives(t.ev):
        return Finding("bon", claim, criterion, NOT_TESTED, "no best-of-n curves in this run")
    p, cases, rows = t.pooled, [], []
    curves = best_of_n_objectives(t.ev)
    for size in t.sizes:
        for objective in daa_objectives(t.ev, t.specs):
            if not len(p.rows(size, objective)):
                continue
            got: dict[str, tuple[Estimate | None, int]] = {}
            for curve in curves:
                per, matched = [], []
                for r in p.replicates:
                    m = matched_kl.per_prompt(
                        p.rows(size, objective, r),
                        p.rows(size, curve, r),
                        lambda policy, r=r, size=size: p.values[(r, size, policy, "win")],
                    )
                    per.append(m[1])
                    matched.append(m[0])
                ok = all(x is not None for x in per)
                est = C.mean_of(np.stack(per), t.boot("bon", size, objective, curve)) if ok else None
                got[curve] = (est, min(matched))
            proxy = got["bon_proxy"][0]
            c = case((size, objective), proxy, below())
            cases.append(c)
            rows.append(
                [
                    size,
                    objective,
                    str(got["bon_proxy"][1]),
                    reps_cell(proxy),
                    est_cell(proxy),
                    _side(proxy),
                    *(
                        (est_cell(got["bon_gold"][0]), _side(got["bon_gold"][0]))
                        if "bon_gold" in got
                        else ("n/a", "n/a")
                    ),
                ]
            )
    sides = [r[5] for r in rows]
    body = [
        *table(
            ["size", "objective", "checkpoints matched (fewest in a replicate)", "D per replicate",
             "D vs proxy BoN pooled [95% CI]", "side", "D vs gold BoN [95% CI]", "side"],
            rows,
        ),
        "",
        *_reward_models(t),
    ]  # fmt: skip
    summary = (
        f"{count(cases)} (size, objective) pairs below proxy best-of-n "
        f"(level {sides.count('level')}, above {sides.count('above')})"
    )
    return Finding(
        "bon",
        claim,
        criterion,
        verdict(cases),
        summary,
        body,
        null="at the sqrt(KL) a checkpoint spent, it wins as often as proxy best-of-n (D = 0).",
        statistic="D = mean over prompts of (checkpoint win − proxy best-of-n win interpolated at the "
        "checkpoint's sqrt(KL)), averaged over the checkpoints inside the curve's sqrt(KL) range, per "
        "replicate, averaged.",
        cases=tuple(cases),
    )


def _side(e: Estimate | None) -> str:
    return "n/a" if e is None else matched_kl.side(e.low, e.high)


def _reward_models(t: Tables) -> list[str]:
    """The proxy reward models' held-out accuracy per replicate (noisy labels / gold order)."""
    rm = t.reward_models
    if rm is None or not len(rm):
        return []
    rm = with_replicate(rm)
    rows = []
    for size in t.sizes:
        r = rm[rm["model_size"].astype(str) == size].sort_values("replicate", kind="stable")
        if len(r):
            rows.append(
                [
                    size,
                    " / ".join(fmt(x) for x in r["accuracy_noisy"]),
                    " / ".join(fmt(x) for x in r["accuracy_gold"]),
                ]
            )
    return [
        "Proxy reward models' accuracy on the held-out pairs, per replicate:",
        "",
        *table(["size", "noisy labels", "gold order"], rows),
    ]
