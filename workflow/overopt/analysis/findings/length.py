"""Finding 4: length exploitation, and the length-regularised variant beside its baseline."""

from __future__ import annotations

from overopt.analysis import criteria as C
from overopt.analysis.findings.base import (
    Case,
    Finding,
    Tables,
    above,
    below,
    both,
    case,
    finding,
    holm_groups,
    not_tested,
    verdict,
)
from overopt.analysis.findings.curves import rise_and_fall
from overopt.analysis.findings.markdown import CASE_HEADER, case_cells, count, table
from overopt.analysis.per_prompt import Pooled
from overopt.analysis.tables import (
    daa_objectives,
    length_pairs,
)


def _matched_policies(p: Pooled, a: tuple[str, str], b: tuple[str, str]) -> tuple[list[str], list[str]]:
    """Policies of ``a`` and ``b`` at the same (beta, step), in matched order."""
    ka = {(float(r["beta"]), int(r["step"])): str(r["policy"]) for _, r in p.rows(*a).iterrows()}
    kb = {(float(r["beta"]), int(r["step"])): str(r["policy"]) for _, r in p.rows(*b).iterrows()}
    keys = sorted(set(ka) & set(kb))
    return [ka[k] for k in keys], [kb[k] for k in keys]


@finding("4", order=4)
def finding4(t: Tables) -> Finding:
    """Length exploitation and the length-regularised variant (e.g. R-DPO beside DPO)."""
    claim = (
        "Length exploitation: R² of log pi/ref on length is higher for smaller models and smaller KL "
        "budgets; length regularisation shifts the frontier but does not remove over-optimisation."
    )
    if t.pooled is None:
        return not_tested("4", claim)
    p = t.pooled
    sub: dict[str, list[Case]] = {"a": [], "b": [], "c": [], "d": []}
    sizes = t.sizes
    for i, small in enumerate(sizes):
        for large in sizes[i + 1 :]:
            pa, pb = [], []
            for objective in t.mains:
                if len(p.rows(small, objective)) and len(p.rows(large, objective)):
                    x, y = _matched_policies(p, (small, objective), (large, objective))
                    pa += x
                    pb += y
            if pa:
                est = C.length_r2_gap(
                    p.stack(small, pa, "logratio"),
                    p.stack(small, pa, "len"),
                    p.stack(large, pb, "logratio"),
                    p.stack(large, pb, "len"),
                    t.boot("r2", small, large),
                )
                sub["a"].append(case((f"{small} − {large}",), est, above()))
    for size in sizes:
        policies = [x for o in t.mains if len(p.rows(size, o)) for x in p.policies(size, o)]
        if len(policies) >= 3:
            est = C.length_r2_trend(
                p.stack(size, policies, "logratio"),
                p.stack(size, policies, "len"),
                p.sqrt_kl(size, policies),
                t.boot("r2-trend", size),
            )
            sub["b"].append(case((size,), est, below()))
    regularised = [o for o in daa_objectives(t.ev, t.specs) if t.specs[o].length_regularised]
    for size in sizes:
        for objective in (o for o in regularised if len(p.rows(size, o))):
            rise, fall = rise_and_fall(t, size, objective)
            sub["c"].append(both((f"{size} {objective}",), rise, fall, rise.estimate))
    for base, lr in length_pairs(t.ev, t.specs):
        for size in (s for s in sizes if len(p.rows(s, base)) and len(p.rows(s, lr))):
            x, y = _matched_policies(p, (size, lr), (size, base))
            if x:
                diff = p.stack(size, x, "len") - p.stack(size, y, "len")
                sub["d"].append(
                    case(
                        (f"{size} {lr} − {base}",),
                        C.mean_of(diff.mean(axis=2), t.boot("len", size, lr)),
                        below(),
                    )
                )
    texts = {
        "a": "(a) the smaller size's length R² is higher, matched (objective, beta, step): smaller − larger",
        "b": "(b) length R² falls as sqrt(KL) grows: Spearman rho over a size's checkpoints, below 0",
        "c": "(c) the length-regularised objective still shows a hump (finding 1's criterion; rise shown)",
        "d": "(d) length regularisation shortens the samples: its mean length minus its baseline's (tokens)",
    }
    sub = holm_groups(sub)
    lines: list[str] = []
    for key, cases in sub.items():
        lines += [
            f"{texts[key]} -> {verdict(cases)} ({count(cases)})",
            "",
            *table(["case", *CASE_HEADER], [[*c.labels, *case_cells(c)] for c in cases]),
            "",
        ]
    every = [c for cs in sub.values() for c in cs]
    return Finding(
        "4",
        claim,
        "(a), (c) hold when their CIs lie above 0, (b) and (d) when below 0.",
        verdict(every),
        "sub-claims " + ", ".join(f"{k} {verdict(v)} ({count(v)})" for k, v in sub.items()),
        lines[:-1],
        null="length explains log pi/ref equally at every size and KL; the length-regularised objective "
        "has no hump and the same lengths as its baseline.",
        statistic="R² of log pi/ref on sample length over prompts, per checkpoint; its difference between "
        "sizes and its rank correlation with sqrt(KL); finding 1's rise and fall; paired length differences.",
        cases=tuple(every),
    )
