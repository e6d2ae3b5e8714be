"""Scaling-law fits of win rate against d = sqrt(KL) (the forms of Gao, Schulman, Hilton 2022).

One fit per (model_size, objective, form), for every DAA objective and, as reference curves,
for temperature-sharpened SFT and the best-of-n curves (``bon_proxy``, ``bon_gold``: the
classical over-optimisation Gao et al. fitted, which calibrates the functional-form test).
The points are every evaluated checkpoint of every beta (intermediate ones included), or every
temperature or n, plus the SFT point at d = 0; d is ``sqrt_kl`` (the exact per-token KL
estimate; for best-of-n the exact KL over the distinct samples).

Forms, both linear in Gao et al.'s (alpha, beta), so ordinary least squares is exact (d log d := 0
at d = 0). In the code and in fits.csv they are ``coef_alpha`` and ``coef_beta``, named apart from
the DAA's KL coefficient beta:

- ``rl``:  R(d) = d (alpha - beta log d)
- ``bon``: R(d) = d (alpha - beta d)    (best-of-n / quadratic form)

Offset conventions (config ``fit.offset``); R(0) = 0 while the win rate at d = 0 is SFT's:

- ``gain``: fit y = win_rate - SFT win_rate as y = R(d). ``intercept`` reports the SFT win
  rate; it is not fitted. The SFT point (0, 0) is one of the points (its residual is always 0).
- ``intercept``: fit y = win_rate as y = c + R(d) with c free; ``intercept`` = c.

In both conventions the fitted win-rate curve is ``intercept + R(d)``; ``r2`` and ``rmse`` are
in win-rate units over the same points, so the conventions are comparable.

Peaks (``r_peak`` is the height above ``intercept``): RL d* = exp(alpha/beta - 1), R* = beta d*;
quadratic d* = alpha / (2 beta), R* = alpha^2 / (4 beta). Both are nan when the curve has no
maximum on d > 0 (beta <= 0; for the quadratic also alpha <= 0); d* is inf when it overflows.
``d_max`` is the largest d observed: a d_peak above it is an extrapolation.

Uncertainty: a seeded bootstrap over prompts. Each replicate resamples the prompt ids of a
model size once and recomputes every policy's win rate of that size from its per-prompt
judge probabilities, so SFT and all checkpoints share the resample (paired); d is held at
its observed value. Each ``_low`` / ``_high`` is a percentile interval over the replicates
that define the statistic; ``peak_frac`` is the share of replicates whose curve has a peak.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from overopt.analysis import per_prompt
from overopt.analysis.tables import (
    best_of_n_objectives,
    daa_objectives,
    prepare,
    replicate_table,
    replicates,
    size_order,
)
from overopt.core import bootstrap
from overopt.core.objectives import Specs
from overopt.core.runtime import derive_seed

FORMS = ("rl", "bon")
OFFSETS = ("gain", "intercept")
CI_STATS = ("coef_alpha", "coef_beta", "intercept", "rmse", "r2", "d_peak", "r_peak", "rmse_ratio")
COLUMNS = [
    "replicate",
    "model_size",
    "objective",
    "form",
    "offset",
    "n_points",
    "d_max",
    *(f"{s}{suffix}" for s in CI_STATS for suffix in ("", "_low", "_high")),
    "peak_frac",
    "n_boot",
]

Key = tuple[str, str]


# ----- the forms ---------------------------------------------------------------------------


def basis(form: str, d: np.ndarray) -> np.ndarray:
    """Columns multiplying (coef_alpha, coef_beta): [d, -d log d] (rl) or [d, -d^2] (bon)."""
    d = np.asarray(d, dtype=np.float64)
    if form == "rl":
        with np.errstate(divide="ignore", invalid="ignore"):
            second = np.where(d > 0, -d * np.log(np.where(d > 0, d, 1.0)), 0.0)
    elif form == "bon":
        second = -d * d
    else:
        raise ValueError(f"unknown form {form!r}; expected one of {FORMS}")
    return np.column_stack([d, second])


def predict(
    form: str, coef_alpha: float, coef_beta: float, d: np.ndarray, intercept: float = 0.0
) -> np.ndarray:
    """The fitted win-rate curve ``intercept + R(d)``."""
    return intercept + basis(form, d) @ np.array([coef_alpha, coef_beta], dtype=np.float64)


def peak(form: str, coef_alpha: np.ndarray, coef_beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d*, R*) of each curve; nan where it has no maximum on d > 0."""
    coef_alpha = np.asarray(coef_alpha, dtype=np.float64)
    coef_beta = np.asarray(coef_beta, dtype=np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if form == "rl":
            ok = coef_beta > 0
            d = np.exp(coef_alpha / np.where(ok, coef_beta, 1.0) - 1.0)
            r = coef_beta * d
        elif form == "bon":
            ok = (coef_beta > 0) & (coef_alpha > 0)
            safe = np.where(ok, coef_beta, 1.0)
            d = coef_alpha / (2.0 * safe)
            r = coef_alpha * coef_alpha / (4.0 * safe)
        else:
            raise ValueError(f"unknown form {form!r}; expected one of {FORMS}")
    return np.where(ok, d, np.nan), np.where(ok, r, np.nan)


def solve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients, (p,) or (p, B) for y of shape (n,) or (n, B); nan if rank-deficient."""
    coef, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    if rank < x.shape[1]:
        return np.full(coef.shape, np.nan)
    return coef


def fit_curves(
    form: str, offset: str, d: np.ndarray, win: np.ndarray, base: np.ndarray
) -> dict[str, np.ndarray]:
    """Fit one form to win rates ``win`` (n points x B replicates) at ``d``; ``base`` is SFT's (B,).

    Returns per-replicate arrays: coef_alpha, coef_beta, intercept, rmse, r2, d_peak, r_peak.
    """
    if offset not in OFFSETS:
        raise ValueError(f"unknown fit offset {offset!r}; expected one of {OFFSETS}")
    x = basis(form, d)
    if offset == "gain":
        target = win - base[None, :]
        coef = solve(x, target)
        coef_alpha, coef_beta, intercept = coef[0], coef[1], np.asarray(base, dtype=np.float64)
    else:
        x = np.column_stack([np.ones(len(d)), x])
        target = win
        coef = solve(x, target)
        intercept, coef_alpha, coef_beta = coef[0], coef[1], coef[2]
    resid = target - x @ coef
    ss_res = np.sum(resid * resid, axis=0)
    ss_tot = np.sum((win - win.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)
    d_peak, r_peak = peak(form, coef_alpha, coef_beta)
    return {
        "coef_alpha": coef_alpha,
        "coef_beta": coef_beta,
        "intercept": intercept,
        "rmse": np.sqrt(ss_res / len(d)),
        "r2": r2,
        "d_peak": d_peak,
        "r_peak": r_peak,
    }


# ----- bootstrap -----------------------------------------------------------------------------


def load_replicate_samples(
    paths: Sequence[str | os.PathLike], evaluations: pd.DataFrame
) -> dict[int, dict[Key, np.ndarray]]:
    """Per replicate, each policy's per-prompt ``judge_prob_win``, sorted by prompt id, keyed by
    (size, policy) (read by ``overopt.analysis.per_prompt.load``, which checks paths and prompt ids)."""
    study = per_prompt.load(evaluations, paths)
    out: dict[int, dict[Key, np.ndarray]] = {}
    for (r, size, policy, field), values in study.values.items():
        if field == "win":
            out.setdefault(r, {})[(size, policy)] = values
    return dict(sorted(out.items()))


# ----- the table ----------------------------------------------------------------------------


def fit_points(evaluations: pd.DataFrame, size: str, objective: str) -> pd.DataFrame:
    """SFT row first, then the objective's rows at ``size`` sorted by policy."""
    df = evaluations[evaluations["model_size"] == size]
    sft = df[df["objective"] == "sft"]
    if len(sft) != 1:
        raise ValueError(f"size {size!r}: expected one SFT row, found {len(sft)}")
    rows = df[df["objective"] == objective].sort_values("policy", kind="stable")
    return pd.concat([sft, rows], ignore_index=True)


def fit_table(
    evaluations: pd.DataFrame,
    samples: dict[Key, np.ndarray] | None,
    cfg_fit: dict[str, Any],
    seed: int,
    objectives: Specs,
) -> pd.DataFrame:
    """Fit both forms per (model_size, objective); CIs need ``samples`` (else they are nan).

    ``objectives``: the config's objectives (``overopt.core.objectives.specs``), which order the rows.
    """
    ev = prepare(evaluations)
    offset = str(cfg_fit.get("offset", "gain"))
    if offset not in OFFSETS:
        raise ValueError(f"fit.offset must be one of {OFFSETS}, not {offset!r}")
    n_boot = int(cfg_fit.get("bootstrap", 1000)) if samples else 0
    ci = float(cfg_fit.get("ci", 0.95))
    names = (
        daa_objectives(ev, objectives)
        + (["temperature"] if "temperature" in set(ev["objective"]) else [])
        + best_of_n_objectives(ev)
    )
    rows: list[dict[str, Any]] = []
    for size in size_order(ev):
        boot = _SizeBootstrap(samples or {}, size, n_boot, derive_seed(seed, "fit-bootstrap", size))
        present = set(ev.loc[ev["model_size"] == size, "objective"])
        for objective in (o for o in names if o in present):
            rows.extend(_fit_group(fit_points(ev, size, objective), objective, offset, boot, ci))
    return pd.DataFrame(rows, columns=COLUMNS[1:])


def fit_replicates(
    evaluations: pd.DataFrame,
    samples: dict[int, dict[Key, np.ndarray]] | None,
    cfg_fit: dict[str, Any],
    seed: int,
    objectives: Specs,
) -> pd.DataFrame:
    """``fit_table`` for each replicate, its rows tagged with the ``replicate`` column.

    Replicate 0 bootstraps with ``seed``, replicate k with a seed derived from it and k.
    """
    tables = []
    for r in replicates(evaluations):
        rep_seed = derive_seed(seed, "replicate", r) if r else seed
        fits = fit_table(
            replicate_table(evaluations, r), (samples or {}).get(r), cfg_fit, rep_seed, objectives
        )
        tables.append(fits.assign(replicate=r)[COLUMNS])
    return pd.concat(tables, ignore_index=True)


class _SizeBootstrap:
    """Resampled win rates of one size's policies, all on the same resampled prompts."""

    def __init__(self, samples: dict[Key, np.ndarray], size: str, n_boot: int, seed: int) -> None:
        self.samples, self.size, self.n_boot = samples, size, n_boot
        self.idx: np.ndarray | None = None
        self.seed = seed
        self.cache: dict[str, np.ndarray] = {}

    def win(self, policy: str) -> np.ndarray:
        """(B,) resampled win rates of ``policy``."""
        if policy not in self.cache:
            key = (self.size, policy)
            if key not in self.samples:
                raise KeyError(f"no samples for model size {self.size!r}, policy {policy!r}")
            values = self.samples[key]
            if self.idx is None:
                self.idx = bootstrap.indices(len(values), self.n_boot, self.seed)
            if len(values) != self.idx.shape[1]:
                raise ValueError(f"size {self.size!r}: policy {policy!r} has {len(values)} prompts")
            self.cache[policy] = bootstrap.resample_means(values, self.idx)
        return self.cache[policy]


def _fit_group(
    points: pd.DataFrame, objective: str, offset: str, boot: _SizeBootstrap, ci: float
) -> list[dict[str, Any]]:
    """Both forms' rows for one (size, objective)."""
    d = points["sqrt_kl"].to_numpy(dtype=np.float64)
    win = points["win_rate"].to_numpy(dtype=np.float64)
    policies = points["policy"].astype(str).tolist()
    point = {f: fit_curves(f, offset, d, win[:, None], win[:1]) for f in FORMS}
    reps = None
    if boot.n_boot > 0:
        wins = np.stack([boot.win(p) for p in policies])  # (n, B)
        reps = {f: fit_curves(f, offset, d, wins, wins[0]) for f in FORMS}
    rows = []
    for form in FORMS:
        row: dict[str, Any] = {
            "model_size": boot.size,
            "objective": objective,
            "form": form,
            "offset": offset,
            "n_points": len(d),
            "d_max": float(d.max()),
            "n_boot": boot.n_boot,
        }
        stats = {k: v[0] for k, v in point[form].items()}
        stats["rmse_ratio"] = _ratio(point["rl"]["rmse"], point["bon"]["rmse"])[0]
        for name in CI_STATS:
            row[name] = float(stats[name])
            values = np.array([])
            if reps is not None:
                values = (
                    _ratio(reps["rl"]["rmse"], reps["bon"]["rmse"])
                    if name == "rmse_ratio"
                    else reps[form][name]
                )
            row[f"{name}_low"], row[f"{name}_high"] = bootstrap.interval(values, ci)
        row["peak_frac"] = float(np.mean(~np.isnan(reps[form]["d_peak"]))) if reps else math.nan
        rows.append(row)
    return rows


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, nan where b is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)
