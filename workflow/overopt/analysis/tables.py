"""The evaluations table as fits, figures and findings read it: text sizes, fixed orders.

Sizes come in table order (config order: smallest first by convention). Objectives come in the
order of ``overopt.core.objectives.order``: the paper's DPO, IPO, SLiC first (by loss type, from
the config, not by name), then the others sorted, then the reference policies.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from overopt.core import objectives as O

REFERENCE_OBJECTIVES = ("sft", "temperature")  # the table's non-DAA policies


def prepare(evaluations: pd.DataFrame) -> pd.DataFrame:
    """The evaluations table with ``model_size`` as text (a size named ``1`` stays a name)."""
    df = evaluations.copy()
    df["model_size"] = df["model_size"].astype(str)
    return df


def size_order(evaluations: pd.DataFrame) -> list[str]:
    """Model sizes in table order, which is config order: smallest first by convention."""
    return list(dict.fromkeys(evaluations["model_size"].astype(str)))


def objective_order(names: Iterable[str], objectives: O.Specs) -> list[str]:
    """DAA objectives in ``objectives.order``, then SFT and temperature."""
    names = set(map(str, names))
    tail = [n for n in REFERENCE_OBJECTIVES if n in names]
    unknown = sorted(names - set(tail) - set(objectives))
    if unknown:
        raise ValueError(f"objectives {unknown} of the evaluations table are not in the config's objectives")
    return O.order(names - set(tail), objectives) + tail


def daa_objectives(evaluations: pd.DataFrame, objectives: O.Specs) -> list[str]:
    """Every objective in the table except SFT and temperature-sharpened SFT."""
    return [o for o in objective_order(evaluations["objective"], objectives) if o not in REFERENCE_OBJECTIVES]


def main_objectives(evaluations: pd.DataFrame, objectives: O.Specs) -> list[str]:
    """DAA objectives except length-regularised ones (finding 4 and figure 2 treat those)."""
    return [o for o in daa_objectives(evaluations, objectives) if not objectives[o].length_regularised]


def length_pairs(evaluations: pd.DataFrame, objectives: O.Specs) -> list[tuple[str, str]]:
    """(baseline, length-regularised) objective pairs of the table, e.g. (dpo, rdpo)."""
    present = set(daa_objectives(evaluations, objectives))
    out = []
    for name in daa_objectives(evaluations, objectives):
        base = O.baseline(name, objectives) if objectives[name].length_regularised else None
        if base is not None and base in present:
            out.append((base, name))
    return out
