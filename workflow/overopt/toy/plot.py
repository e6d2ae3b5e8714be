"""Figure for the toy tree MDP (finding 6), saved byte-deterministically as PNG and PDF.

Top row, one panel per objective: final OOD mass per beta (bar: mean over seeds, dots: seeds),
against the reference's OOD mass (dashed: mean over seeds). Bottom row: ID mass over training
steps, one line per beta (mean over seeds), against the reference's (dotted).
"""

from __future__ import annotations

import os

import pandas as pd
from matplotlib.figure import Figure

from overopt.core.plotting import fixed_style, new_figure, save_figure
from overopt.toy.mdp import findings_row

STYLE = {
    "svg.hashsalt": "overopt-toy-mdp",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")


def make_figure(df: pd.DataFrame) -> Figure:
    """Build the two-row figure from an ``overopt.toy.mdp.run`` table (no pyplot state)."""
    objectives = list(dict.fromkeys(df["objective"]))
    betas = sorted(df["beta"].unique())
    found = findings_row(df)["objectives"]
    fig = new_figure(figsize=(3.4 * len(objectives), 6.0), layout="constrained")
    axes = fig.subplots(2, len(objectives), squeeze=False)
    for j, name in enumerate(objectives):
        g = df[df["objective"] == name]
        start = g[g["step"] == 0].groupby("seed")[["id_mass", "ood_mass"]].first()
        finals = g[g["step"] == g["step"].max()]
        top, bottom = axes[0, j], axes[1, j]
        for k, beta in enumerate(betas):
            vals = finals[finals["beta"] == beta].sort_values("seed")["ood_mass"].to_numpy()
            color = COLORS[k % len(COLORS)]
            top.bar(k, vals.mean(), width=0.6, color=color, alpha=0.6)
            offsets = (
                [0.0] if len(vals) == 1 else [(i / (len(vals) - 1) - 0.5) * 0.4 for i in range(len(vals))]
            )
            top.scatter([k + o for o in offsets], vals, s=9, color="black", zorder=3)
            curve = g[g["beta"] == beta].groupby("step")["id_mass"].mean()
            bottom.plot(curve.index, curve.to_numpy(), color=color, label=f"β={beta:g}")
        top.axhline(start["ood_mass"].mean(), color="black", ls="--", lw=1, label="reference")
        cases = found[name]["by_beta"].values()
        held = sum(c["holds"] for c in cases)
        top.set_title(f"{name}: OOD gain (CI above 0) at {held}/{len(cases)} betas")
        top.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
        top.set_xlabel("β")
        top.set_ylim(0, 1)
        bottom.axhline(start["id_mass"].mean(), color="black", ls=":", lw=1, label="reference")
        bottom.set_xlabel("step")
        bottom.set_ylim(0, 1)
        if j == 0:
            top.set_ylabel("final OOD probability mass")
            bottom.set_ylabel("ID probability mass (mean over seeds)")
            top.legend(loc="upper right", frameon=False)
            bottom.legend(loc="lower right", frameon=False)
    return fig


def plot(df: pd.DataFrame, png: str | os.PathLike, pdf: str | os.PathLike) -> None:
    """Draw the figure under a fixed style and write ``png`` (150 dpi) and ``pdf``."""
    with fixed_style(STYLE):
        save_figure(make_figure(df), png, pdf, dpi=150)
