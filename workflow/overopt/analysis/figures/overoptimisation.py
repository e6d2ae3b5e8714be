"""Figure 1 of the paper: win rate against sqrt(KL) per size and objective, with the fitted curves."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from overopt.analysis.figures.base import (
    SQRT_KL,
    TEMPERATURE_COLOR,
    bon_curves,
    empty_panel,
    figure,
    final_checkpoints,
    first_replicate,
    fit_curve,
    fits_of,
    panel_figure,
    replicate_spread,
    rows_of,
    size_colors,
    win_points,
)
from overopt.analysis.tables import (
    best_of_n_objectives,
    main_objectives,
    prepare,
    replicates,
    size_order,
    with_replicate,
)
from overopt.core.objectives import Specs


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
    every, all_fits = with_replicate(prepare(evaluations)), fits_of(fits)
    ev, fits = first_replicate(every), first_replicate(all_fits)
    others = every[every["replicate"] != min(replicates(every), default=0)]
    sizes, colors = size_order(ev), size_colors(size_order(ev))
    objectives = main_objectives(ev, specs)
    ncol = max(1, len(objectives))
    fig = panel_figure(3.0 * ncol + 0.4, 5.6)
    axes = fig.subplots(2, ncol, squeeze=False, sharey=True)
    finals = final_checkpoints(ev)
    temps = rows_of(ev, objective="temperature")
    for j, objective in enumerate(objectives):
        for i, (label, table) in enumerate((("final checkpoints", finals), ("all checkpoints", ev))):
            ax = axes[i, j]
            for size in sizes:
                c = colors[size]
                replicate_spread(ax, others, all_fits, size, objective, c, finals=i == 0)
                win_points(ax, rows_of(table, size, objective), color=c, marker="o", label=size)
                win_points(ax, rows_of(ev, size, "sft"), color=c, marker="*", ms=7)
                fit_curve(ax, fits, size, objective, c)
                bon_curves(ax, ev, size, c)
            if len(temps):
                win_points(ax, temps, color=TEMPERATURE_COLOR, marker="x", label="temperature SFT")
            ax.set_title(f"{objective}: {label}")
            ax.set_xlabel(SQRT_KL if i == 1 else "√KL")
            if j == 0:
                ax.set_ylabel("win rate vs reference")
    if not objectives:
        empty_panel(axes[0, 0])
        empty_panel(axes[1, 0])
    else:
        title = "size (★ SFT, ⋯ RL fit" + (
            ", -- BoN proxy, -· BoN gold)" if best_of_n_objectives(ev) else ")"
        )
        axes[0, 0].legend(loc="best", fontsize=7, title=title, title_fontsize=7)
    return fig
