"""``results/findings.md``: the paper's findings 1-6 (Rafailov et al. 2024) set against this run.

Each finding is registered in ``FINDINGS``, in document order, as a function of the run's
``Tables`` (evaluations, fits, the toy MDP's findings, the config's objectives). It is split into
cases (a (size, objective) pair, a run, a comparison) and a computed criterion says, per case,
whether the claim holds; ``overopt.core.verdicts.graded`` turns the cases into the verdict
(for a finding with sub-claims: every tested sub-claim holds; a sub-claim holds when its
comparison succeeds in more than half of its cases). What an objective is (the IPO family, a
length-regularised variant and its baseline) comes from the config, never from its name.
Sizes are ordered as in the evaluations table (config order, smallest first).
All text is built from the tables with fixed number formats, so equal tables give equal bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from overopt.analysis import matched_kl
from overopt.analysis.stats import pearson, spearman
from overopt.analysis.tables import (
    NON_DAA,
    best_of_n_objectives,
    daa_objectives,
    length_pairs,
    main_objectives,
    prepare,
    size_order,
)
from overopt.core.objectives import Specs
from overopt.core.registry import Registry
from overopt.core.runtime import derive_seed
from overopt.core.verdicts import NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED, majority
from overopt.core.verdicts import graded as verdict

R_SMALL = 0.3  # |Pearson r| below this counts as "little correlation" (finding 5)
EARLY = 0.5  # an epoch fraction at or below this is an early checkpoint (finding 2)
__all__ = ["NOT_REPRODUCED", "NOT_TESTED", "PARTLY", "REPRODUCED", "majority", "verdict"]


@dataclass(frozen=True)
class Finding:
    """One finding: the paper's claim, the criterion used, the verdict and the numbers (markdown)."""

    number: str
    claim: str
    criterion: str
    verdict: str
    summary: str
    body: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Tables:
    """What a finding reads: the evaluations and fits tables, the toy MDP's findings, the objectives.

    Optional: ``samples``, each policy's per-prompt win probabilities keyed by (size, policy)
    (``overopt.analysis.fit.load_samples``), for paired comparisons; ``reward_models``, the proxy
    reward models' table; ``bootstrap``, (replicates, CI level, seed) of the paired comparisons.
    """

    ev: pd.DataFrame
    fits: pd.DataFrame | None
    toy: dict[str, Any] | None
    specs: Specs
    samples: dict[tuple[str, str], np.ndarray] | None = None
    reward_models: pd.DataFrame | None = None
    bootstrap: tuple[int, float, int] = (1000, 0.95, 0)


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


def _sft_win(ev: pd.DataFrame, size: str) -> float:
    sft = ev[(ev["model_size"] == size) & (ev["objective"] == "sft")]
    return float(sft["win_rate"].iloc[0]) if len(sft) else math.nan


def _half_width(row: pd.Series) -> float:
    return float(row["win_rate_high"] - row["win_rate_low"]) / 2


# ----- per-case tables ---------------------------------------------------------------------


def hump_table(ev: pd.DataFrame, specs: Specs) -> pd.DataFrame:
    """Per (size, DAA objective), over all checkpoints of all betas: peak, last point, rise, fall.

    rise: the best checkpoint's paired gain over SFT has a CI above 0 (without a paired CI:
    its own CI is above SFT's win rate). fall: the win rate at the largest sqrt(KL) is below
    the peak by more than the peak's CI half-width. hump: rise and fall.
    """
    rows = []
    for size in size_order(ev):
        sft_win = _sft_win(ev, size)
        for objective in daa_objectives(ev, specs):
            pts = ev[(ev["model_size"] == size) & (ev["objective"] == objective)]
            if pts.empty:
                continue
            pts = pts.sort_values(["sqrt_kl", "policy"], kind="stable")
            peak = pts.iloc[int(np.argmax(pts["win_rate"].to_numpy(dtype=np.float64)))]
            last = pts.iloc[-1]
            hw = _half_width(peak)
            gain_low = float(peak.get("win_gain_low", math.nan))
            rise = gain_low > 0 if math.isfinite(gain_low) else float(peak["win_rate_low"]) > sft_win
            fall = float(last["win_rate"]) < float(peak["win_rate"]) - hw
            rows.append(
                {
                    "model_size": size,
                    "objective": objective,
                    "sft_win": sft_win,
                    "peak_win": float(peak["win_rate"]),
                    "peak_hw": hw,
                    "peak_d": float(peak["sqrt_kl"]),
                    "peak_gain_low": gain_low,
                    "last_win": float(last["win_rate"]),
                    "last_d": float(last["sqrt_kl"]),
                    "drop": float(peak["win_rate"]) - float(last["win_rate"]),
                    "rise": bool(rise),
                    "fall": bool(fall),
                    "hump": bool(rise and fall),
                }
            )
    return pd.DataFrame(rows)


def low_betas(ev: pd.DataFrame, objective: str) -> list[float]:
    """The smaller half of an objective's beta grid (at least its smallest beta)."""
    betas = sorted(float(b) for b in ev.loc[ev["objective"] == objective, "beta"].dropna().unique())
    return betas[: max(1, len(betas) // 2)]


def run_table(ev: pd.DataFrame, specs: Specs) -> pd.DataFrame:
    """Per (size, objective, beta) run: best checkpoint, its epoch fraction, decline to the final one."""
    rows = []
    for objective in main_objectives(ev, specs):
        low = low_betas(ev, objective)
        for size in size_order(ev):
            of = ev[(ev["model_size"] == size) & (ev["objective"] == objective)]
            for beta in sorted(of["beta"].dropna().unique()):
                run = of[of["beta"] == beta].sort_values("step", kind="stable")
                best = run.iloc[int(np.argmax(run["win_rate"].to_numpy(dtype=np.float64)))]
                final = run.iloc[-1]
                early = float(best["epoch_fraction"]) <= EARLY
                decline = float(final["win_rate"]) < float(best["win_rate"]) - _half_width(best)
                rows.append(
                    {
                        "model_size": size,
                        "objective": objective,
                        "beta": float(beta),
                        "low_beta": float(beta) in low,
                        "best_fraction": float(best["epoch_fraction"]),
                        "best_win": float(best["win_rate"]),
                        "final_win": float(final["win_rate"]),
                        "early_share": float(np.mean(run["epoch_fraction"] <= EARLY)),
                        "first_d": float(run["sqrt_kl"].iloc[0]),
                        "max_d": float(run["sqrt_kl"].max()),
                        "early_peak": bool(early and decline),
                    }
                )
    return pd.DataFrame(rows)


# ----- findings ----------------------------------------------------------------------------


@finding("1")
def finding1(t: Tables) -> Finding:
    """Every objective shows a hump in win rate vs sqrt(KL)."""
    ev, fits = t.ev, t.fits
    humps = hump_table(ev, t.specs)
    humps = humps[humps["objective"].isin(main_objectives(ev, t.specs))] if len(humps) else humps
    flags = [bool(h) for h in humps.get("hump", [])]
    rows = []
    for _, h in humps.iterrows():
        fit_peak = _fit_value(fits, h["model_size"], h["objective"], "d_peak")
        d_max = _fit_value(fits, h["model_size"], h["objective"], "d_max")
        inside = None if not math.isfinite(fit_peak) else bool(fit_peak <= d_max)
        rows.append(
            [
                h["model_size"],
                h["objective"],
                fmt(h["sft_win"]),
                f"{fmt(h['peak_win'])} ± {fmt(h['peak_hw'])}",
                fmt(h["peak_d"]),
                fmt(h["peak_gain_low"], 4),
                fmt(h["last_win"]),
                fmt(h["last_d"]),
                yes(h["rise"]),
                yes(h["fall"]),
                yes(h["hump"]),
                f"{fmt(fit_peak)} ({yes(inside)})",
            ]
        )
    body = table(
        [
            "size",
            "objective",
            "SFT win",
            "peak win ± CI half-width",
            "peak √KL",
            "peak gain CI low",
            "win at largest √KL",
            "largest √KL",
            "rise",
            "fall",
            "hump",
            "RL-fit d* (≤ largest √KL?)",
        ],
        rows,
    )
    return Finding(
        "1",
        "Every objective shows a hump: win rate rises, then falls, as sqrt(KL) grows.",
        "per (size, objective), over all checkpoints of all betas: rise = the best checkpoint's paired "
        "win-rate gain over SFT has a 95% CI above 0; fall = the win rate at the largest sqrt(KL) is "
        "below the best win rate by more than the best point's CI half-width; a hump needs both. "
        "Reproduced if every pair shows a hump, partly if some do. The RL-fit peak is shown, not used.",
        verdict(flags),
        f"{share(flags)} (size, objective) pairs show a hump",
        body,
    )


def _fit_value(fits: pd.DataFrame | None, size: str, objective: str, column: str, form: str = "rl") -> float:
    if fits is None or fits.empty:
        return math.nan
    row = fits[
        (fits["model_size"].astype(str) == size) & (fits["objective"] == objective) & (fits["form"] == form)
    ]
    return float(row[column].iloc[0]) if len(row) else math.nan


@finding("2")
def finding2(t: Tables) -> Finding:
    """At small betas, quality peaks at an early checkpoint, then declines."""
    runs = run_table(t.ev, t.specs)
    low = runs[runs["low_beta"]] if len(runs) else runs
    high = runs[~runs["low_beta"]] if len(runs) else runs
    flags = [bool(v) for v in low.get("early_peak", [])]
    frac = sum(flags) / len(flags) if flags else math.nan
    frac_high = float(high["early_peak"].mean()) if len(high) else math.nan
    chance = float(low["early_share"].mean()) if len(low) else math.nan
    v = verdict(flags) if not flags or frac < 0.5 else REPRODUCED
    rows = [
        [
            r["model_size"],
            r["objective"],
            f"{r['beta']:g}",
            fmt(r["best_fraction"]),
            fmt(r["best_win"]),
            fmt(r["final_win"]),
            yes(r["early_peak"]),
        ]
        for _, r in low.iterrows()
    ]
    body = [
        f"- low-beta runs with an early peak and a decline: {share(flags)} ({fmt(frac, 2)})",
        f"- the same share among the other (larger-beta) runs: {fmt(frac_high, 2)}",
        f"- share of a low-beta run's checkpoints at epoch fraction <= {EARLY:g} "
        f"(where a peak would fall by chance): {fmt(chance, 2)}",
        "",
        *table(["size", "objective", "beta", "best ckpt epoch", "best win", "final win", "early peak"], rows),
    ]
    return Finding(
        "2",
        "Within an epoch, at small betas (wide KL budgets), quality often peaks at the first checkpoints "
        "and then declines.",
        f"low betas = the smaller half of each objective's beta grid (at least the smallest). A run has an "
        f"early peak when its best checkpoint is at epoch fraction <= {EARLY:g} and the final checkpoint's "
        "win rate is below the best by more than the best's CI half-width. Reproduced if at least half "
        "the low-beta runs have an early peak, partly if some do.",
        v,
        f"{share(flags)} low-beta runs peak early and then decline",
        body,
    )


def _pairs(values: dict[str, float], sizes: list[str]) -> list[bool]:
    """Per pair of sizes (smaller, larger) present: is the smaller size's value higher?"""
    present = [s for s in sizes if s in values and math.isfinite(values[s])]
    return [values[a] > values[b] for i, a in enumerate(present) for b in present[i + 1 :]]


@finding("3")
def finding3(t: Tables) -> Finding:
    """Model size and objective: who reaches high KL and who degrades."""
    ev = t.ev
    sizes, mains = size_order(ev), main_objectives(ev, t.specs)
    runs, humps = run_table(ev, t.specs), hump_table(ev, t.specs)
    lines: list[str] = []
    sub: dict[str, bool | None] = {}

    kl_pairs, first_pairs, kl_rows = [], [], []
    for (objective, beta), g in runs.groupby(["objective", "beta"], sort=True) if len(runs) else []:
        max_d = dict(zip(g["model_size"], g["max_d"], strict=True))
        first_d = dict(zip(g["model_size"], g["first_d"], strict=True))
        kl_pairs += _pairs(max_d, sizes)
        first_pairs += _pairs(first_d, sizes)
        kl_rows.append([objective, f"{beta:g}", *(fmt(max_d.get(s, math.nan)) for s in sizes)])
    sub["a"] = majority(kl_pairs)
    lines += [
        f"(a) smaller model has the larger max √KL at matched (objective, beta): {share(kl_pairs)} size "
        f"pairs -> {yes(sub['a'])}; at the first checkpoint: {share(first_pairs)}",
        "",
        *table(["objective", "beta", *(f"max √KL {s}" for s in sizes)], kl_rows),
        "",
    ]

    drops = {o: dict(zip(g["model_size"], g["drop"], strict=True)) for o, g in _by(humps, "objective")}
    largest = {s: dict(zip(g["objective"], g["last_d"], strict=True)) for s, g in _by(humps, "model_size")}
    largest_flags = []
    for objective in mains:
        present = [s for s in sizes if s in drops.get(objective, {})]
        if len(present) >= 2:
            v = drops[objective]
            largest_flags.append(all(v[present[-1]] < v[s] for s in present[:-1]))
    sub["b"] = majority(largest_flags)
    lines += [
        f"(b) the largest size has the smallest drop from peak to the largest-KL point: "
        f"{share(largest_flags)} objectives -> {yes(sub['b'])}",
        "",
        *table(
            ["objective", *(f"drop {s}" for s in sizes)],
            [[o, *(fmt(drops.get(o, {}).get(s, math.nan)) for s in sizes)] for o in mains],
        ),
        "",
    ]

    ipo_kl, ipo_drop = [], []
    for ipo in (o for o in mains if t.specs[o].family == "ipo"):  # IPO by its loss type, not its name
        for size in sizes:
            others = [o for o in mains if t.specs[o].family != "ipo" and o in largest.get(size, {})]
            if ipo in largest.get(size, {}) and others:
                ipo_kl.append(all(largest[size][ipo] < largest[size][o] for o in others))
                ipo_drop.append(all(drops[ipo][size] < drops[o][size] for o in others))
    sub["c"], sub["d"] = majority(ipo_kl), majority(ipo_drop)
    lines += [
        f"(c) IPO's largest √KL is below every other objective's at the same size: {share(ipo_kl)} sizes "
        f"-> {yes(sub['c'])}",
        f"(d) IPO's drop from peak is the smallest at the same size: {share(ipo_drop)} sizes "
        f"-> {yes(sub['d'])}",
        "",
        *table(
            ["size", *(f"largest √KL {o}" for o in mains)],
            [[s, *(fmt(largest.get(s, {}).get(o, math.nan)) for o in mains)] for s in sizes],
        ),
    ]
    tested = [v for v in sub.values() if v is not None]
    return Finding(
        "3",
        "Smaller models reach high KL faster and over-optimise sooner; the largest keeps KL lower and "
        "degrades less. IPO stays at lower KL and over-optimises least.",
        "four sub-claims, each holding when its comparison succeeds in more than half its cases: "
        "(a) per (objective, beta) and pair of sizes, the smaller model's largest sqrt(KL) is higher; "
        "(b) per objective, the largest size's drop (peak win rate minus the win rate at the largest "
        "sqrt(KL)) is below every smaller size's; (c) per size, IPO's largest sqrt(KL) is below every "
        "other objective's; (d) per size, IPO's drop is below every other objective's. "
        "Reproduced if every tested sub-claim holds, partly if some do.",
        verdict(tested),
        f"sub-claims a-d: {', '.join(f'{k} {yes(v)}' for k, v in sub.items())}",
        lines,
    )


def _by(df: pd.DataFrame, column: str) -> list[tuple[str, pd.DataFrame]]:
    return [] if df.empty else [(str(k), g) for k, g in df.groupby(column, sort=True)]


@finding("4")
def finding4(t: Tables) -> Finding:
    """Length exploitation and the length-regularised variant (e.g. R-DPO beside DPO)."""
    ev = t.ev
    sizes, mains = size_order(ev), main_objectives(ev, t.specs)
    daa = ev[ev["objective"].isin(mains)]
    lines: list[str] = []
    sub: dict[str, bool | None] = {}

    r2_pairs = []
    for _, g in daa.groupby(["objective", "beta", "step"], sort=True) if len(daa) else []:
        r2_pairs += _pairs(dict(zip(g["model_size"], g["length_r2"], strict=True)), sizes)
    sub["a"] = majority(r2_pairs)
    means = {s: float(daa.loc[daa["model_size"] == s, "length_r2"].mean()) for s in sizes}
    rhos = {s: spearman(*_xy(daa[daa["model_size"] == s], "sqrt_kl", "length_r2")) for s in sizes}
    rho_flags = [rhos[s] < 0 for s in sizes if math.isfinite(rhos[s])]
    sub["b"] = majority(rho_flags)
    lines += [
        f"(a) smaller size has the higher length R² at matched (objective, beta, step): {share(r2_pairs)} "
        f"size pairs -> {yes(sub['a'])}",
        f"(b) length R² falls as √KL grows (Spearman rho < 0) within a size: {share(rho_flags)} sizes "
        f"-> {yes(sub['b'])}",
        "",
        *table(
            ["size", "mean length R²", "Spearman rho(√KL, R²)"],
            [[s, fmt(means[s]), fmt(rhos[s], 2)] for s in sizes],
        ),
        "",
    ]

    humps = hump_table(ev, t.specs)
    regularised = [o for o in daa_objectives(ev, t.specs) if t.specs[o].length_regularised]
    pairs = length_pairs(ev, t.specs)  # (baseline, length-regularised), e.g. (dpo, rdpo)
    rd = humps[humps["objective"].isin(regularised)] if len(humps) else humps
    hump_flags = [bool(h) for h in rd.get("hump", [])]
    shorter = []
    for base, lr in pairs:
        both = ev[ev["objective"].isin([base, lr])]
        for _, g in both.groupby(["model_size", "beta", "step"], sort=True) if len(both) else []:
            lengths = dict(zip(g["objective"], g["mean_length"], strict=True))
            if len(lengths) == 2:
                shorter.append(lengths[lr] < lengths[base])
    shown = set(regularised) | {o for pair in pairs for o in pair}
    label = "R-DPO" if all(t.specs[o].family == "dpo" for o in regularised) else "length-regularised"
    base_label = "DPO" if label == "R-DPO" else "its baseline"
    sub["c"], sub["d"] = majority(hump_flags), majority(shorter)
    peak_rows = [
        [
            h["model_size"],
            h["objective"],
            fmt(h["peak_win"]),
            fmt(h["peak_d"]),
            fmt(h["last_win"]),
            yes(h["hump"]),
        ]
        for _, h in humps.iterrows()
        if h["objective"] in shown and h["model_size"] in set(rd.get("model_size", []))
    ]
    lines += [
        f"(c) {label} ({', '.join(regularised)}) still shows a hump (finding 1's criterion): "
        f"{share(hump_flags)} sizes -> {yes(sub['c'])}",
        f"(d) {label}'s mean length is below {base_label}'s at matched (size, beta, step): {share(shorter)} "
        f"checkpoints -> {yes(sub['d'])}",
    ]
    if peak_rows:
        lines += [
            "",
            *table(["size", "objective", "peak win", "peak √KL", "win at largest √KL", "hump"], peak_rows),
        ]
    tested = [v for v in sub.values() if v is not None]
    return Finding(
        "4",
        "Length exploitation: R² of log pi/ref on length is higher for smaller models and smaller KL "
        "budgets; length regularisation shifts the frontier but does not remove over-optimisation.",
        "four sub-claims, each holding when its comparison succeeds in more than half its cases: "
        "(a) per (objective, beta, step) and pair of sizes, the smaller size's length R² is higher; "
        "(b) per size, the Spearman correlation of length R² with sqrt(KL) over its checkpoints is "
        "negative; (c) per size R-DPO ran at, R-DPO shows a hump by finding 1's criterion; (d) per "
        "matched (size, beta, step), R-DPO's mean length is below DPO's. Reproduced if every tested "
        "sub-claim holds, partly if some do.",
        verdict(tested),
        f"sub-claims a-d: {', '.join(f'{k} {yes(v)}' for k, v in sub.items())}",
        lines,
    )


def _xy(df: pd.DataFrame, x: str, y: str) -> tuple[list[float], list[float]]:
    return df[x].astype(float).tolist(), df[y].astype(float).tolist()


@finding("5")
def finding5(t: Tables) -> Finding:
    """Implicit-reward accuracy has little correlation with win rate."""
    ev = t.ev
    daa = ev[ev["objective"].isin(daa_objectives(ev, t.specs))]
    sizes = size_order(ev)
    rs = {s: pearson(*_xy(daa[daa["model_size"] == s], "implicit_acc", "win_rate")) for s in sizes}
    ns = {
        s: int(daa[daa["model_size"] == s][["implicit_acc", "win_rate"]].notna().all(axis=1).sum())
        for s in sizes
    }
    r_all = pearson(*_xy(daa, "implicit_acc", "win_rate"))
    flags = [abs(rs[s]) < R_SMALL for s in sizes if math.isfinite(rs[s])]
    body = [
        f"- pooled over sizes: r = {fmt(r_all, 2)} (n = {sum(ns.values())})",
        "",
        *table(
            ["size", "Pearson r", "n checkpoints", f"|r| < {R_SMALL:g}"],
            [
                [s, fmt(rs[s], 2), str(ns[s]), yes(abs(rs[s]) < R_SMALL if math.isfinite(rs[s]) else None)]
                for s in sizes
            ],
        ),
    ]
    return Finding(
        "5",
        "Held-out implicit-reward accuracy has little correlation with win rate.",
        f"per size, Pearson r between held-out implicit-reward accuracy and win rate over all DAA "
        f"checkpoints; little correlation = |r| < {R_SMALL:g}. Reproduced if every size, partly if some.",
        verdict(flags),
        f"{share(flags)} sizes with |r| < {R_SMALL:g}; pooled r = {fmt(r_all, 2)}",
        body,
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
    body = []
    objectives = toy_row.get("objectives", {})
    if objectives:
        body = table(
            [
                "objective",
                "seeds with OOD gain",
                "seeds with ID fall",
                "reference OOD mass",
                "final OOD mass by beta",
            ],
            [
                [
                    name,
                    f"{o.get('seeds_ood_gain', 'n/a')}/{o.get('n_seeds', 'n/a')}",
                    f"{o.get('seeds_id_fall', 'n/a')}/{o.get('n_seeds', 'n/a')}",
                    fmt(o.get("reference_ood_mass_mean")),
                    _by_beta(o.get("final_ood_mass_mean", {})),
                ]
                for name, o in sorted(objectives.items())
            ],
        )
    extra = {
        k: v
        for k, v in sorted(toy_row.items())
        if k not in {"objectives", "verdict", "criterion", "claim", "finding"}
    }
    body += [f"- {k}: {fmt(v) if isinstance(v, float) else v}" for k, v in extra.items()]
    return Finding(
        "6",
        str(toy_row.get("claim", claim)),
        str(toy_row.get("criterion", "see the toy MDP's findings")),
        str(toy_row.get("verdict", NOT_TESTED)),
        "from the toy MDP's findings",
        body,
    )


def _by_beta(values: dict[Any, float]) -> str:
    """``beta: value`` pairs in increasing beta."""
    items = sorted(values.items(), key=lambda kv: float(kv[0]))
    return ", ".join(f"β={float(b):g}: {fmt(v)}" for b, v in items)


@finding("fit", title="Scaling-law form")
def functional_form(t: Tables) -> Finding:
    """The paper's fit claim: the RL form fits better than the quadratic (about half the RMSE)."""
    fits = t.fits
    rows, flags, ratios = [], [], []
    rl = (
        pd.DataFrame()
        if fits is None or fits.empty
        else fits[(fits["form"] == "rl") & ~fits["objective"].isin(NON_DAA)]
    )
    for _, f in rl.iterrows():
        ratio = float(f["rmse_ratio"])
        if math.isfinite(ratio):
            flags.append(ratio < 1)
            ratios.append(ratio)
        inside = None if not math.isfinite(float(f["d_peak"])) else bool(f["d_peak"] <= f["d_max"])
        rows.append(
            [
                str(f["model_size"]),
                f["objective"],
                f["offset"],
                fmt(f["r2"]),
                f"{fmt(ratio, 2)} [{fmt(f['rmse_ratio_low'], 2)}, {fmt(f['rmse_ratio_high'], 2)}]",
                f"{fmt(f['d_peak'])} [{fmt(f['d_peak_low'])}, {fmt(f['d_peak_high'])}]",
                fmt(f["d_max"]),
                yes(inside),
                fmt(f["peak_frac"], 2),
            ]
        )
    median = float(np.median(ratios)) if ratios else math.nan
    body = [
        f"- median RMSE ratio (RL / quadratic): {fmt(median, 2)} (the paper: about 0.5)",
        *_form_calibration(fits),
        "",
        *table(
            [
                "size",
                "objective",
                "offset",
                "RL R²",
                "RMSE ratio [95% CI]",
                "RL d* [95% CI]",
                "largest √KL",
                "d* observed?",
                "bootstrap share with a peak",
            ],
            rows,
        ),
    ]
    return Finding(
        "fit",
        "The RL form R(d) = d(alpha - beta log d), fitted to all checkpoints, roughly halves the RMSE of "
        "a quadratic (best-of-n) fit.",
        "per (size, DAA objective), RMSE of the RL form / RMSE of the quadratic form below 1; "
        "reproduced if every pair, partly if some. The median ratio is set beside the paper's ~0.5.",
        verdict(flags),
        f"{share(flags)} pairs where the RL form fits better; median ratio {fmt(median, 2)}",
        body,
    )


def _form_calibration(fits: pd.DataFrame | None) -> list[str]:
    """The same RMSE ratio on the best-of-n curves, where Gao et al. found the quadratic form fits."""
    if fits is None or fits.empty:
        return []
    bon = fits[(fits["form"] == "rl") & fits["objective"].isin(best_of_n_objectives(fits))]
    if bon.empty:
        return []
    cells = [
        f"{f['model_size']} {f['objective']} {fmt(f['rmse_ratio'], 2)} "
        f"[{fmt(f['rmse_ratio_low'], 2)}, {fmt(f['rmse_ratio_high'], 2)}]"
        for _, f in bon.iterrows()
    ]
    below = sum(float(f["rmse_ratio"]) < 1 for _, f in bon.iterrows())
    return [
        f"- calibration on the best-of-n curves (Gao et al.: the quadratic form fits best-of-n, so a "
        f"ratio above 1 is expected there): the RL form fits better on {below}/{len(bon)}: "
        + "; ".join(cells)
    ]


@finding("bon", title="Beyond the paper: DAA against best-of-n")
def against_best_of_n(t: Tables) -> Finding:
    """DAA checkpoints against proxy-RM best-of-n (graded) and the gold envelope, at matched sqrt(KL)."""
    claim = (
        "At matched √KL, DAA checkpoints win less often than best-of-n selected by a proxy reward model "
        "trained on the same preference pairs (the classical expectation: Gao et al. 2022 found "
        "best-of-n more KL-efficient than RL against a proxy)."
    )
    criterion = (
        "per (size, DAA objective) with checkpoints inside the best-of-n curve's √KL range: D = mean "
        "over prompts of (checkpoint win − proxy best-of-n win interpolated at the checkpoint's √KL), "
        "averaged over those checkpoints, with a 95% bootstrap CI over prompts. A pair holds when the "
        "CI lies below 0 (above 0: the DAA beats best-of-n; otherwise level). Reproduced if every "
        "pair, partly if some, not reproduced if none. The gold-selected envelope is compared the "
        "same way and reported, not graded."
    )
    ev = t.ev
    curves = best_of_n_objectives(ev)
    if "bon_proxy" not in curves or not t.samples:
        return Finding("bon", claim, criterion, NOT_TESTED, "no best-of-n curves in this run")
    n_boot, ci, seed = t.bootstrap
    rows, flags, sides = [], [], {"bon_proxy": [], "bon_gold": []}
    for size in size_order(ev):
        for objective in daa_objectives(ev, t.specs):
            daa = ev[(ev["model_size"] == size) & (ev["objective"] == objective)]
            if daa.empty:
                continue
            got = {
                c: matched_kl.compare(
                    daa,
                    ev[(ev["model_size"] == size) & (ev["objective"] == c)],
                    t.samples,
                    size,
                    n_boot,
                    ci,
                    derive_seed(seed, "bon", size, objective, c),
                )
                for c in curves
            }
            proxy = got["bon_proxy"]
            if proxy.n_matched:
                flags.append(proxy.side == "below")
            for c, m in got.items():
                if m.n_matched:
                    sides[c].append(m.side)
            rows.append(
                [
                    size,
                    objective,
                    f"{proxy.n_matched} ({proxy.n_out_of_range} beyond)",
                    *(
                        cell
                        for c in ("bon_proxy", "bon_gold")
                        for cell in (
                            (f"{fmt(got[c].diff)} [{fmt(got[c].low)}, {fmt(got[c].high)}]", got[c].side)
                            if c in got
                            else ("n/a", "n/a")
                        )
                    ),
                ]
            )
    body = [
        *table(
            [
                "size",
                "objective",
                "checkpoints matched",
                "D vs proxy BoN [95% CI]",
                "side",
                "D vs gold BoN [95% CI]",
                "side",
            ],
            rows,
        ),
        "",
        *_curve_peaks(ev, t),
    ]
    counts = {c: {k: v.count(k) for k in ("below", "level", "above")} for c, v in sides.items()}
    summary = (
        f"{share(flags)} (size, objective) pairs below proxy best-of-n "
        f"(level {counts['bon_proxy']['level']}, above {counts['bon_proxy']['above']}); "
        f"below the gold envelope {counts['bon_gold']['below']}/{len(sides['bon_gold'])}"
    )
    return Finding("bon", claim, criterion, verdict(flags), summary, body)


def _curve_peaks(ev: pd.DataFrame, t: Tables) -> list[str]:
    """Per size: the proxy RM's held-out accuracy, and each curve's peak win rate and its √KL."""
    rows = []
    rm = t.reward_models
    for size in size_order(ev):
        acc = ""
        if rm is not None and len(rm):
            r = rm[rm["model_size"].astype(str) == size]
            if len(r):
                acc = f"{fmt(r['accuracy_noisy'].iloc[0])} / {fmt(r['accuracy_gold'].iloc[0])}"
        for objective in [*daa_objectives(ev, t.specs), "temperature", *best_of_n_objectives(ev)]:
            sub = ev[(ev["model_size"] == size) & (ev["objective"] == objective)]
            if sub.empty:
                continue
            best = sub.sort_values(["win_rate", "policy"], ascending=[False, True], kind="stable").iloc[0]
            rows.append(
                [size, acc, objective, fmt(best["win_rate"]), fmt(best["sqrt_kl"]), str(best["policy"])]
            )
    return [
        "Peak win rate of each curve and where it lies (proxy RM accuracy on the held-out pairs: "
        "noisy labels / noiseless gold labels):",
        "",
        *table(["size", "proxy RM accuracy", "curve", "peak win rate", "at √KL", "policy"], rows),
    ]


# ----- document ----------------------------------------------------------------------------


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

    ``optional``: the ``Tables`` fields ``samples``, ``reward_models`` and ``bootstrap``.
    """
    ev = prepare(evaluations)
    found = all_findings(Tables(ev, fits, toy_row, specs, **optional))
    judges = ", ".join(sorted(set(ev["judge"].astype(str)))) if "judge" in ev else "n/a"
    offset = ", ".join(sorted(set(fits["offset"].astype(str)))) if fits is not None and len(fits) else "n/a"
    lines = [
        "# Findings: what this run shows",
        "",
        "Generated by `overopt.analysis.findings` from `results/tables/evaluations.csv` and "
        "`results/tables/fits.csv`. For each claim of the paper (README: the study): the criterion, "
        "computed from the tables, the numbers, and a verdict: *reproduced* (the criterion holds in "
        "every case), *partly* (in some), *not reproduced* (in none), *not tested* (no case in this run).",
        "",
        f"- model sizes, smallest first (config order): {', '.join(size_order(ev))}",
        f"- objectives: {', '.join(daa_objectives(ev, specs)) or 'none'}; judge: {judges}; "
        f"fit offset: {offset}",
        "- d = √KL uses the exact per-token KL estimate; win rates are against the reference "
        "summaries, with 95% bootstrap CIs over prompts",
        "",
        *table(
            ["finding", "claim", "verdict", "in numbers"],
            [[f.number, f.claim, f"**{f.verdict}**", f.summary] for _, f in found],
        ),
    ]
    for title, f in found:
        lines += [
            "",
            f"## {title}: {f.verdict}",
            "",
            f"**Claim.** {f.claim}",
            "",
            f"**Criterion.** {f.criterion}",
            "",
            f"**Result.** {f.summary}.",
        ]
        if f.body:
            lines += ["", *f.body]
    return "\n".join(lines) + "\n"
