"""Beyond the paper: the DAAs against temperature sharpening and against best-of-n."""

from __future__ import annotations

import numpy as np

from overopt.analysis import criteria as C
from overopt.analysis.criteria import Estimate
from overopt.analysis.findings.base import (
    Finding,
    Tables,
    above,
    below,
    case,
    finding,
    holm,
    not_tested,
    verdict,
)
from overopt.analysis.findings.curves import objective_checkpoints, temperature_curve
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
from overopt.analysis.tables import (
    best_of_n_objectives,
    daa_objectives,
    with_replicate,
)
from overopt.core.verdicts import NOT_TESTED


def table_d(t: Tables, size: str, objective: str, policies: list[str]) -> np.ndarray:
    """(replicates, policies) sqrt(KL) of ``policies`` of ``objective`` as the table gives it (the
    best-of-n curves' is analytic, not a mean over samples)."""
    p = t.pooled
    return np.stack(
        [
            p.rows(size, objective, r).set_index("policy").loc[policies, "sqrt_kl"].to_numpy(float)
            for r in p.replicates
        ]
    )


@finding("sharpening", order=8, title="Beyond the paper: DAA against temperature sharpening")
def sharpening(t: Tables) -> Finding:
    """The best DAA checkpoint against the SFT policy sharpened by temperature, within the same KL."""
    claim = (
        "The best DAA checkpoint wins more often than the SFT policy sharpened by temperature alone "
        "within the same sqrt(KL): preference learning, not only entropy reduction."
    )
    temps = t.pooled is not None and any(len(t.pooled.rows(s, "temperature")) for s in t.sizes)
    if not temps:
        return not_tested("sharpening", claim, "no temperature-sharpened SFT policies in this study")
    p, cases, reach = t.pooled, [], []
    for size in t.sizes:
        base, base_d = temperature_curve(p, size)
        for objective in t.mains:
            if not len(p.rows(size, objective)):
                continue
            win, d = objective_checkpoints(p, size, objective)
            est = C.best_vs_envelope(win, d, base, base_d, t.boot("sharp", size, objective))
            cases.append(case((size, objective), est, above()))
            reach.append(C.reach_share(win, d, base_d))
    cases = holm(cases)
    body = table(
        ["size", "objective", *CASE_HEADER, "temperature curve reaches the chosen checkpoint's sqrt(KL)"],
        [
            [*c.labels, *case_cells(c), f"{share:.0%} of replicates"]
            for c, share in zip(cases, reach, strict=True)
        ],
    )
    return Finding(
        "sharpening",
        claim,
        "per (size, objective), the CI lies above 0 and the case passes the family's Holm rule.",
        verdict(cases),
        f"{count(cases)} (size, objective) pairs beat temperature sharpening",
        body,
        null="the best checkpoint wins no more often than the best temperature within its KL budget.",
        statistic=f"D = the best checkpoint's win probability minus the temperature envelope's, over the "
        f"whole KL range: the checkpoint (every beta and step) {describe(len(t.pooled.replicates))}; "
        "the envelope is the "
        "best point of the temperature curve (SFT at T = 1 down to greedy decoding), chosen the same "
        "way, among those up to the first temperature whose sqrt(KL) reaches the checkpoint's.",
        cases=tuple(cases),
    )


@finding("bon", order=9, title="Beyond the paper: DAA against best-of-n")
def against_best_of_n(t: Tables) -> Finding:
    """The best DAA checkpoint against proxy-RM best-of-n (graded) and gold best-of-n, within the same KL."""
    claim = (
        "Within the same √KL, the best DAA checkpoint wins less often than best-of-n selected by a proxy "
        "reward model trained on the same preference pairs (the classical expectation: Gao et al. 2022 "
        "found best-of-n more KL-efficient than RL against a proxy)."
    )
    criterion = (
        "per (size, DAA objective), the CI of D lies below 0 and the case passes the family's Holm rule "
        "(above 0: the DAA beats best-of-n; otherwise level). The gold-selected best-of-n is compared the "
        "same way and reported, not graded."
    )
    if t.pooled is None or "bon_proxy" not in best_of_n_objectives(t.ev):
        return Finding("bon", claim, criterion, NOT_TESTED, "no best-of-n curves in this run")
    p, cases, rows = t.pooled, [], []
    curves = best_of_n_objectives(t.ev)
    for size in t.sizes:
        for objective in daa_objectives(t.ev, t.specs):
            if not len(p.rows(size, objective)):
                continue
            win, d = objective_checkpoints(p, size, objective)
            got: dict[str, Estimate] = {}
            for curve in curves:
                policies = [str(x) for x in p.rows(size, curve).sort_values("n", kind="stable")["policy"]]
                base, base_d = p.stack(size, policies), table_d(t, size, curve, policies)
                got[curve] = C.best_vs_envelope(win, d, base, base_d, t.boot("bon", size, objective, curve))
            cases.append(case((size, objective), got["bon_proxy"], below()))
            gold = got.get("bon_gold")
            rows.append((est_cell(gold), _side(gold)) if gold is not None else ("n/a", "n/a"))
    cases = holm(cases)
    sides = [_side(c.estimate) for c in cases]
    body = [
        *table(
            ["size", "objective", "D per replicate", "D vs proxy BoN pooled [95% CI]", "p (one-sided)",
             "below (Holm)", "side (CI)", "D vs gold BoN [95% CI]", "side"],
            [[*c.labels, reps_cell(c.estimate), est_cell(c.estimate), p_cell(c.p), yes(c.holds), side, *gold]
             for c, side, gold in zip(cases, sides, rows, strict=True)],
        ),
        "",
        *_reward_models(t),
    ]  # fmt: skip
    summary = (
        f"{count(cases)} (size, objective) pairs below proxy best-of-n "
        f"(CI level {sides.count('level')}, above {sides.count('above')})"
    )
    return Finding(
        "bon",
        claim,
        criterion,
        verdict(cases),
        summary,
        body,
        null="the best checkpoint wins as often as the best proxy best-of-n within its KL budget (D = 0).",
        statistic=f"D = the best checkpoint's win probability minus the best-of-n envelope's, over the "
        f"whole KL range: the checkpoint {describe(len(t.pooled.replicates))}; "
        "the envelope is the best n (chosen the "
        "same way) among those up to the first n whose sqrt(KL) (log n - (n-1)/n) reaches the "
        "checkpoint's; paired over prompts.",
        cases=tuple(cases),
    )


def _side(e: Estimate | None) -> str:
    """``above`` / ``below`` when the CI excludes 0, else ``level`` (``n/a`` without an estimate)."""
    if e is None:
        return "n/a"
    return "above" if e.low > 0 else "below" if e.high < 0 else "level"


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
