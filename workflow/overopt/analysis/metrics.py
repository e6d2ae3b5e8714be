"""The study's headline numbers as one JSON file: what DVC's experiment tools compare.

``dvc exp show`` and ``dvc metrics diff`` read ``results/metrics.json`` (dvc.yaml's top-level
``metrics``). Every number comes from the pooled and fits tables, unchanged but rounded:

- ``sft.<size>``: the SFT policy's gold win rate, pooled over replicates;
- ``peak.<size>.<objective>``: the highest pooled win rate over the objective's checkpoints
  (``win_rate``), its sqrt(KL) (``sqrt_kl``) and beta (``beta``). It is the in-sample maximum, a
  summary of the curve; the findings' held-out choice is in ``findings.md``;
- ``fit.<form>.<size>.<objective>``: the scaling-law fit's R^2 (``r2``) and its peak gain
  (``r_peak``), averaged over replicates.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

DIGITS = 6  # what the tables keep (overopt.core.io.write_csv: %.6g)


def _num(value: Any) -> float | None:
    """A JSON number rounded to the tables' precision, or null."""
    x = float(value)
    return None if math.isnan(x) else round(x, DIGITS)


def headline(pooled: pd.DataFrame, fits: pd.DataFrame) -> dict[str, Any]:
    """The headline numbers of a study from its pooled and fits tables (see the module docstring)."""
    sft = pooled[pooled["objective"] == "sft"]
    daa = pooled[pooled["step"] > 0]  # the DAA checkpoints (SFT, temperatures, best-of-n: step 0)
    out: dict[str, Any] = {"sft": {}, "peak": {}, "fit": {}}
    for row in sft.itertuples():
        out["sft"][str(row.model_size)] = _num(row.win_rate)
    for (size, objective), group in daa.groupby(["model_size", "objective"], sort=True):
        best = group.sort_values(["win_rate", "policy"], ascending=[False, True]).iloc[0]
        out["peak"].setdefault(str(size), {})[str(objective)] = {
            "win_rate": _num(best["win_rate"]),
            "sqrt_kl": _num(best["sqrt_kl"]),
            "beta": _num(best["beta"]),
        }
    for (form, size, objective), group in fits.groupby(["form", "model_size", "objective"], sort=True):
        out["fit"].setdefault(str(form), {}).setdefault(str(size), {})[str(objective)] = {
            "r2": _num(group["r2"].mean()),
            "r_peak": _num(group["r_peak"].mean()),
        }
    return out
