"""Findings 1 and 2: the hump of win rate against sqrt(KL), and early peaks at small betas."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from overopt.analysis import criteria as C
from overopt.analysis.findings.base import (
    EARLY,
    Case,
    Finding,
    Tables,
    above,
    both,
    case,
    finding,
    holm,
    not_tested,
    verdict,
)
from overopt.analysis.findings.curves import checkpoint_runs, rise_and_fall
from overopt.analysis.findings.markdown import (
    CASE_HEADER,
    case_cells,
    count,
    est_cell,
    fmt,
    p_cell,
    reps_cell,
    table,
    yes,
)
from overopt.analysis.selection import describe


@finding("1", order=1)
def finding1(t: Tables) -> Finding:
    """Every objective shows a hump in win rate vs sqrt(KL)."""
    claim = "Every objective shows a hump: win rate rises, then falls, as sqrt(KL) grows."
    if t.pooled is None:
        return not_tested("1", claim)
    cases, pairs = [], []
    for size in t.sizes:
        for objective in t.mains:
            if not len(t.pooled.rows(size, objective)):
                continue
            rise, fall = rise_and_fall(t, size, objective)
            pairs.append((rise, fall))
            cases.append(both((size, objective), rise, fall))
    cases = holm(cases)
    rows = [
        [
            *hump.labels,
            reps_cell(rise.estimate),
            est_cell(rise.estimate),
            reps_cell(fall.estimate),
            est_cell(fall.estimate),
            p_cell(hump.p),
            yes(hump.holds),
        ]
        for hump, (rise, fall) in zip(cases, pairs, strict=True)
    ]
    body = table(
        [
            "size",
            "objective",
            "rise per replicate",
            "rise pooled [95% CI]",
            "fall per replicate",
            "fall pooled [95% CI]",
            "p (one-sided, the larger)",
            "hump (Holm)",
        ],
        rows,
    )
    return Finding(
        "1",
        claim,
        "per (size, objective), over all checkpoints of all betas: a case (a hump) holds when the CIs "
        "of both its rise and its fall lie above 0 and it passes the family's Holm rule with the "
        "larger of their p-values.",
        verdict(cases),
        f"{count(cases)} (size, objective) pairs show a hump",
        body,
        null="no hump: the best checkpoint gains nothing over SFT once the choice of the best is "
        "accounted for (rise = 0), or the checkpoint at the largest sqrt(KL) is level with it (fall = 0).",
        statistic=f"rise: the paired win-rate gain over SFT of the peak checkpoint, "
        f"{describe(len(t.pooled.replicates))} (the best of many checkpoints tested with a CI made "
        "for one is inflated by the choice, and a replicate's seed luck lies in both halves of its "
        "prompts); fall: the same held-out peak's win rate minus that of the checkpoint at the "
        "largest sqrt(KL) (each replicate's own).",
        cases=tuple(cases),
    )


def low_betas(betas: Iterable[float]) -> list[float]:
    """The smaller half of an objective's beta grid (at least its smallest beta)."""
    betas = sorted(set(betas))
    return betas[: max(1, len(betas) // 2)]


@finding("2", order=2)
def finding2(t: Tables) -> Finding:
    """At small betas, quality peaks at an early checkpoint, then declines."""
    claim = (
        "Within an epoch, at small betas (wide KL budgets), quality often peaks at the first checkpoints "
        "and then declines."
    )
    if t.pooled is None:
        return not_tested("2", claim)
    p = t.pooled
    blocks, low, high, early, chance = [], [], [], [], []
    column = 0
    for objective in t.mains:
        for size in t.sizes:
            runs = checkpoint_runs(p, size, objective)
            small = low_betas(runs)
            for beta, policies in runs.items():
                rows = p.rows(size, objective).set_index("policy").loc[policies]
                flags = [float(f) <= EARLY for f in rows["epoch_fraction"]]
                blocks.append(p.stack(size, policies))
                idx = list(range(column, column + len(policies)))
                column += len(policies)
                early += flags
                (low if beta in small else high).append(idx)
                if beta in small:
                    chance.append(float(np.mean(flags)))
    if not low:
        return not_tested("2", claim, "no low-beta runs")
    win = np.concatenate(blocks, axis=2)
    base = float(np.mean(chance))
    vs_chance = case(
        ("low-beta runs", "vs chance"), C.early_share(win, low, early, base, t.boot("early")), above()
    )
    vs_high = (
        case(
            ("low-beta runs", "vs larger betas"),
            C.early_share_gap(win, low, high, early, t.boot("early-gap")),
            above(),
        )
        if high
        else Case(("low-beta runs", "vs larger betas"), None, None)
    )
    cases = holm([vs_chance, vs_high])
    vs_chance, vs_high = cases
    body = [
        f"- low-beta runs: {len(low)} per replicate; larger-beta runs (the control): {len(high)}; "
        f"share of a low-beta run's checkpoints at epoch fraction <= {EARLY:g} (chance): {fmt(base, 2)}",
        "",
        *table(["runs", "compared with", *CASE_HEADER], [[*c.labels, *case_cells(c)] for c in cases]),
    ]
    return Finding(
        "2",
        claim,
        "both cases hold when their CIs lie above 0: the low-beta runs peak early more often than "
        "chance and more often than the larger-beta runs.",
        verdict(cases),
        f"early-peak share minus chance {est_cell(vs_chance.estimate, 2)}; minus the larger-beta share "
        f"{est_cell(vs_high.estimate, 2)}",
        body,
        null="where a run's best checkpoint falls does not depend on beta: low-beta runs peak early as "
        "often as chance (the share of early checkpoints, as with flat noisy curves) and as the "
        "larger-beta runs.",
        statistic=f"share of low-beta runs (the smaller half of each objective's grid) whose best "
        f"checkpoint by mean win rate is at epoch fraction <= {EARLY:g} (the later ones are then lower), "
        "minus the chance share; and minus the same share among the larger-beta runs.",
        cases=tuple(cases),
    )
