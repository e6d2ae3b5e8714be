"""``results/findings.md``: the paper's findings 1-6 (Rafailov et al. 2024) set against this study.

Each finding is registered in ``FINDINGS``, in document order, as a function of the study's
``Tables``. It states its null, the statistic it computes and its criterion, and splits the claim
into cases (a (size, objective) pair, a pair of sizes, ...). Every case's statistic is pooled over
the replicates, with a 95% CI from the two-level bootstrap over replicates and prompts
(``overopt.analysis.criteria``), and the case holds when the CI lies on the claimed side of its
threshold. One rule turns cases into a verdict, for every finding (``overopt.core.verdicts.graded``):
*reproduced* when every case holds, *partly* when some do, *not reproduced* when none does, *not
tested* when the study has no case. A case is *robust to seed* when, besides, every replicate's own
value lies on the claimed side. What an objective is (its family, a length-regularised variant and
its baseline, an arm at one learning rate for every size) comes from the config, never from its
name. All text is built with fixed number formats, so equal inputs give equal bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from overopt.analysis import criteria as C
from overopt.analysis import matched_kl
from overopt.analysis.criteria import Estimate
from overopt.analysis.pooled import Pooled
from overopt.analysis.tables import (
    best_of_n_objectives,
    daa_objectives,
    length_pairs,
    main_objectives,
    prepare,
    size_order,
    with_replicate,
)
from overopt.core.objectives import Specs
from overopt.core.registry import Registry
from overopt.core.runtime import derive_seed
from overopt.core.verdicts import NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED, graded

R_SMALL = 0.3  # |Pearson r| below this counts as "little correlation" (finding 5)
EARLY = 0.5  # an epoch fraction at or below this is an early checkpoint (finding 2)
MATCHED_D = (0.5, 1.0)  # sqrt(KL) at which fitted curves are compared (finding 3)
PAPER_RATIO = 0.5  # the paper's RMSE ratio of the RL form to the quadratic (about half)
__all__ = ["NOT_REPRODUCED", "NOT_TESTED", "PARTLY", "REPRODUCED", "verdict"]


@dataclass(frozen=True)
class Case:
    """One case of a finding: its labels, its pooled statistic, whether it holds and is robust."""

    labels: tuple[str, ...]
    estimate: Estimate | None
    holds: bool | None  # None: not testable (e.g. outside the observed sqrt(KL) range)
    robust: bool | None = None


def case(labels: Sequence[str], est: Estimate | None, test: Callable[[float, float, float], bool]) -> Case:
    """A case whose statistic holds when ``test(value, low, high)``; robust when every replicate's
    own value passes ``test(v, v, v)`` too."""
    if est is None or not all(math.isfinite(x) for x in (est.value, est.low, est.high)):
        return Case(tuple(labels), est, None)
    holds = bool(test(est.value, est.low, est.high))
    robust = holds and all(math.isfinite(v) and test(v, v, v) for v in est.per_replicate)
    return Case(tuple(labels), est, holds, bool(robust))


def above(threshold: float = 0.0) -> Callable[[float, float, float], bool]:
    return lambda _v, low, _high: low > threshold


def below(threshold: float = 0.0) -> Callable[[float, float, float], bool]:
    return lambda _v, _low, high: high < threshold


def within(low_bound: float, high_bound: float) -> Callable[[float, float, float], bool]:
    return lambda _v, low, high: low > low_bound and high < high_bound


def verdict(cases: Iterable[Case | bool]) -> str:
    """The one rule: reproduced if every testable case holds, partly if some, not reproduced if none."""
    flags = [c if isinstance(c, bool) else c.holds for c in cases]
    return graded([f for f in flags if f is not None])


@dataclass(frozen=True)
class Finding:
    """One finding: the claim, its null, statistic and criterion, the verdict and the numbers."""

    number: str
    claim: str
    criterion: str
    verdict: str
    summary: str
    body: list[str] = field(default_factory=list)
    null: str = ""
    statistic: str = ""
    cases: tuple[Case, ...] = ()


@dataclass(frozen=True)
class Tables:
    """What a finding reads.

    ``ev``: every replicate's evaluations (``replicate`` column); ``fits``: every replicate's fits;
    ``toy``: the toy MDP's findings; ``specs``: the config's objectives; ``pooled``: the per-prompt
    values of every policy in every replicate (``overopt.analysis.pooled``); ``reward_models``:
    the proxy reward models' table; ``bootstrap``: (resamples, CI level, seed).
    """

    ev: pd.DataFrame
    fits: pd.DataFrame | None
    toy: dict[str, Any] | None
    specs: Specs
    pooled: Pooled | None = None
    reward_models: pd.DataFrame | None = None
    bootstrap: tuple[int, float, int] = (1000, 0.95, 0)

    @property
    def rates(self) -> dict[tuple[str, str], float]:
        """The DAA learning rate of each (size, objective) run, as the evaluations table gives it."""
        if "learning_rate" not in self.ev:
            return {}
        runs = self.ev.dropna(subset=["learning_rate"])
        return {
            (str(s), str(o)): float(r)
            for s, o, r in zip(runs["model_size"], runs["objective"], runs["learning_rate"], strict=True)
        }

    @property
    def arms(self) -> tuple[str, ...]:
        """Objectives that set one learning rate for every size (compared with the sizes' own in
        finding 3)."""
        return tuple(name for name, o in self.specs.items() if o.arm)

    def boot(self, *labels: Any) -> C.Boot:
        """The bootstrap settings of one statistic, its seed derived from its labels."""
        n_boot, ci, seed = self.bootstrap
        return n_boot, ci, derive_seed(seed, *labels)

    @property
    def sizes(self) -> list[str]:
        return size_order(self.ev)

    @property
    def mains(self) -> list[str]:
        """The paper's comparison set: DAA objectives that are neither length-regularised nor arms."""
        return [o for o in main_objectives(self.ev, self.specs) if o not in self.arms]


FINDINGS: Registry[Callable[[Tables], Finding]] = Registry("finding")


def finding(name: str, **meta: Any) -> Callable[[Callable[[Tables], Finding]], Callable[[Tables], Finding]]:
    """Decorator: register a finding (document order is registration order); ``title`` optional."""
    return FINDINGS.register(name, **meta)


# ----- small helpers -----------------------------------------------------------------------


def fmt(x: Any, digits: int = 3) -> str:
    """Fixed-point text; n/a for missing values, no negative zero."""
    if x is None or (isinstance(x, float | np.floating) and math.isnan(x)):
        return "n/a"
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{float(f'{x:.{digits}f}') + 0.0:.{digits}f}"


def yes(flag: bool | None) -> str:
    return "n/a" if flag is None else ("yes" if flag else "no")


def share(flags: Sequence[bool]) -> str:
    return f"{sum(flags)}/{len(flags)}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table."""

    def line(cells: Iterable[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def est_cell(e: Estimate | None, digits: int = 3) -> str:
    """``value [low, high]``."""
    if e is None:
        return "n/a"
    return f"{fmt(e.value, digits)} [{fmt(e.low, digits)}, {fmt(e.high, digits)}]"


def reps_cell(e: Estimate | None, digits: int = 3) -> str:
    """Each replicate's own value, in replicate order."""
    return "n/a" if e is None else " / ".join(fmt(v, digits) for v in e.per_replicate)


def case_cells(c: Case, digits: int = 3) -> list[str]:
    """Per-replicate values, pooled value [CI], holds, robust to seed."""
    return [reps_cell(c.estimate, digits), est_cell(c.estimate, digits), yes(c.holds), yes(c.robust)]


CASE_HEADER = ["per replicate", "pooled [95% CI]", "holds", "robust to seed"]


def count(cases: Sequence[Case]) -> str:
    """``held/tested`` over the testable cases."""
    tested = [c for c in cases if c.holds is not None]
    return f"{sum(bool(c.holds) for c in tested)}/{len(tested)}"


def robust_count(cases: Sequence[Case]) -> str:
    tested = [c for c in cases if c.holds is not None]
    return f"{sum(bool(c.robust) for c in tested)}/{len(tested)}"


# ----- arrays of the pooled study ----------------------------------------------------------


def _curve(p: Pooled, size: str, policies: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """SFT first, then ``policies``: (replicates, prompts, points) win and (replicates, points) d."""
    points = ["sft", *policies]
    return p.stack(size, points), p.sqrt_kl(size, points)


def _runs(p: Pooled, size: str, objective: str) -> dict[float, list[str]]:
    """Each beta's checkpoints of ``objective`` at ``size``, in step order."""
    rows = p.rows(size, objective).sort_values(["beta", "step"], kind="stable")
    return {float(b): [str(x) for x in g["policy"]] for b, g in rows.groupby("beta", sort=True)}


def _finals(p: Pooled, size: str, objective: str) -> dict[float, str]:
    """Each beta's final checkpoint of ``objective`` at ``size``."""
    return {beta: policies[-1] for beta, policies in _runs(p, size, objective).items()}


def _observed(p: Pooled, size: str, objective: str) -> float:
    """The smallest, over replicates, of the objective's largest sqrt(KL) at ``size``."""
    return float(p.sqrt_kl(size, p.policies(size, objective)).max(axis=1).min())


def _hump(t: Tables, size: str, objective: str) -> tuple[Case, Case]:
    """Finding 1's rise and fall cases of one (size, objective)."""
    p = t.pooled
    policies = p.policies(size, objective)
    win, sft, d = p.stack(size, policies), p.stack(size, ["sft"])[..., 0], p.sqrt_kl(size, policies)
    rise = C.rise(win, sft, t.boot("rise", size, objective))
    fall = C.fall(win, d, t.boot("fall", size, objective))
    return case((size, objective), rise, above()), case((size, objective), fall, above())


def both(labels: Sequence[str], first: Case, second: Case, est: Estimate | None = None) -> Case:
    """A case that holds when ``first`` and ``second`` both do (untestable if either is), robust
    when both are; ``est`` the statistic it shows."""
    holds = None if None in (first.holds, second.holds) else bool(first.holds and second.holds)
    return Case(tuple(labels), est, holds, bool(first.robust and second.robust))


def _not_tested(number: str, claim: str, why: str = "no per-prompt samples") -> Finding:
    return Finding(number, claim, why, NOT_TESTED, "not tested")


# ----- the paper's findings ------------------------------------------------------------------


@finding("1")
def finding1(t: Tables) -> Finding:
    """Every objective shows a hump in win rate vs sqrt(KL)."""
    claim = "Every objective shows a hump: win rate rises, then falls, as sqrt(KL) grows."
    if t.pooled is None:
        return _not_tested("1", claim)
    rows, cases = [], []
    for size in t.sizes:
        for objective in t.mains:
            if not len(t.pooled.rows(size, objective)):
                continue
            rise, fall = _hump(t, size, objective)
            hump = both((size, objective), rise, fall)
            cases.append(hump)
            rows.append(
                [
                    size,
                    objective,
                    reps_cell(rise.estimate),
                    est_cell(rise.estimate),
                    reps_cell(fall.estimate),
                    est_cell(fall.estimate),
                    yes(hump.holds),
                    yes(hump.robust),
                ]
            )
    body = table(
        [
            "size",
            "objective",
            "rise per replicate",
            "rise pooled [95% CI]",
            "fall per replicate",
            "fall pooled [95% CI]",
            "hump",
            "robust to seed",
        ],
        rows,
    )
    return Finding(
        "1",
        claim,
        "per (size, objective), over all checkpoints of all betas: the rise holds when its CI lies "
        "above 0, the fall when its CI lies above 0; a case holds when both do.",
        verdict(cases),
        f"{count(cases)} (size, objective) pairs show a hump ({robust_count(cases)} robust to seed)",
        body,
        null="no hump: the best checkpoint gains nothing over SFT once the choice of the best is "
        "accounted for (rise = 0), or the checkpoint at the largest sqrt(KL) is level with it (fall = 0).",
        statistic="rise: the peak checkpoint is chosen on one half of the prompts and its paired win-rate "
        "gain over SFT measured on the other half, cross-fitted (the best of many checkpoints tested "
        "with a CI made for one is inflated by the choice); fall: the same held-out peak's win rate "
        "minus that of the checkpoint at the largest sqrt(KL) (each replicate's own).",
        cases=tuple(cases),
    )


def low_betas(betas: Iterable[float]) -> list[float]:
    """The smaller half of an objective's beta grid (at least its smallest beta)."""
    betas = sorted(set(betas))
    return betas[: max(1, len(betas) // 2)]


@finding("2")
def finding2(t: Tables) -> Finding:
    """At small betas, quality peaks at an early checkpoint, then declines."""
    claim = (
        "Within an epoch, at small betas (wide KL budgets), quality often peaks at the first checkpoints "
        "and then declines."
    )
    if t.pooled is None:
        return _not_tested("2", claim)
    p = t.pooled
    blocks, low, high, early, chance = [], [], [], [], []
    column = 0
    for objective in t.mains:
        for size in t.sizes:
            runs = _runs(p, size, objective)
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
        return _not_tested("2", claim, "no low-beta runs")
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
    cases = [vs_chance, vs_high]
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
    fa, fb = _finals(t.pooled, *a), _finals(t.pooled, *b)
    betas = sorted(set(fa) & set(fb))
    if not betas:
        return Case(labels, None, None)
    kl_a = t.pooled.stack(a[0], [fa[x] for x in betas], "kl")
    kl_b = t.pooled.stack(b[0], [fb[x] for x in betas], "kl")
    return case(labels, C.kl_gap(kl_a, kl_b, t.boot("kl", *a, *b)), above())


def _gain_case(t: Tables, labels: tuple[str, ...], a: tuple[str, str], b: tuple[str, str], at: float) -> Case:
    """Fitted RL-form gain at sqrt(KL) ``at`` of ``a`` minus ``b``'s; untested beyond either's range."""
    p = t.pooled
    if at > min(_observed(p, *a), _observed(p, *b)):
        return Case(labels, None, None)
    win_a, d_a = _curve(p, a[0], p.policies(*a))
    win_b, d_b = _curve(p, b[0], p.policies(*b))
    return case(labels, C.fitted_gain_gap(win_a, d_a, win_b, d_b, at, t.boot("gain", *a, *b, at)), above())


@finding("3")
def finding3(t: Tables) -> Finding:
    """Model size and objective: who reaches high KL and who degrades, at matched rates and sqrt(KL)."""
    claim = (
        "Smaller models reach high KL faster and over-optimise sooner; the largest keeps KL lower and "
        "degrades less. IPO stays at lower KL and over-optimises least."
    )
    if t.pooled is None:
        return _not_tested("3", claim)
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


def _matched_policies(p: Pooled, a: tuple[str, str], b: tuple[str, str]) -> tuple[list[str], list[str]]:
    """Policies of ``a`` and ``b`` at the same (beta, step), in matched order."""
    ka = {(float(r["beta"]), int(r["step"])): str(r["policy"]) for _, r in p.rows(*a).iterrows()}
    kb = {(float(r["beta"]), int(r["step"])): str(r["policy"]) for _, r in p.rows(*b).iterrows()}
    keys = sorted(set(ka) & set(kb))
    return [ka[k] for k in keys], [kb[k] for k in keys]


@finding("4")
def finding4(t: Tables) -> Finding:
    """Length exploitation and the length-regularised variant (e.g. R-DPO beside DPO)."""
    claim = (
        "Length exploitation: R² of log pi/ref on length is higher for smaller models and smaller KL "
        "budgets; length regularisation shifts the frontier but does not remove over-optimisation."
    )
    if t.pooled is None:
        return _not_tested("4", claim)
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
            rise, fall = _hump(t, size, objective)
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


@finding("5")
def finding5(t: Tables) -> Finding:
    """Implicit-reward accuracy has little correlation with win rate."""
    claim = "Held-out implicit-reward accuracy has little correlation with win rate."
    if t.pooled is None:
        return _not_tested("5", claim)
    p, cases = t.pooled, []
    for size in t.sizes:
        policies = [
            x for o in daa_objectives(t.ev, t.specs) if len(p.rows(size, o)) for x in p.policies(size, o)
        ]
        if len(policies) < 3:
            continue
        for column, label in (("implicit_acc", "noisy labels"), ("implicit_acc_gold", "gold labels")):
            if column not in p.ev.columns:
                continue
            acc = np.stack(
                [
                    p.ev[(p.ev["replicate"] == r) & (p.ev["model_size"] == size)]
                    .set_index("policy")
                    .loc[policies, column]
                    .to_numpy(dtype=np.float64)
                    for r in p.replicates
                ]
            )
            if not np.isfinite(acc).all():
                continue
            est = C.accuracy_correlation(p.stack(size, policies), acc, t.boot("implicit", size, column))
            cases.append(case((size, label, str(len(policies))), est, within(-R_SMALL, R_SMALL)))
    body = table(
        ["size", "accuracy on", "checkpoints", *CASE_HEADER], [[*c.labels, *case_cells(c, 2)] for c in cases]
    )
    return Finding(
        "5",
        claim,
        f"per size and label kind, the CI of r lies inside (-{R_SMALL:g}, {R_SMALL:g}).",
        verdict(cases),
        f"{count(cases)} (size, labels) cases with r inside ±{R_SMALL:g}",
        body,
        null=f"the accuracy tracks the win rate: |r| >= {R_SMALL:g}.",
        statistic="Pearson r over a size's DAA checkpoints between held-out implicit-reward accuracy (on the "
        "noisy preference labels, and on the noiseless gold order of the same pairs) and win rate, per "
        "replicate, averaged.",
        cases=tuple(cases),
    )


@finding("6")
def finding6(t: Tables) -> Finding:
    """The toy tree MDP, summarised by ``overopt.toy.mdp.findings_row`` (read from its JSON)."""
    toy_row = t.toy
    claim = (
        "Toy tree MDP: with preference data covering only some trajectories, DPO, IPO and SLiC move "
        "probability onto out-of-distribution trajectories; in-distribution probability falls."
    )
    if not toy_row:
        return Finding("6", claim, "the toy MDP was not part of this run", NOT_TESTED, "not run")
    body = list(toy_row.get("table", []))
    return Finding(
        "6",
        str(toy_row.get("claim", claim)),
        str(toy_row.get("criterion", "see the toy MDP's findings")),
        str(toy_row.get("verdict", NOT_TESTED)),
        str(toy_row.get("summary", "from the toy MDP's findings")),
        body,
        null=str(toy_row.get("null", "")),
        statistic=str(toy_row.get("statistic", "")),
    )


@finding("fit", title="Scaling-law form")
def functional_form(t: Tables) -> Finding:
    """The paper's fit claim: the RL form fits better than the quadratic (about half the RMSE)."""
    claim = (
        "The RL form R(d) = d(alpha - beta log d), fitted to all checkpoints, roughly halves the RMSE of "
        "a quadratic (best-of-n) fit."
    )
    if t.pooled is None:
        return _not_tested("fit", claim)
    p, cases, rows, calibration = t.pooled, [], [], []
    for size in t.sizes:
        for objective in [*daa_objectives(t.ev, t.specs), *best_of_n_objectives(t.ev)]:
            if not len(p.rows(size, objective)):
                continue
            win, d = _curve(p, size, p.policies(size, objective))
            ratio = C.rmse_ratio(win, d, t.boot("form", size, objective))
            if objective in best_of_n_objectives(t.ev):
                calibration.append(f"{size} {objective} {est_cell(ratio, 2)}")
                continue
            c = case((size, objective), ratio, below(1.0))
            cases.append(c)
            alpha = C.fitted_coefficient(win, d, 0, t.boot("alpha", size, objective))
            beta = C.fitted_coefficient(win, d, 1, t.boot("beta", size, objective))
            half = yes(ratio.low <= PAPER_RATIO <= ratio.high)
            rows.append([size, objective, *case_cells(c, 2), half, est_cell(alpha), est_cell(beta)])
    body = [
        f"- pooled RMSE ratios of the cases: median {fmt(_median(cases), 2)}",
        *(
            [
                "- calibration on the best-of-n curves (Gao et al.: the quadratic form fits best-of-n, so a "
                "ratio at or above 1 is expected there): " + "; ".join(calibration)
            ]
            if calibration
            else []
        ),
        "",
        *table(
            ["size", "objective", "ratio per replicate", "ratio pooled [95% CI]", "below 1", "robust to seed",
             f"CI holds {PAPER_RATIO:g}", "RL alpha [95% CI]", "RL beta [95% CI]"],
            rows,
        ),
    ]  # fmt: skip
    return Finding(
        "fit",
        claim,
        f"per (size, DAA objective), the CI of the ratio lies below 1; whether it also covers the paper's "
        f"~{PAPER_RATIO:g} is reported beside it.",
        verdict(cases),
        f"{count(cases)} pairs where the RL form fits better",
        body,
        null="the two forms fit equally well (ratio 1).",
        statistic="RMSE of the RL form over RMSE of the quadratic form, both fitted as gains over SFT to "
        "all of a replicate's checkpoints (SFT at d = 0), averaged over replicates.",
        cases=tuple(cases),
    )


def _median(cases: Sequence[Case]) -> float:
    values = [c.estimate.value for c in cases if c.estimate is not None]
    return float(np.median(values)) if values else math.nan


# ----- beyond the paper --------------------------------------------------------------------------


@finding("sharpening", title="Beyond the paper: DAA against temperature sharpening")
def sharpening(t: Tables) -> Finding:
    """The best DAA checkpoint against the SFT policy sharpened by temperature, at matched sqrt(KL)."""
    claim = (
        "The best DAA checkpoint wins more often than the SFT policy sharpened by temperature alone at "
        "the same sqrt(KL): preference learning, not only entropy reduction."
    )
    temps = t.pooled is not None and any(len(t.pooled.rows(s, "temperature")) for s in t.sizes)
    if not temps:
        return _not_tested("sharpening", claim, "no temperature-sharpened SFT policies in this study")
    p, cases = t.pooled, []
    for size in t.sizes:
        temp = p.rows(size, "temperature").sort_values("temperature", ascending=False, kind="stable")
        curve_win, curve_d = _curve(p, size, [str(x) for x in temp["policy"]])
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


@finding("bon", title="Beyond the paper: DAA against best-of-n")
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


# ----- document ----------------------------------------------------------------------------


def study_numbers(t: Tables) -> list[str]:
    """The SFT policies' win rates, pooled over replicates."""
    if t.pooled is None:
        return []
    rows = []
    for size in t.sizes:
        e = C.mean_of(t.pooled.stack(size, ["sft"])[..., 0], t.boot("sft", size))
        rows.append([size, reps_cell(e), est_cell(e)])
    return [
        "SFT win rate against the reference summaries:",
        "",
        *table(["size", "per replicate", "pooled [95% CI]"], rows),
    ]


def all_findings(tables: Tables) -> list[tuple[str, Finding]]:
    """Every registered finding in document order, with its section title."""
    return [(e.meta.get("title", f"Finding {e.name}"), e.obj(tables)) for e in FINDINGS]


def findings_markdown(
    evaluations: pd.DataFrame,
    fits: pd.DataFrame | None,
    toy_row: dict[str, Any] | None,
    specs: Specs,
    **optional: Any,
) -> str:
    """The findings document (markdown); ``specs``: the config's objectives (``objectives.specs``).

    ``optional``: the ``Tables`` fields ``pooled``, ``reward_models``, ``bootstrap``.
    """
    ev = with_replicate(prepare(evaluations))
    t = Tables(ev, fits, toy_row, specs, **optional)
    found = all_findings(t)
    judges = ", ".join(sorted(set(ev["judge"].astype(str)))) if "judge" in ev else "n/a"
    reps = sorted(set(ev["replicate"]))
    lines = [
        "# Findings: what this study shows",
        "",
        "Generated by `overopt.analysis.findings` from `results/tables/evaluations.csv` and every "
        "policy's per-prompt samples. For each claim of the paper (README: the study): its null, the "
        "statistic, the criterion and the verdict. Every statistic is computed per replicate and pooled; "
        "its 95% CI comes from a two-level bootstrap over replicates (each a redraw of every seed after "
        "the posts and gold reward) and prompts. A case holds when its CI lies on the claimed side of "
        "its threshold. One rule for every finding: *reproduced* when every case holds, *partly* when "
        "some do, *not reproduced* when none does, *not tested* when the study has no case. A case is "
        "*robust to seed* when, besides, every replicate's own value is on the claimed side.",
        "",
        f"- replicates: {len(reps)}; model sizes, smallest first (config order): {', '.join(size_order(ev))}",
        f"- objectives: {', '.join(daa_objectives(ev, specs)) or 'none'}"
        + (f" (one learning rate for every size: {', '.join(t.arms)})" if t.arms else "")
        + f"; judge: {judges}",
        "- d = √KL uses the exact per-token KL estimate; win rates are against the reference summaries",
        "",
        *study_numbers(t),
        "",
        *table(
            ["finding", "claim", "verdict", "in numbers"],
            [[f.number, f.claim, f"**{f.verdict}**", f.summary] for _, f in found],
        ),
    ]
    for title, f in found:
        lines += ["", f"## {title}: {f.verdict}", "", f"**Claim.** {f.claim}", ""]
        if f.null:
            lines += [f"**Null.** {f.null}", ""]
        if f.statistic:
            lines += [f"**Statistic.** {f.statistic}", ""]
        lines += [f"**Criterion.** {f.criterion}", "", f"**Result.** {f.summary}."]
        if f.body:
            lines += ["", *f.body]
    return "\n".join(lines) + "\n"
