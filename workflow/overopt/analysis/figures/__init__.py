"""The paper's figures from the evaluations and fits tables, byte-identical when rebuilt.

Every figure is a builder registered with ``@figure(name, caption)`` in a module of this package,
one module per family (``overoptimisation``: figure 1, ``best_of_n``, ``intra_epoch``, ``length``,
``implicit_reward``). Every module is imported here (so adding a figure is adding a file;
``overopt.pipeline.deps`` counts each as the figures rule's code), and the rules make one PNG and
one PDF per registered figure, with its caption (reStructuredText for Snakemake's report; Jinja may
read ``snakemake.config``). A builder takes ``(evaluations, fits, objectives)`` and returns a
figure; it sees the first replicate's rows unless it registers with ``every_replicate=True``. The
shared style and drawing helpers are public, in ``base``.

Determinism: ``overopt.core.plotting`` (Agg canvas, default style plus ``STYLE``, no timestamps),
fixed figure sizes and dpi, iteration in fixed orders (sizes in table order, objectives in
``overopt.core.objectives.order``). The x-axis d = sqrt(KL) is ``sqrt_kl``, the exact per-token
KL estimate.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from overopt.analysis.figures.base import DPI, FIGURES, STYLE, figure, first_replicate
from overopt.core.io import write_text
from overopt.core.objectives import Specs
from overopt.core.plotting import fixed_style, save_figure
from overopt.core.registry import import_modules

import_modules(__name__)  # every module of the package: each registers its figures

__all__ = ["FIGURES", "figure", "make", "make_all", "write_caption"]


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
