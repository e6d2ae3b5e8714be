"""What every figure is made of: the registry (``@figure``), the fixed style, colours and markers,
and the drawing helpers the figures share (public: a new figure uses them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from overopt.analysis.fit import predict
from overopt.analysis.tables import (
    best_of_n_objectives,
    replicate_table,
    replicates,
)
from overopt.core.objectives import Specs
from overopt.core.plotting import new_figure
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


def panel_figure(width: float, height: float) -> Figure:
    return new_figure(figsize=(width, height), dpi=DPI, layout="constrained")


def size_colors(sizes: list[str]) -> dict[str, str]:
    return {s: SIZE_COLORS[i % len(SIZE_COLORS)] for i, s in enumerate(sizes)}


def objective_markers(objectives: list[str]) -> dict[str, str]:
    return {o: MARKERS[i % len(MARKERS)] for i, o in enumerate(objectives)}


def rows_of(ev: pd.DataFrame, size: str | None = None, objective: str | None = None) -> pd.DataFrame:
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


def win_yerr(rows: pd.DataFrame) -> np.ndarray:
    """Asymmetric error bars from the win-rate CI (0 where missing)."""
    lo = (rows["win_rate"] - rows["win_rate_low"]).clip(lower=0).fillna(0.0)
    hi = (rows["win_rate_high"] - rows["win_rate"]).clip(lower=0).fillna(0.0)
    return np.vstack([lo.to_numpy(dtype=float), hi.to_numpy(dtype=float)])


def win_points(ax: Axes, rows: pd.DataFrame, **kw: object) -> None:
    """Win rate vs sqrt(KL) with CI error bars."""
    if len(rows):
        kw = {"ms": 3.5, **kw}
        ax.errorbar(rows["sqrt_kl"], rows["win_rate"], yerr=win_yerr(rows), ls="none", elinewidth=0.6, **kw)


def fit_curve(ax: Axes, fits: pd.DataFrame, size: str, objective: str, color: str, form: str = "rl") -> None:
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


def bon_curves(
    ax: Axes, ev: pd.DataFrame, size: str, color: str, lw: float = 1.0, label: bool = False
) -> None:
    """A size's best-of-n curves (n = 1 ... n_max) as lines: dashed proxy-selected, dash-dot gold."""
    for objective in best_of_n_objectives(ev):
        rows = rows_of(ev, size, objective)
        if len(rows):
            ax.plot(
                rows["sqrt_kl"],
                rows["win_rate"],
                ls=BON_STYLES[objective],
                lw=lw,
                color=color,
                label=BON_LABELS[objective] if label else None,
            )


def replicate_spread(
    ax: Axes, others: pd.DataFrame, fits: pd.DataFrame, size: str, objective: str, color: str, finals: bool
) -> None:
    """The other replicates' checkpoints (hollow markers) and RL-form fits (thin dotted curves)."""
    for r in sorted(set(others["replicate"])) if len(others) else []:
        rows = others[others["replicate"] == r]
        rows = rows_of(final_checkpoints(rows) if finals else rows, size, objective)
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


def empty_panel(ax: Axes, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def fits_of(fits: pd.DataFrame | None) -> pd.DataFrame:
    if fits is None:
        return pd.DataFrame()
    out = fits.copy()
    if not out.empty:
        out["model_size"] = out["model_size"].astype(str)
    return out
