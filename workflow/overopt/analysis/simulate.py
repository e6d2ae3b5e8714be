"""Simulated replicated studies with the variance components of a real one, to check the findings'
statistics: their false-positive rate, their CIs' coverage and their power.

A policy's per-prompt win probability in replicate r is modelled as

    w[r, i, k] = mu[k] + a[i] + b[r, i] + s[r, k] + e[r, i, k]

``mu``: the true curve over the policies (SFT and checkpoints); ``a``: the prompt's difficulty,
common to every replicate and policy; ``b``: the prompt's effect in one replicate (its SFT model,
shared by that replicate's policies); ``s``: the seed's luck of one checkpoint (the training run's
draw, shared by every prompt: the part that cross-fitting over prompts alone cannot remove);
``e``: the rest. ``measure`` estimates the four standard deviations from a study's
(replicates, prompts, policies) array by the method of moments (``python -m
overopt.analysis.simulate ROOT`` prints them for the study under ROOT); ``DEFAULT_STUDY`` holds
the default study's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from overopt.analysis import criteria as C
from overopt.analysis.criteria import Estimate


@dataclass(frozen=True)
class Components:
    """Standard deviations of the four parts of a per-prompt win probability."""

    prompt: float  # a: a prompt's effect, common to every replicate and policy
    replicate_prompt: float  # b: a prompt's effect within one replicate, common to its policies
    seed: float  # s: a checkpoint's seed-level luck, common to every prompt
    noise: float  # e: the rest


# Measured on the default study's rerun (3 replicates, 512 prompts; ``measured``: the median over its
# (size, objective) groups of checkpoints, SFT included; README, statistics section).
DEFAULT_STUDY = Components(prompt=0.135, replicate_prompt=0.142, seed=0.016, noise=0.144)


def measure(values: np.ndarray) -> Components:
    """Method-of-moments estimates of the components from (replicates, prompts, policies) values.

    Within a replicate, the residual of the two-way (prompt x policy) fit gives e; the covariance
    of prompts' means across replicates gives a, their variance within one the rest of b; the
    replicate x policy interaction of the policies' means, less e's share, gives s.
    """
    w = np.asarray(values, dtype=np.float64)
    r, n, k = w.shape
    pol = w.mean(axis=1, keepdims=True)  # (r, 1, k)
    pr = w.mean(axis=2, keepdims=True)  # (r, n, 1)
    grand = w.mean(axis=(1, 2), keepdims=True)
    resid = w - pol - pr + grand
    var_e = float((resid**2).sum() / (r * (n - 1) * (k - 1)))
    p = pr[..., 0]  # (r, n)
    pc = p - p.mean(axis=1, keepdims=True)
    if r > 1:
        covs = [float(pc[x] @ pc[y] / (n - 1)) for x in range(r) for y in range(x + 1, r)]
        var_a = max(float(np.mean(covs)), 0.0)
    else:
        var_a = 0.0
    var_p = float(np.mean(np.var(p, axis=1, ddof=1)))
    var_b = max(var_p - var_a - var_e / k, 0.0)
    m = pol[:, 0, :]  # (r, k)
    if r > 1:
        inter = m - m.mean(axis=0, keepdims=True) - m.mean(axis=1, keepdims=True) + m.mean()
        var_s = max(float((inter**2).sum() / ((r - 1) * (k - 1))) - var_e / n, 0.0)
    else:
        var_s = 0.0
    return Components(math.sqrt(var_a), math.sqrt(var_b), math.sqrt(var_s), math.sqrt(var_e))


def study(
    c: Components, mu: np.ndarray, replicates: int, prompts: int, rng: np.random.Generator
) -> np.ndarray:
    """One simulated study: (replicates, prompts, policies) values around the true curve ``mu``."""
    mu = np.asarray(mu, dtype=np.float64)
    k = len(mu)
    a = rng.normal(0.0, c.prompt, size=(1, prompts, 1))
    b = rng.normal(0.0, c.replicate_prompt, size=(replicates, prompts, 1))
    s = rng.normal(0.0, c.seed, size=(replicates, 1, k))
    e = rng.normal(0.0, c.noise, size=(replicates, prompts, k))
    return mu[None, None, :] + a + b + s + e


Boot = tuple[int, float, int]  # (resamples, CI level, seed)
Scenario = Callable[[Components, np.random.Generator, Boot, int, float], Estimate]
K = 25  # checkpoints of a simulated (size, objective): about a default-study group's
PROMPTS = 512  # the default study's evaluation prompts
REPLICATES = 3  # the default study's replicates


def _d(replicates: int, k: int) -> np.ndarray:
    """Each replicate's checkpoints' sqrt(KL): a grid from 0.1 to 3 (the default study's range)."""
    return np.tile(np.linspace(0.1, 3.0, k), (replicates, 1))


def hump(effect: float, k: int = K) -> np.ndarray:
    """A true curve over ``k`` checkpoints: up by ``effect`` at the ninth, back to 0 by the
    seventeenth and level after it (so it rises and falls by ``effect``)."""
    return effect * np.clip(1 - np.abs(np.arange(k) - 8) / 8, 0, None)


def _rise(c: Components, rng: np.random.Generator, boot: Boot, r: int, effect: float) -> Estimate:
    w = study(c, np.concatenate([[0.0], hump(effect)]), r, PROMPTS, rng)
    return C.rise(w[..., 1:], w[..., 0], boot)


def _fall(c: Components, rng: np.random.Generator, boot: Boot, r: int, effect: float) -> Estimate:
    w = study(c, hump(effect), r, PROMPTS, rng)
    return C.fall(w, _d(r, K), boot)


def _gain_gap(at: float) -> Scenario:
    """Two RL-form curves whose gains at sqrt(KL) = ``at`` differ by ``effect`` (alpha lower in b's)."""

    def run(c: Components, rng: np.random.Generator, boot: Boot, r: int, effect: float) -> Estimate:
        d = np.concatenate([np.zeros((r, 1)), _d(r, K)], axis=1)
        log_d = np.log(np.where(d[0] > 0, d[0], 1.0))
        mu_a = d[0] * (0.1 - 0.05 * log_d)
        mu_b = d[0] * (0.1 - effect / at - 0.05 * log_d)
        a, b = study(c, mu_a, r, PROMPTS, rng), study(c, mu_b, r, PROMPTS, rng)
        return C.fitted_gain_gap(a, d, b, d, at, boot)

    return run


def _correlation(c: Components, rng: np.random.Generator, boot: Boot, r: int, effect: float) -> Estimate:
    """``effect``: the win rate a checkpoint gains per 0.1 of held-out implicit accuracy."""
    w = study(c, np.zeros(K), r, PROMPTS, rng)
    acc = rng.uniform(0.5, 0.7, size=(r, K))
    w = w + effect * (acc[:, None, :] - 0.6) / 0.1
    return C.accuracy_correlation(w, acc, boot)


def _envelope(c: Components, rng: np.random.Generator, boot: Boot, r: int, effect: float) -> Estimate:
    """The DAA's checkpoints a hump of ``effect`` over 8 level baseline points (SFT and 7 more)."""
    w = study(c, np.concatenate([hump(effect), np.zeros(8)]), r, PROMPTS, rng)
    base_d = np.tile(np.concatenate([[0.0], np.linspace(0.2, 2.0, 7)]), (r, 1))
    return C.best_vs_envelope(w[..., :K], _d(r, K), w[..., K:], base_d, boot)


# each statistic a verdict rests on, with its true value set by ``effect`` (0: the null)
SCENARIOS: dict[str, Scenario] = {
    "rise (held-out peak gain)": _rise,
    "fall (held-out peak minus last)": _fall,
    "fitted gain gap at sqrt(KL) 0.5": _gain_gap(0.5),
    "fitted gain gap at sqrt(KL) 1": _gain_gap(1.0),
    "r (implicit accuracy vs win)": _correlation,
    "D (best checkpoint minus envelope)": _envelope,
}


@dataclass(frozen=True)
class Rates:
    """Over simulated studies with true value 0: how often the CI excludes 0 above (a false
    "above" claim) and below, and how often it covers 0."""

    studies: int
    above: float
    below: float
    coverage: float


def _estimates(
    scenario: Scenario, c: Components, effect: float, replicates: int, studies: int, n_boot: int, seed: int
) -> list[Estimate]:
    """``scenario`` on ``studies`` seeded studies; the same seed gives every effect the same draws."""
    rng = np.random.default_rng(seed)
    return [scenario(c, rng, (n_boot, 0.95, seed + i), replicates, effect) for i in range(studies)]


def null_rates(
    scenario: Scenario, c: Components, studies: int, n_boot: int, seed: int, replicates: int = REPLICATES
) -> Rates:
    """``scenario`` run on ``studies`` simulated studies (seeded), each with its two-level CI."""
    ests = _estimates(scenario, c, 0.0, replicates, studies, n_boot, seed)
    above = float(np.mean([e.low > 0 for e in ests]))
    below = float(np.mean([e.high < 0 for e in ests]))
    covered = float(np.mean([e.low <= 0 <= e.high for e in ests]))  # counted, not 1 - above - below
    return Rates(studies, above, below, covered)


def power(
    scenario: Scenario, c: Components, effect: float, replicates: int, studies: int, n_boot: int, seed: int
) -> float:
    """How often the CI lies above 0 when the statistic's true value is ``effect``."""
    found = _estimates(scenario, c, effect, replicates, studies, n_boot, seed)
    return float(np.mean([e.low > 0 for e in found]))


def rise_power(c: Components, effect: float, replicates: int, studies: int, n_boot: int, seed: int) -> float:
    """The rise's power when the true curve rises by ``effect`` over SFT (``hump``)."""
    return power(_rise, c, effect, replicates, studies, n_boot, seed)


TARGET_POWER = 0.8


def minimum_effect(
    scenario: Scenario,
    c: Components,
    replicates: int,
    studies: int = 200,
    n_boot: int = 100,
    seed: int = 0,
    step: float = 0.005,
    upper: float = 0.5,
) -> float:
    """The smallest effect on a grid of ``step`` whose power reaches ``TARGET_POWER`` (bisection;
    the same draws at every effect make the power monotone in it); ``inf`` beyond ``upper``."""
    lo, hi = 0, round(upper / step)
    if power(scenario, c, hi * step, replicates, studies, n_boot, seed) < TARGET_POWER:
        return math.inf
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power(scenario, c, mid * step, replicates, studies, n_boot, seed) >= TARGET_POWER:
            hi = mid
        else:
            lo = mid
    return round(hi * step, 10)


def measured(root: Path, config: str = "config/config.yaml") -> dict[str, object]:
    """The components of every (size, objective) group of a study's results (SFT with the
    group's checkpoints), and their medians: what ``DEFAULT_STUDY`` records."""
    from overopt.analysis import per_prompt
    from overopt.analysis.tables import daa_objectives, objective_specs
    from overopt.core.config import load

    pooled = per_prompt.load_study(root)
    objectives = daa_objectives(pooled.ev, objective_specs(load(root / config)["objectives"]))
    groups, prompts = {}, 0
    for size in sorted(set(pooled.ev["model_size"])):
        for objective in (o for o in objectives if len(pooled.rows(size, o))):
            values = pooled.stack(size, ["sft", *pooled.policies(size, objective)])
            groups[f"{size}/{objective}"], prompts = asdict(measure(values)), values.shape[1]
    median = {f: float(np.median([g[f] for g in groups.values()])) for f in asdict(DEFAULT_STUDY)}
    return {"replicates": len(pooled.replicates), "prompts": prompts, "median": median, "groups": groups}


def main(argv: list[str]) -> int:
    """``ROOT``: the components measured on a study; ``--rates N``: every null scenario's rates;
    ``--power EFFECT [REPLICATES ...]``: the rise's power at that effect; ``--mde [REPLICATES ...]``:
    each statistic's minimum detectable effect at 80% power."""
    parser = argparse.ArgumentParser(
        prog="python -m overopt.analysis.simulate", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "root", nargs="?", default=".", help="a finished study: print its variance components"
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--rates", type=int, nargs="?", const=1000, metavar="STUDIES", help="null rates")
    what.add_argument(
        "--power",
        type=float,
        nargs="+",
        metavar="EFFECT",
        help="the rise's power at EFFECT, for the replicate counts after it",
    )
    what.add_argument("--mde", type=int, nargs="*", metavar="R", help="minimum detectable effects")
    args = parser.parse_args(argv)
    if args.power is not None:  # EFFECT [REPLICATES ...]: the rise's power, 200 studies each
        effect, reps = args.power[0], [int(x) for x in args.power[1:]] or [REPLICATES]
        for r in reps:
            power = rise_power(DEFAULT_STUDY, effect, r, 200, 100, 0)
            print(f"rise {effect:+.3f}, {r} replicates: power {power:.3f}")
        return 0
    if args.mde is not None:  # [REPLICATES ...]: every statistic's effect at 80% power
        for r in args.mde or [REPLICATES]:
            for name, scenario in SCENARIOS.items():
                print(f"{name}, {r} replicates: {minimum_effect(scenario, DEFAULT_STUDY, r):.3f}", flush=True)
        return 0
    if args.rates is not None:
        for name, scenario in SCENARIOS.items():
            print(name, asdict(null_rates(scenario, DEFAULT_STUDY, args.rates, 100, 0)), flush=True)
        return 0
    print(json.dumps(measured(Path(args.root)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
