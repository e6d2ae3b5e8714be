"""The DAAs against best-of-n (proxy-selected and gold envelope) on one sqrt(KL) axis."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from overopt.analysis.figures.base import (
    SIZE_COLORS,
    SQRT_KL,
    TEMPERATURE_COLOR,
    bon_curves,
    empty_panel,
    figure,
    objective_markers,
    panel_figure,
    rows_of,
    win_points,
)
from overopt.analysis.tables import (
    best_of_n_objectives,
    daa_objectives,
    prepare,
    size_order,
)
from overopt.core.objectives import Specs


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
    markers = objective_markers(objectives)
    ncol = max(1, len(sizes))
    fig = panel_figure(3.0 * ncol + 0.4, 3.0)
    axes = fig.subplots(1, ncol, squeeze=False, sharey=True)[0]
    if not best_of_n_objectives(ev):
        for ax in axes:
            empty_panel(ax, "no best-of-n curves in this study")
        return fig
    for ax, size in zip(axes, sizes, strict=True):
        for k, objective in enumerate(objectives):
            rows = rows_of(ev, size, objective)
            color = SIZE_COLORS[(k + 3) % len(SIZE_COLORS)]
            win_points(ax, rows, color=color, marker=markers[objective], label=objective, alpha=0.8)
        proxy = rows_of(ev, size, "bon_proxy")
        if len(proxy):
            ax.fill_between(
                proxy["sqrt_kl"],
                proxy["win_rate_low"],
                proxy["win_rate_high"],
                color="black",
                alpha=0.12,
                lw=0,
            )
        bon_curves(ax, ev, size, "black", lw=1.2, label=True)
        win_points(
            ax, rows_of(ev, size, "temperature"), color=TEMPERATURE_COLOR, marker="x", label="temperature SFT"
        )
        win_points(ax, rows_of(ev, size, "sft"), color="black", marker="*", ms=7, label="SFT")
        ax.set_title(f"size {size}")
        ax.set_xlabel(SQRT_KL)
    axes[0].set_ylabel("win rate vs reference")
    handles = {}  # every panel's entries once (an objective may run at some sizes only)
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    axes[0].legend(handles.values(), handles.keys(), loc="best", fontsize=6)
    return fig
