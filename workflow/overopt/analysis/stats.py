"""Correlations over finite pairs, for figures and findings."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd


def pearson(x: Iterable[float], y: Iterable[float]) -> float:
    """Pearson correlation over pairs with both values finite; nan if < 3 pairs or constant."""
    x, y = np.asarray(list(x), dtype=np.float64), np.asarray(list(y), dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def spearman(x: Iterable[float], y: Iterable[float]) -> float:
    """Spearman rank correlation (average ranks for ties) over finite pairs."""
    df = pd.DataFrame({"x": list(x), "y": list(y)}, dtype=np.float64).replace([np.inf, -np.inf], np.nan)
    df = df.dropna()
    return pearson(df["x"].rank(), df["y"].rank())
