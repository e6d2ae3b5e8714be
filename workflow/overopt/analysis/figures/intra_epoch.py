"""Win rate and KL through the epoch, checkpoint by checkpoint."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from overopt.analysis.figures.base import empty_panel, figure, panel_figure, rows_of
from overopt.analysis.tables import (
    daa_objectives,
    prepare,
    size_order,
)
from overopt.core.objectives import Specs


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
    fig = panel_figure(2.6 * ncol + 0.4, 2.1 * nrow + 0.4)
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
                empty_panel(ax, f"no {objective} runs at {size}")
                continue
            sft = rows_of(ev, size, "sft")["win_rate"]
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
        empty_panel(axes[0, 0])
    return fig
