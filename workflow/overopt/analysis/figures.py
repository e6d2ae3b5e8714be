"""The paper's figures from the evaluations and fits tables, byte-identical when rebuilt.

Every figure is registered in ``FIGURES`` with its name and its caption (reStructuredText for
Snakemake's report; Jinja may read ``snakemake.config``): the rules make one PNG and one PDF per
registered figure. A builder takes ``(evaluations, fits, objectives)`` and returns a figure.

Determinism: ``overopt.core.plotting`` (Agg canvas, default style plus ``STYLE``, no timestamps),
fixed figure sizes and dpi, iteration in fixed orders (sizes in table order, objectives in
``overopt.core.objectives.order``). The x-axis d = sqrt(KL) is ``sqrt_kl``, the exact per-token
KL estimate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from overopt.analysis.fit import predict
from overopt.analysis.stats import pearson
from overopt.analysis.tables import (
    best_of_n_objectives,
    daa_objectives,
    length_pairs,
    main_objectives,
    prepare,
    replicate_table,
    replicates,
    size_order,
    with_replicate,
)
from overopt.core.io import write_text
from overopt.core.objectives import Specs
from overopt.core.plotting import fixed_style, new_figure, save_figure
from overopt.core.registry import Registry

STYLE = {
    "svg.hashsalt": "overopt-figures",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}
DPI = 150
SIZE_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
BASELINE_COLOR, LENGTH_REGULARISED_COLOR = "#1f77b4", "#ff7f0e"  # e.g. DPO and R-DPO
TEMPERATURE_COLOR = "#888888"
BON_STYLES = {"bon_proxy": "--", "bon_gold": "-."}  # best-of-n curves: proxy-selected, gold envelope
BON_LABELS = {"bon_proxy": "best-of-n (proxy RM)", "bon_gold": "best-of-n (gold)"}
SQRT_KL = "√KL(π‖ref)  (exact per-token estimate)"
Builder = Callable[[pd.DataFrame, "pd.DataFrame | None", Specs], Figure]
FIGURES: Registry[Builder] = Registry("figure")


def figure(name: str, caption: str, every_replicate: bool = False) -> Callable[[Builder], Builder]:
    """Decorator: register a figure builder under ``name`` with its report caption.

    A builder sees the first replicate's rows unless it draws every replicate (``every_replicate``).
    """
    return FIGURES.register(name, caption=caption.strip() + "\n", every_replicate=every_replicate)


def first_replicate(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of the lowest replicate (a table without a ``replicate`` column is one replicate)."""
    if table is None or table.empty:
        return table
    return replicate_table(table, replicates(table)[0])


# ----- helpers -----------------------------------------------------------------------------


def _new_figure(width: float, height: float) -> Figure:
    return new_figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _colors(sizes: list[str]) -> dict[str, str]:
    return {s: SIZE_COLORS[i % len(SIZE_COLORS)] for i, s in enumerate(sizes)}


def _markers(objectives: list[str]) -> dict[str, str]:
    return {o: MARKERS[i % len(MARKERS)] for i, o in enumerate(objectives)}


def _rows(ev: pd.DataFrame, size: str | None = None, objective: str | None = None) -> pd.DataFrame:
    """Rows of a size and/or objective, in a fixed order."""
    mask = pd.Series(True, index=ev.index)
    if size is not None:
        mask &= ev["model_size"] == size
    if objective is not None:
        mask &= ev["objective"] == objective
    return ev[mask].sort_values(["sqrt_kl", "policy"], kind="stable")


def final_checkpoints(ev: pd.DataFrame) -> pd.DataFrame:
    """The last checkpoint (largest step) of each (model_size, objective, beta) run."""
    last = ev.groupby(["model_size", "objective", "beta"], dropna=False)["step"].transform("max")
    return ev[ev["step"] == last]


def _yerr(rows: pd.DataFrame) -> np.ndarray:
    """Asymmetric error bars from the win-rate CI (0 where missing)."""
    lo = (rows["win_rate"] - rows["win_rate_low"]).clip(lower=0).fillna(0.0)
    hi = (rows["win_rate_high"] - rows["win_rate"]).clip(lower=0).fillna(0.0)
    return np.vstack([lo.to_numpy(dtype=float), hi.to_numpy(dtype=float)])


def _win_points(ax: Axes, rows: pd.DataFrame, **kw: object) -> None:
    """Win rate vs sqrt(KL) with CI error bars."""
    if len(rows):
        kw = {"ms": 3.5, **kw}
        ax.errorbar(rows["sqrt_kl"], rows["win_rate"], yerr=_yerr(rows), ls="none", elinewidth=0.6, **kw)


def _fit_curve(ax: Axes, fits: pd.DataFrame, size: str, objective: str, color: str, form: str = "rl") -> None:
    """The fitted win-rate curve intercept + R(d), dotted, over [0, 1.05 d_max]."""
    if fits is None or fits.empty:
        return
    row = fits[(fits["model_size"] == size) & (fits["objective"] == objective) & (fits["form"] == form)]
    if (
        row.empty
        or not np.isfinite(row[["coef_alpha", "coef_beta", "intercept"]].to_numpy(dtype=float)).all()
    ):
        return
    r = row.iloc[0]
    d = np.linspace(0.0, 1.05 * float(r["d_max"]), 200)
    ax.plot(d, predict(form, r["coef_alpha"], r["coef_beta"], d, r["intercept"]), ls=":", color=color, lw=1.2)


def _bon_curves(
    ax: Axes, ev: pd.DataFrame, size: str, color: str, lw: float = 1.0, label: bool = False
) -> None:
    """A size's best-of-n curves (n = 1 ... n_max) as lines: dashed proxy-selected, dash-dot gold."""
    for objective in best_of_n_objectives(ev):
        rows = _rows(ev, size, objective)
        if len(rows):
            ax.plot(
                rows["sqrt_kl"],
                rows["win_rate"],
                ls=BON_STYLES[objective],
                lw=lw,
                color=color,
                label=BON_LABELS[objective] if label else None,
            )


def _spread(
    ax: Axes, others: pd.DataFrame, fits: pd.DataFrame, size: str, objective: str, color: str, finals: bool
) -> None:
    """The other replicates' checkpoints (hollow markers) and RL-form fits (thin dotted curves)."""
    for r in sorted(set(others["replicate"])) if len(others) else []:
        rows = others[others["replicate"] == r]
        rows = _rows(final_checkpoints(rows) if finals else rows, size, objective)
        ax.plot(rows["sqrt_kl"], rows["win_rate"], ls="none", marker="o", ms=2.5, mfc="none", mew=0.5,
                color=color, alpha=0.6)  # fmt: skip
        fit = fits[fits["replicate"] == r] if "replicate" in fits.columns else fits.iloc[0:0]
        fit = fit[(fit["model_size"] == size) & (fit["objective"] == objective) & (fit["form"] == "rl")]
        if (
            len(fit)
            and np.isfinite(fit[["coef_alpha", "coef_beta", "intercept"]].to_numpy(dtype=float)).all()
        ):
            f = fit.iloc[0]
            d = np.linspace(0.0, 1.05 * float(f["d_max"]), 200)
            ax.plot(d, predict("rl", f["coef_alpha"], f["coef_beta"], d, f["intercept"]), ls=":", lw=0.6,
                    color=color, alpha=0.6)  # fmt: skip


def _empty(ax: Axes, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def _fits(fits: pd.DataFrame | None) -> pd.DataFrame:
    if fits is None:
        return pd.DataFrame()
    out = fits.copy()
    if not out.empty:
        out["model_size"] = out["model_size"].astype(str)
    return out


# ----- figures -----------------------------------------------------------------------------


@figure(
    "figure1",
    caption="""
The paper's Figure 1. One column per objective; top row the final checkpoint of each beta,
bottom row every checkpoint (intermediate ones included); colour by model size. x: sqrt(KL)
(per-token estimate), y: win rate against the reference summaries with its 95% bootstrap CI;
the SFT model at x = 0. Dotted: the fitted RL form R(d) = d(alpha - beta log d) (offset
convention ``{{ snakemake.config["fit"]["offset"] }}``). Where the study has best-of-n curves:
dashed, best-of-n from the size's SFT policy selected by its proxy reward model; dash-dot,
selected by the gold judge (n = 1, 2, 4, ...; x from the exact KL over the distinct samples).
Where the study has several replicates (each a redraw of every seed), the filled markers, error
bars and curves are the first replicate's; hollow markers and thin dotted curves are the other
replicates' checkpoints and fits: the spread across seeds.
""",
    every_replicate=True,
)
def figure1(evaluations: pd.DataFrame, fits: pd.DataFrame | None, specs: Specs) -> Figure:
    """Paper Fig. 1: win rate vs sqrt(KL) per objective; top final checkpoints, bottom all.

    Colour: model size. Error bars: 95% bootstrap CI. Star at d = 0: SFT. Grey crosses:
    temperature-sharpened SFT. Dotted: the fitted RL form (its offset convention applied).
    Dashed / dash-dot: best-of-n selected by the proxy RM / the gold judge, where present.
    """
    every, all_fits = with_replicate(prepare(evaluations)), _fits(fits)
    ev, fits = first_replicate(every), first_replicate(all_fits)
    others = every[every["replicate"] != min(replicates(every), default=0)]
    sizes, colors = size_order(ev), _colors(size_order(ev))
    objectives = main_objectives(ev, specs)
    ncol = max(1, len(objectives))
    fig = _new_figure(3.0 * ncol + 0.4, 5.6)
    axes = fig.subplots(2, ncol, squeeze=False, sharey=True)
    finals = final_checkpoints(ev)
    temps = _rows(ev, objective="temperature")
    for j, objective in enumerate(objectives):
        for i, (label, table) in enumerate((("final checkpoints", finals), ("all checkpoints", ev))):
            ax = axes[i, j]
            for size in sizes:
                c = colors[size]
                _spread(ax, others, all_fits, size, objective, c, finals=i == 0)
                _win_points(ax, _rows(table, size, objective), color=c, marker="o", label=size)
                _win_points(ax, _rows(ev, size, "sft"), color=c, marker="*", ms=7)
                _fit_curve(ax, fits, size, objective, c)
                _bon_curves(ax, ev, size, c)
            if len(temps):
                _win_points(ax, temps, color=TEMPERATURE_COLOR, marker="x", label="temperature SFT")
            ax.set_title(f"{objective}: {label}")
            ax.set_xlabel(SQRT_KL if i == 1 else "√KL")
            if j == 0:
                ax.set_ylabel("win rate vs reference")
    if not objectives:
        _empty(axes[0, 0])
        _empty(axes[1, 0])
    else:
        title = "size (★ SFT, ⋯ RL fit" + (
            ", -- BoN proxy, -· BoN gold)" if best_of_n_objectives(ev) else ")"
        )
        axes[0, 0].legend(loc="best", fontsize=7, title=title, title_fontsize=7)
    return fig


@figure(
    "daa_vs_best_of_n",
    caption="""
DAA against classical over-optimisation at matched sqrt(KL). One panel per model size: every DAA
checkpoint (marker by objective), best-of-n from the size's SFT policy selected by a proxy
reward model trained on the same preference pairs (dashed, with its 95% CI band) and selected by
the gold judge (dash-dot: the envelope no selector of n samples beats), and temperature-sharpened
SFT (grey crosses). y: win rate against the reference summaries.
""",
)
def daa_vs_best_of_n(evaluations: pd.DataFrame, fits: pd.DataFrame | None, specs: Specs) -> Figure:
    """Win rate vs sqrt(KL) per size: DAA checkpoints beside the proxy and gold best-of-n curves."""
    ev = prepare(evaluations)
    sizes, objectives = size_order(ev), daa_objectives(ev, specs)
    markers = _markers(objectives)
    ncol = max(1, len(sizes))
    fig = _new_figure(3.0 * ncol + 0.4, 3.0)
    axes = fig.subplots(1, ncol, squeeze=False, sharey=True)[0]
    if not best_of_n_objectives(ev):
        for ax in axes:
            _empty(ax, "no best-of-n curves in this study")
        return fig
    for ax, size in zip(axes, sizes, strict=True):
        for k, objective in enumerate(objectives):
            rows = _rows(ev, size, objective)
            color = SIZE_COLORS[(k + 3) % len(SIZE_COLORS)]
            _win_points(ax, rows, color=color, marker=markers[objective], label=objective, alpha=0.8)
        proxy = _rows(ev, size, "bon_proxy")
        if len(proxy):
            ax.fill_between(
                proxy["sqrt_kl"],
                proxy["win_rate_low"],
                proxy["win_rate_high"],
                color="black",
                alpha=0.12,
                lw=0,
            )
        _bon_curves(ax, ev, size, "black", lw=1.2, label=True)
        _win_points(
            ax, _rows(ev, size, "temperature"), color=TEMPERATURE_COLOR, marker="x", label="temperature SFT"
        )
        _win_points(ax, _rows(ev, size, "sft"), color="black", marker="*", ms=7, label="SFT")
        ax.set_title(f"size {size}")
        ax.set_xlabel(SQRT_KL)
    axes[0].set_ylabel("win rate vs reference")
    handles = {}  # every panel's entries once (an objective may run at some sizes only)
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    axes[0].legend(handles.values(), handles.keys(), loc="best", fontsize=6)
    return fig


@figure(
    "intra_epoch",
    caption="""
Win rate through the epoch: one line per beta, per objective (rows) and model size (columns),
starting from the SFT model at epoch fraction 0.
""",
)
def intra_epoch(evaluations: pd.DataFrame, fits: pd.DataFrame | None, specs: Specs) -> Figure:
    """Win rate vs epoch fraction, one line per beta (from SFT at 0), a panel per (objective, size)."""
    ev = prepare(evaluations)
    sizes, objectives = size_order(ev), daa_objectives(ev, specs)
    nrow, ncol = max(1, len(objectives)), max(1, len(sizes))
    fig = _new_figure(2.6 * ncol + 0.4, 2.1 * nrow + 0.4)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    cmap = matplotlib.colormaps["viridis"]
    for i, objective in enumerate(objectives):
        betas = sorted(ev.loc[ev["objective"] == objective, "beta"].dropna().unique())
        shades = {b: cmap(k / max(1, len(betas) - 1)) for k, b in enumerate(betas)}
        legend_done = False
        for j, size in enumerate(sizes):
            ax = axes[i, j]
            rows = ev[(ev["model_size"] == size) & (ev["objective"] == objective)]
            if rows.empty:
                _empty(ax, f"no {objective} runs at {size}")
                continue
            sft = _rows(ev, size, "sft")["win_rate"]
            for beta in betas:
                run = rows[rows["beta"] == beta].sort_values("epoch_fraction")
                if run.empty:
                    continue
                x = np.r_[0.0, run["epoch_fraction"].to_numpy(dtype=float)]
                y = np.r_[sft.iloc[0] if len(sft) else np.nan, run["win_rate"].to_numpy(dtype=float)]
                ax.plot(x, y, marker="o", ms=3, lw=1, color=shades[beta], label=f"β={beta:g}")
            ax.set_title(f"{objective}, {size}")
            ax.set_xlim(-0.04, 1.04)
            ax.set_xlabel("epoch fraction")
            if j == 0:
                ax.set_ylabel("win rate")
            if not legend_done:
                ax.legend(fontsize=6, loc="best")
                legend_done = True
    if not objectives:
        _empty(axes[0, 0])
    return fig


@figure(
    "length",
    caption="""
Length exploitation. Top: mean summary length (tokens) against sqrt(KL). Bottom left: R^2 of
regressing log pi(y)/ref(y) on the length ``|y|`` over each policy's samples, against KL (the
paper's Figure 2, right). Bottom right: DPO against length-regularised DPO (R-DPO) at the size
where it ran (Figure 2, left).
""",
)
def length(evaluations: pd.DataFrame, fits: pd.DataFrame | None, specs: Specs) -> Figure:
    """Length exploitation (paper Fig. 2).

    Top, a panel per objective: mean length vs sqrt(KL), colour by size (star: SFT).
    Bottom left: R^2 of the regression of log pi/ref on length vs KL, colour by size, marker
    by objective. Bottom right (only if a length-regularised objective ran beside its baseline,
    e.g. R-DPO beside DPO): the two at the regularised one's sizes, win rate and mean length
    vs sqrt(KL).
    """
    ev = prepare(evaluations)
    sizes, colors = size_order(ev), _colors(size_order(ev))
    objectives = daa_objectives(ev, specs)
    main = main_objectives(ev, specs)
    markers = _markers(objectives)
    pairs = length_pairs(ev, specs)
    pair = pairs[0] if pairs else None
    rdpo_sizes = [s for s in sizes if pair and not _rows(ev, s, pair[1]).empty]
    ncol = max(len(main), 3 if rdpo_sizes else 1, 1)
    fig = _new_figure(3.0 * ncol + 0.4, 5.6)
    axes = fig.subplots(2, ncol, squeeze=False)
    for j, objective in enumerate(main):
        ax = axes[0, j]
        for size in sizes:
            for obj, marker in ((objective, "o"), ("sft", "*")):
                rows = _rows(ev, size, obj)
                ax.plot(
                    rows["sqrt_kl"], rows["mean_length"], ls="none", marker=marker, ms=4, color=colors[size]
                )
        ax.set_title(f"{objective}: length")
        ax.set_xlabel("√KL")
        if j == 0:
            ax.set_ylabel("mean length (tokens)")
    _length_r2(axes[1, 0], ev, sizes, colors, objectives, markers)
    if rdpo_sizes:
        _rdpo_panels(axes[1, 1], axes[1, 2], ev, rdpo_sizes, pair, specs)
    for ax in [*axes[0, len(main) :], *axes[1, 3 if rdpo_sizes else 1 :]]:
        ax.set_axis_off()
    if not main:
        _empty(axes[0, 0])
    return fig


def _length_r2(
    ax: Axes, ev: pd.DataFrame, sizes: list[str], colors: dict[str, str], objectives: list[str], markers: dict
) -> None:
    for size in sizes:
        for objective in objectives:
            rows = _rows(ev, size, objective).dropna(subset=["length_r2"])
            ax.plot(
                rows["kl_exact"],
                rows["length_r2"],
                ls="none",
                ms=4,
                marker=markers[objective],
                color=colors[size],
                label=f"{size} {objective}",
            )
    ax.set_title("length regression R² (log π/ref ~ length)")
    ax.set_xlabel("KL(π‖ref)  (exact per-token estimate)")
    ax.set_ylabel("R²")
    if objectives:
        ax.legend(fontsize=6, loc="best", ncol=max(1, len(sizes) // 2))


def _rdpo_panels(
    win_ax: Axes, len_ax: Axes, ev: pd.DataFrame, sizes: list[str], pair: tuple[str, str], specs: Specs
) -> None:
    """Baseline vs length-regularised objective (e.g. DPO vs R-DPO) at the regularised one's sizes."""
    size_markers = _markers(sizes)
    colors = dict(zip(pair, (BASELINE_COLOR, LENGTH_REGULARISED_COLOR), strict=True))
    for size in sizes:
        sft = _rows(ev, size, "sft")
        for objective in pair:
            rows = _rows(ev, size, objective)
            color = colors[objective]
            _win_points(win_ax, rows, color=color, marker=size_markers[size], label=f"{objective} {size}")
            len_ax.plot(
                rows["sqrt_kl"], rows["mean_length"], ls="none", ms=4, marker=size_markers[size], color=color
            )
        _win_points(win_ax, sft, color="black", marker="*", ms=7)
        len_ax.plot(sft["sqrt_kl"], sft["mean_length"], ls="none", marker="*", ms=7, color="black")
    label = "DPO vs R-DPO" if specs[pair[1]].family == "dpo" else f"{pair[0]} vs {pair[1]}"
    win_ax.set_title(f"{label}: win rate")
    win_ax.set_xlabel("√KL")
    win_ax.set_ylabel("win rate")
    win_ax.legend(fontsize=6, loc="best")
    len_ax.set_title(f"{label}: length")
    len_ax.set_xlabel("√KL")
    len_ax.set_ylabel("mean length (tokens)")


@figure(
    "implicit_acc",
    caption="""
Held-out implicit-reward accuracy (sign of beta * [log pi/ref(y_w) - log pi/ref(y_l)]) against
win rate for every DAA checkpoint, with the Pearson correlation.
""",
)
def implicit_acc(evaluations: pd.DataFrame, fits: pd.DataFrame | None, specs: Specs) -> Figure:
    """Held-out implicit-reward accuracy vs win rate over DAA checkpoints, with Pearson r."""
    ev = prepare(evaluations)
    sizes, colors = size_order(ev), _colors(size_order(ev))
    objectives = daa_objectives(ev, specs)
    markers = _markers(objectives)
    daa = ev[ev["objective"].isin(objectives)].dropna(subset=["implicit_acc", "win_rate"])
    fig = _new_figure(5.2, 3.8)
    ax = fig.subplots()
    handles = []
    for size in sizes:
        of_size = daa[daa["model_size"] == size]
        for objective in objectives:
            rows = _rows(of_size, objective=objective)
            ax.plot(
                rows["implicit_acc"],
                rows["win_rate"],
                ls="none",
                ms=4,
                marker=markers[objective],
                color=colors[size],
            )
        r = pearson(of_size["implicit_acc"], of_size["win_rate"])
        handles.append(
            Line2D([], [], ls="none", marker="o", color=colors[size], label=f"{size}: r = {_fmt(r)}")
        )
    handles += [Line2D([], [], ls="none", marker=markers[o], color="grey", label=o) for o in objectives]
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    r_all = pearson(daa["implicit_acc"], daa["win_rate"])
    ax.set_title(
        f"implicit-reward accuracy vs win rate\nPearson r = {_fmt(r_all)} over {len(daa)} DAA checkpoints"
    )
    ax.set_xlabel("held-out implicit-reward accuracy")
    ax.set_ylabel("win rate")
    if len(daa):
        ax.legend(handles=handles, fontsize=6, loc="best")
    return fig


def _fmt(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.2f}"


# ----- output ------------------------------------------------------------------------------


def make(
    name: str, evaluations: pd.DataFrame, fits: pd.DataFrame | None, specs: Specs, outdir: str | os.PathLike
) -> list[Path]:
    """Build the registered figure ``name`` under the fixed style; write ``name``.png and .pdf."""
    outdir = Path(outdir)
    png, pdf = outdir / f"{name}.png", outdir / f"{name}.pdf"
    if not FIGURES.entry(name).meta.get("every_replicate"):
        evaluations, fits = first_replicate(evaluations), first_replicate(fits)
    with fixed_style(STYLE):
        save_figure(FIGURES.get(name)(evaluations, fits, specs), png, pdf, dpi=DPI, pdf_dpi=DPI)
    return [png, pdf]


def make_all(
    evaluations: pd.DataFrame, fits: pd.DataFrame | None, specs: Specs, outdir: str | os.PathLike
) -> list[Path]:
    """Every registered figure; return the PNG and PDF paths."""
    return [p for name in FIGURES.names() for p in make(name, evaluations, fits, specs, outdir)]


def write_caption(name: str, directory: str | os.PathLike) -> Path:
    """The registered caption of figure ``name`` as ``directory/name.rst`` (rewritten only if changed)."""
    path = Path(directory) / f"{name}.rst"
    text = FIGURES.entry(name).meta["caption"]
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_text(path, text)
    return path
