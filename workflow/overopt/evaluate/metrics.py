"""Statistics of evaluated policies: length regression, implicit-reward accuracy (CIs: core.bootstrap)."""

from __future__ import annotations

import math

import numpy as np


def r_squared(x: np.ndarray, y: np.ndarray) -> float:
    """R^2 of the least-squares line y ~ a + b x (nan when x or y is constant)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    r = np.corrcoef(x, y)[0, 1]
    return float(r * r)


def implicit_accuracy(margins: np.ndarray) -> float:
    """Share of held-out pairs whose implicit-reward margin beta*h is positive (ties count half)."""
    margins = np.asarray(margins, dtype=np.float64)
    if len(margins) == 0:
        return math.nan
    return float(np.mean((margins > 0) + 0.5 * (margins == 0)))
