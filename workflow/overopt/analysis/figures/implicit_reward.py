"""Implicit-reward accuracy against win rate."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from overopt.analysis.figures.base import figure, objective_markers, panel_figure, rows_of, size_colors
from overopt.analysis.stats import pearson
from overopt.analysis.tables import (
    daa_objectives,
    prepare,
    size_order,
)
from overopt.core.objectives import Specs


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
    sizes, colors = size_order(ev), size_colors(size_order(ev))
    objectives = daa_objectives(ev, specs)
    markers = objective_markers(objectives)
    daa = ev[ev["objective"].isin(objectives)].dropna(subset=["implicit_acc", "win_rate"])
    fig = panel_figure(5.2, 3.8)
    ax = fig.subplots()
    handles = []
    for size in sizes:
        of_size = daa[daa["model_size"] == size]
        for objective in objectives:
            rows = rows_of(of_size, objective=objective)
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
