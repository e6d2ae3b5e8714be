"""Byte-identical figures: a fixed style, the Agg canvas, and files without timestamps.

Rebuilding a figure from the same table gives the same bytes: no pyplot state, matplotlib's
default style plus the caller's fixed rc settings (``svg.hashsalt`` included), and no version
strings or dates in the files (PNG ``Software``; PDF ``Creator``, ``Producer``, ``CreationDate``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from overopt.core.io import atomic_path

PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


@contextlib.contextmanager
def fixed_style(rc: dict[str, Any]) -> Iterator[None]:
    """matplotlib's default style with ``rc`` on top, for building and saving a figure."""
    with matplotlib.style.context("default"), matplotlib.rc_context(rc):
        yield


def new_figure(**kwargs: Any) -> Figure:
    """A figure on its own Agg canvas (no pyplot)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(
    fig: Figure, png: str | os.PathLike, pdf: str | os.PathLike, dpi: float, pdf_dpi: float | str = "figure"
) -> None:
    """Write ``png`` (at ``dpi``) and ``pdf`` (at ``pdf_dpi``) atomically, without timestamps."""
    with atomic_path(png, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata=PNG_METADATA)
    with atomic_path(pdf, ".pdf") as tmp:
        fig.savefig(tmp, format="pdf", dpi=pdf_dpi, metadata=PDF_METADATA)
