"""Length exploitation: mean length against sqrt(KL), R² of the log-ratio on length, R-DPO."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from overopt.analysis.figures.base import (
    BASELINE_COLOR,
    LENGTH_REGULARISED_COLOR,
    empty_panel,
    figure,
    objective_markers,
    panel_figure,
    rows_of,
    size_colors,
    win_points,
)
from overopt.analysis.tables import (
    daa_objectives,
    length_pairs,
    main_objectives,
    prepare,
    size_order,
)
from overopt.core.objectives import Specs


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
    sizes, colors = size_order(ev), size_colors(size_order(ev))
    objectives = daa_objectives(ev, specs)
    main = main_objectives(ev, specs)
    markers = objective_markers(objectives)
    pairs = length_pairs(ev, specs)
    pair = pairs[0] if pairs else None
    rdpo_sizes = [s for s in sizes if pair and not rows_of(ev, s, pair[1]).empty]
    ncol = max(len(main), 3 if rdpo_sizes else 1, 1)
    fig = panel_figure(3.0 * ncol + 0.4, 5.6)
    axes = fig.subplots(2, ncol, squeeze=False)
    for j, objective in enumerate(main):
        ax = axes[0, j]
        for size in sizes:
            for obj, marker in ((objective, "o"), ("sft", "*")):
                rows = rows_of(ev, size, obj)
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
        empty_panel(axes[0, 0])
    return fig


def _length_r2(
    ax: Axes, ev: pd.DataFrame, sizes: list[str], colors: dict[str, str], objectives: list[str], markers: dict
) -> None:
    for size in sizes:
        for objective in objectives:
            rows = rows_of(ev, size, objective).dropna(subset=["length_r2"])
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
    size_markers = objective_markers(sizes)
    colors = dict(zip(pair, (BASELINE_COLOR, LENGTH_REGULARISED_COLOR), strict=True))
    for size in sizes:
        sft = rows_of(ev, size, "sft")
        for objective in pair:
            rows = rows_of(ev, size, objective)
            color = colors[objective]
            win_points(win_ax, rows, color=color, marker=size_markers[size], label=f"{objective} {size}")
            len_ax.plot(
                rows["sqrt_kl"], rows["mean_length"], ls="none", ms=4, marker=size_markers[size], color=color
            )
        win_points(win_ax, sft, color="black", marker="*", ms=7)
        len_ax.plot(sft["sqrt_kl"], sft["mean_length"], ls="none", marker="*", ms=7, color="black")
    label = "DPO vs R-DPO" if specs[pair[1]].family == "dpo" else f"{pair[0]} vs {pair[1]}"
    win_ax.set_title(f"{label}: win rate")
    win_ax.set_xlabel("√KL")
    win_ax.set_ylabel("win rate")
    win_ax.legend(fontsize=6, loc="best")
    len_ax.set_title(f"{label}: length")
    len_ax.set_xlabel("√KL")
    len_ax.set_ylabel("mean length (tokens)")
