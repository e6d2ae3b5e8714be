"""The evaluations table as fits, figures and findings read it: text sizes, fixed orders.

Sizes come in table order (config order: smallest first by convention). Objectives come in the
order of ``overopt.core.objectives.order``: the paper's DPO, IPO, SLiC first (by loss type, from
the config, not by name), then the others sorted, then the reference policies and best-of-n.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from overopt.core import objectives as O

REFERENCE_OBJECTIVES = ("sft", "temperature")  # SFT and SFT sharpened by temperature alone
BEST_OF_N_OBJECTIVES = (
    "bon_proxy",
    "bon_gold",
)  # overopt.evaluate.best_of_n_estimators: classical over-optimisation
NON_DAA = (*REFERENCE_OBJECTIVES, *BEST_OF_N_OBJECTIVES)  # the table's policies that are not DAA checkpoints


def objective_specs(cfg_objectives: Mapping[str, Mapping[str, Any]]) -> O.Specs:
    """The config's objectives (``objectives.specs``), custom loss types imported first so that
    each objective's family (the summed IPO's is ``ipo``) is known."""
    for o in cfg_objectives.values():
        O.loss_type(str(o["loss_type"]))
    return O.specs(cfg_objectives)


def with_replicate(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``replicate`` column (a table without one is replicate 0's)."""
    return table if "replicate" in table.columns else table.assign(replicate=0)


def replicates(table: pd.DataFrame) -> list[int]:
    """The table's replicates, ascending."""
    return sorted(int(r) for r in set(with_replicate(table)["replicate"]))


def replicate_table(table: pd.DataFrame, replicate: int) -> pd.DataFrame:
    """The rows of one replicate (a table without a ``replicate`` column is replicate 0's)."""
    if "replicate" not in table.columns:
        return table if replicate == 0 else table.iloc[0:0]
    return table[table["replicate"] == replicate].reset_index(drop=True)


def prepare(evaluations: pd.DataFrame) -> pd.DataFrame:
    """The evaluations table with ``model_size`` as text (a size named ``1`` stays a name)."""
    df = evaluations.copy()
    df["model_size"] = df["model_size"].astype(str)
    return df


def size_order(evaluations: pd.DataFrame) -> list[str]:
    """Model sizes in table order, which is config order: smallest first by convention."""
    return list(dict.fromkeys(evaluations["model_size"].astype(str)))


def objective_order(names: Iterable[str], objectives: O.Specs) -> list[str]:
    """DAA objectives in ``objectives.order``, then SFT, temperature and best-of-n."""
    names = set(map(str, names))
    tail = [n for n in NON_DAA if n in names]
    unknown = sorted(names - set(tail) - set(objectives))
    if unknown:
        raise ValueError(f"objectives {unknown} of the evaluations table are not in the config's objectives")
    return ordered(names - set(tail), objectives) + tail


def ordered(names: Iterable[str], objectives: O.Specs) -> list[str]:
    """The paper's families first (DPO, IPO, SLiC; by family, not loss type, so the summed IPO of
    a custom loss sits with TRL's), each family's plain objective before its variants, then the
    others by name."""
    rank = {"dpo": 0, "ipo": 1, "slic": 2}
    known = [n for n in names if n in objectives]
    return sorted(
        known,
        key=lambda n: (
            rank.get(objectives[n].family, len(rank)),
            objectives[n].length_regularised,
            n != objectives[n].family,
            n,
        ),
    )


def daa_objectives(evaluations: pd.DataFrame, objectives: O.Specs) -> list[str]:
    """Every objective in the table except SFT, temperature-sharpened SFT, best-of-n and negative
    controls (``control_objectives``)."""
    return [
        o
        for o in objective_order(evaluations["objective"], objectives)
        if o not in NON_DAA and not objectives[o].control
    ]


def control_objectives(evaluations: pd.DataFrame, objectives: O.Specs) -> list[str]:
    """The negative controls in the table (objectives trained on shuffled labels)."""
    return [
        o
        for o in objective_order(evaluations["objective"], objectives)
        if o not in NON_DAA and objectives[o].control
    ]


def best_of_n_objectives(evaluations: pd.DataFrame) -> list[str]:
    """The best-of-n curves in the table (proxy-selected, then gold-selected)."""
    present = set(evaluations["objective"].astype(str))
    return [o for o in BEST_OF_N_OBJECTIVES if o in present]


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
