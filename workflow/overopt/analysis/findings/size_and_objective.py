"""Finding 3: who reaches high KL and who degrades, by model size and objective, at matched rates."""

from __future__ import annotations

from overopt.analysis import criteria as C
from overopt.analysis.findings.base import (
    MATCHED_D,
    Case,
    Finding,
    Tables,
    above,
    case,
    finding,
    holm_groups,
    not_tested,
    verdict,
)
from overopt.analysis.findings.curves import final_policies, observed_reach, win_curve
from overopt.analysis.findings.markdown import CASE_HEADER, case_cells, count, table


def _matched_groups(t: Tables) -> list[tuple[str, dict[str, str]]]:
    """Arms of finding 3: ('own rates', objective's sizes) per objective of the paper, and per arm
    objective ('one rate', size -> the objective that runs at the arm's rate there)."""
    out: list[tuple[str, dict[str, str]]] = []
    for objective in t.mains:
        present = {s: objective for s in t.sizes if len(t.pooled.rows(s, objective))}
        if len(present) >= 2:
            out.append((f"own rates, {objective}", present))
    for arm in t.arms:
        spec = t.specs[arm]
        arm_rate = next((t.rates[(s, arm)] for s in t.sizes if (s, arm) in t.rates), None)
        members: dict[str, str] = {}
        for size in t.sizes:
            if len(t.pooled.rows(size, arm)):
                members[size] = arm
                continue
            same_loss_and_rate = (  # a size the arm leaves out may run the same loss at the arm's rate
                o
                for o in t.mains
                if (t.specs[o].loss_type, t.specs[o].length_alpha) == (spec.loss_type, spec.length_alpha)
                and len(t.pooled.rows(size, o))
                and t.rates.get((size, o)) == arm_rate
            )
            if (other := next(same_loss_and_rate, None)) is not None:
                members[size] = other
        if len(members) >= 2:
            out.append((f"one rate, {arm}", members))
    return out


def _kl_case(t: Tables, labels: tuple[str, ...], a: tuple[str, str], b: tuple[str, str]) -> Case:
    """sqrt(KL) of (size, objective) ``a`` minus ``b``'s, final checkpoints at their common betas."""
    fa, fb = final_policies(t.pooled, *a), final_policies(t.pooled, *b)
    betas = sorted(set(fa) & set(fb))
    if not betas:
        return Case(labels, None, None)
    kl_a = t.pooled.stack(a[0], [fa[x] for x in betas], "kl")
    kl_b = t.pooled.stack(b[0], [fb[x] for x in betas], "kl")
    return case(labels, C.kl_gap(kl_a, kl_b, t.boot("kl", *a, *b)), above())


def _gain_case(t: Tables, labels: tuple[str, ...], a: tuple[str, str], b: tuple[str, str], at: float) -> Case:
    """Fitted RL-form gain at sqrt(KL) ``at`` of ``a`` minus ``b``'s; untested beyond either's range."""
    p = t.pooled
    if at > min(observed_reach(p, *a), observed_reach(p, *b)):
        return Case(labels, None, None)
    win_a, d_a = win_curve(p, a[0], p.policies(*a))
    win_b, d_b = win_curve(p, b[0], p.policies(*b))
    return case(labels, C.fitted_gain_gap(win_a, d_a, win_b, d_b, at, t.boot("gain", *a, *b, at)), above())


@finding("3", order=3)
def finding3(t: Tables) -> Finding:
    """Model size and objective: who reaches high KL and who degrades, at matched rates and sqrt(KL)."""
    claim = (
        "Smaller models reach high KL faster and over-optimise sooner; the largest keeps KL lower and "
        "degrades less. IPO stays at lower KL and over-optimises least."
    )
    if t.pooled is None:
        return not_tested("3", claim)
    sub: dict[str, list[Case]] = {"a": [], "b": [], "c": [], "d": []}
    for arm, members in _matched_groups(t):
        sizes = list(members)
        for i, small in enumerate(sizes):
            for large in sizes[i + 1 :]:
                a, b = (small, members[small]), (large, members[large])
                sub["a"].append(_kl_case(t, (arm, f"{small} − {large}", ""), a, b))
        largest = sizes[-1]
        for small in sizes[:-1]:
            for at in MATCHED_D:
                b, a = (small, members[small]), (largest, members[largest])
                sub["b"].append(_gain_case(t, (arm, f"{largest} − {small}", f"√KL {at:g}"), a, b, at))
    ipos = [o for o in t.mains if t.specs[o].family == "ipo"]  # IPO by its loss family, not its name
    others = [o for o in t.mains if t.specs[o].family != "ipo"]
    for size in t.sizes:
        for ipo in (o for o in ipos if len(t.pooled.rows(size, o))):
            for other in (o for o in others if len(t.pooled.rows(size, o))):
                sub["c"].append(
                    _kl_case(t, (size, f"{other} − {ipo}", "matched betas"), (size, other), (size, ipo))
                )
                for at in MATCHED_D:
                    sub["d"].append(
                        _gain_case(
                            t, (size, f"{ipo} − {other}", f"√KL {at:g}"), (size, ipo), (size, other), at
                        )
                    )
    texts = {
        "a": "(a) the smaller size reaches the larger sqrt(KL) (final checkpoints, matched betas): "
        "sqrt(KL) of the smaller minus the larger's, mean over betas",
        "b": "(b) at matched sqrt(KL) the largest size degrades less: its fitted RL-form gain over SFT "
        "minus the smaller size's, at each sqrt(KL) inside both observed ranges",
        "c": "(c) IPO stays at lower KL: another objective's sqrt(KL) minus IPO's at the same size and betas",
        "d": "(d) IPO over-optimises least: IPO's fitted gain minus another objective's at matched sqrt(KL)",
    }
    sub = holm_groups(sub)
    every = [c for cs in sub.values() for c in cs]
    lines: list[str] = []
    for key, cases in sub.items():
        by_arm: dict[str, list[Case]] = {}
        for c in cases:
            by_arm.setdefault(c.labels[0].split(",")[0] if key in "ab" else "", []).append(c)
        arms = "; ".join(f"{k}: {verdict(v)} ({count(v)})" for k, v in by_arm.items() if k)
        lines += [
            f"{texts[key]} -> {verdict(cases)} ({count(cases)} cases{'; ' + arms if arms else ''})",
            "",
            *table(
                ["group", "compared", "where", *CASE_HEADER], [[*c.labels, *case_cells(c)] for c in cases]
            ),
            "",
        ]
    summary = ", ".join(f"{k} {verdict(v)} ({count(v)})" for k, v in sub.items())
    return Finding(
        "3",
        claim,
        "every case holds when its CI lies above 0. Sizes are compared at their own DAA learning rates "
        "and, where the config has an arm at one rate for every size, at that rate; the sub-claim lines "
        "say which arm supports what.",
        verdict(every),
        f"sub-claims {summary}",
        lines[:-1],
        null="no difference: size and objective change neither how far a run moves in KL (equal sqrt(KL) "
        "at matched betas) nor the fitted gain at matched sqrt(KL).",
        statistic="sqrt(KL) differences of final checkpoints at matched betas; differences of the RL-form "
        f"gain over SFT fitted per replicate and read at sqrt(KL) = {', '.join(f'{x:g}' for x in MATCHED_D)} "
        "(not each size's own last checkpoint, whose KL differs).",
        cases=tuple(every),
    )
