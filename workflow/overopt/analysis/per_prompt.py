"""The replicated study as the pooled findings read it: per replicate, per policy, per prompt.

Every replicate evaluates the same policies (the same grid of sizes, objectives, betas and
checkpoints) on the same prompts, so a policy's per-prompt values stack into an array shaped
(replicates, prompts): the layout ``overopt.analysis.two_level`` resamples. Values (``FIELDS``):
the judge's win probability against the reference summary, the sample's exact KL, its length in
tokens, its log pi/ref and its gold reward, each sorted by prompt id. A policy's sqrt(KL) is sqrt(mean KL over
prompts), as in the table.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from overopt.analysis.tables import prepare, replicates, with_replicate
from overopt.core import replicates as RP
from overopt.core.io import read_jsonl
from overopt.core.runs import policy_of_path

FIELDS = ("win", "kl", "len", "logratio", "gold")  # per-prompt values read from each samples.jsonl


def _field(row: dict, field: str) -> float:
    """win: the judge's win probability; kl: the exact KL; len: tokens; logratio: log pi/ref;
    gold: the gold reward (nan where the task has none)."""
    if field == "win":
        return float(row["judge_prob_win"])
    if field == "kl":
        return float(row.get("kl_exact", np.nan))
    if field == "len":
        return float(row.get("n_tokens", np.nan))
    if field == "gold":
        return float(row.get("gold_reward", np.nan))
    if "logp_policy" not in row:
        return np.nan
    return float(row["logp_policy"]) - float(row["logp_ref"])


@dataclass(frozen=True)
class Pooled:
    """The evaluations table of every replicate and each policy's per-prompt values."""

    ev: pd.DataFrame  # every replicate's rows, ``model_size`` as text
    values: dict[tuple[int, str, str, str], np.ndarray]  # (replicate, size, policy, field) -> (prompts,)

    @property
    def replicates(self) -> list[int]:
        return replicates(self.ev)

    def rows(self, size: str, objective: str, replicate: int | None = None) -> pd.DataFrame:
        """The table rows of ``objective`` at ``size`` (of one replicate, or of the first)."""
        r = self.replicates[0] if replicate is None else replicate
        ev = self.ev
        return ev[(ev["replicate"] == r) & (ev["model_size"] == size) & (ev["objective"] == objective)]

    def policies(self, size: str, objective: str) -> list[str]:
        """The objective's policies at ``size`` in (beta, step) order, present in every replicate."""
        first = self.rows(size, objective).sort_values(["beta", "step", "policy"], kind="stable")
        names = [str(p) for p in first["policy"]]
        for r in self.replicates[1:]:
            other = set(self.rows(size, objective, r)["policy"].astype(str))
            if other != set(names):
                raise ValueError(
                    f"replicate {r}: size {size!r}, objective {objective!r} has other policies than "
                    f"replicate {self.replicates[0]}"
                )
        return names

    def stack(self, size: str, policies: Sequence[str], field: str = "win") -> np.ndarray:
        """(replicates, prompts, policies) array of one field."""
        try:
            return np.stack(
                [
                    np.stack([self.values[(r, size, p, field)] for p in policies], axis=-1)
                    for r in self.replicates
                ]
            )
        except KeyError as err:
            raise KeyError(f"no per-prompt {field!r} values for {err.args[0]}") from None

    def sqrt_kl(self, size: str, policies: Sequence[str]) -> np.ndarray:
        """(replicates, policies) sqrt(KL) of each policy in each replicate (SFT's is 0)."""
        return np.sqrt(np.maximum(self.stack(size, policies, "kl").mean(axis=1), 0.0))


def load_study(root: Path) -> Pooled:
    """A finished study's pooled values: ``results/tables/evaluations.csv`` under ``root`` and every
    evaluated policy's samples (``results/eval``)."""
    table = pd.read_csv(root / "results" / "tables" / "evaluations.csv")
    return load(table, sorted(str(x) for x in (root / "results" / "eval").rglob("samples.jsonl")))


def load(evaluations: pd.DataFrame, paths: Sequence[str | os.PathLike]) -> Pooled:
    """The table and every listed samples.jsonl (``.../[replicate-<k>/]<size>/<policy>/samples.jsonl``).

    Every policy of a replicate and size must cover the same prompt ids, and every replicate the same.
    """
    ev = with_replicate(prepare(evaluations))
    known = {
        r: set(zip(g["model_size"], g["policy"].astype(str), strict=True)) for r, g in ev.groupby("replicate")
    }
    values: dict[tuple[int, str, str, str], np.ndarray] = {}
    prompts: list[str] | None = None
    for path in paths:
        r = RP.of_path(path)
        size, policy = policy_of_path(path, known.get(r, set()))
        if (r, size, policy, FIELDS[0]) in values:
            raise ValueError(
                f"{path}: a second samples file of replicate {r}, size {size!r}, policy {policy!r}"
            )
        rows = sorted(read_jsonl(path), key=lambda row: str(row["prompt_id"]))
        ids = [str(row["prompt_id"]) for row in rows]
        if prompts is None:
            prompts = ids
        elif ids != prompts:
            raise ValueError(f"{path}: its prompt ids differ from the other policies'")
        for field in FIELDS:
            values[(r, size, policy, field)] = np.array([_field(row, field) for row in rows])
    return Pooled(ev, values)
