"""Pilot gates: can a testbed design answer the paper's questions? Written before any pilot runs.

A design passes when all four gates pass on its pilot study (every replicate, every prompt):

1. **Room beyond sharpening.** At each size, the best checkpoint of ``objective`` (DPO), chosen held
   out (``overopt.analysis.selection``), beats the temperature envelope within its KL
   (``criteria.best_vs_envelope``: SFT at T = 1 down to greedy decoding) with its 95% CI above 0,
   at two thirds of the sizes at least (2 of 3).
2. **A negative control.** ``control`` (DPO on the same pairs with shuffled labels) does not beat the
   envelope at any size: its CI does not lie above 0 (what passes gate 1 is learnt from the
   preferences, not from training on the pairs' texts).
3. **Sizes that differ.** The SFT policies' mean gold reward rises with size: for every pair of
   adjacent sizes, the larger's minus the smaller's has its two-level CI above 0.
4. **A fall at every size.** At every size some run's last checkpoint lies past the size's peak:
   its sqrt(KL) (the smallest over replicates) is at least ``FALL_REACH`` times that of the size's
   peak, the DAA checkpoint with the highest mean win rate over replicates and prompts.

No gate is lowered after a pilot: a design that fails one is reported as failed, with its numbers.

``python -m overopt.analysis.gates ROOT [CONFIG] [OBJECTIVE] [CONTROL]`` judges the study under
``ROOT`` (its ``results/``; defaults ``config/config.yaml``, ``dpo`` and the config's first
objective with ``labels: shuffled``): it prints each gate with its numbers and exits 0 only when
all four pass.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from overopt.analysis import criteria as C
from overopt.analysis.findings.curves import checkpoint_runs, objective_checkpoints, temperature_curve
from overopt.analysis.per_prompt import Pooled
from overopt.analysis.two_level import Boot

ROOM_SHARE = 2 / 3  # gate 1: the share of sizes at which the objective must beat the envelope
FALL_REACH = 1.5  # gate 4: a last checkpoint's sqrt(KL) over the peak's


@dataclass(frozen=True)
class Gate:
    """One gate's result: whether it passed and the numbers it was decided on."""

    name: str
    passed: bool
    detail: tuple[str, ...]


def _cell(e: C.Estimate) -> str:
    return f"{e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}]"


def _by_size(found: dict[str, C.Estimate | None]) -> tuple[str, ...]:
    return tuple(f"{s}: {_cell(e) if e else 'not tested'}" for s, e in found.items())


def _beyond(p: Pooled, size: str, objective: str, boot: Boot) -> C.Estimate | None:
    if not len(p.rows(size, objective)) or not len(p.rows(size, "temperature")):
        return None
    win, d = objective_checkpoints(p, size, objective)
    return C.best_vs_envelope(win, d, *temperature_curve(p, size), boot)


def room(p: Pooled, sizes: list[str], objective: str, boot: Boot) -> Gate:
    """Gate 1."""
    found = {s: _beyond(p, s, objective, boot) for s in sizes}
    wins = sum(bool(e is not None and e.low > 0) for e in found.values())
    need = math.ceil(ROOM_SHARE * len(sizes) - 1e-9)
    return Gate(
        "room beyond sharpening", wins >= need, (*_by_size(found), f"{wins} of {len(sizes)} (needed {need})")
    )


def control(p: Pooled, sizes: list[str], objective: str, boot: Boot) -> Gate:
    """Gate 2 (fails if the control is missing: a gate is never passed untested)."""
    found = {s: _beyond(p, s, objective, boot) for s in sizes}
    tested = [e for e in found.values() if e is not None]
    passed = len(tested) == len(sizes) and not any(e.low > 0 for e in tested)
    return Gate("negative control", passed, _by_size(found))


def sizes_differ(p: Pooled, sizes: list[str], boot: Boot) -> Gate:
    """Gate 3."""
    gold = {s: p.stack(s, ["sft"], "gold")[..., 0] for s in sizes}
    detail, passed = [], len(sizes) > 1
    for small, large in itertools.pairwise(sizes):
        e = C.mean_of(gold[large] - gold[small], boot)
        passed &= e.low > 0
        detail.append(f"{large} - {small}: {_cell(e)}")
    return Gate("sizes that differ", bool(passed), tuple(detail))


def fall_everywhere(p: Pooled, sizes: list[str], objectives: list[str]) -> Gate:
    """Gate 4."""
    detail, passed = [], True
    for size in sizes:
        runs = [o for o in objectives if len(p.rows(size, o))]
        policies = [x for o in runs for x in p.policies(size, o)]
        if not policies:
            passed = False
            detail.append(f"{size}: no DAA run")
            continue
        win, d = p.stack(size, policies), p.sqrt_kl(size, policies)
        peak = int(np.argmax(win.mean(axis=(0, 1))))
        peak_d = float(d[:, peak].mean())
        lasts = [runs_[-1] for o in runs for runs_ in checkpoint_runs(p, size, o).values()]
        reach = float(p.sqrt_kl(size, lasts).min(axis=0).max())
        ok = reach >= FALL_REACH * peak_d
        passed &= ok
        detail.append(f"{size}: peak at sqrt(KL) {peak_d:.2f}, furthest last checkpoint {reach:.2f}")
    return Gate("a fall at every size", bool(passed), tuple(detail))


def evaluate(
    p: Pooled, sizes: list[str], objective: str, shuffled: str, objectives: list[str], boot: Boot
) -> list[Gate]:
    """The four gates of a pilot study, in order."""
    return [
        room(p, sizes, objective, boot),
        control(p, sizes, shuffled, boot),
        sizes_differ(p, sizes, boot),
        fall_everywhere(p, sizes, objectives),
    ]


def judge_study(root: Path, config: str, objective: str, shuffled: str | None) -> list[Gate]:
    """The gates of the study under ``root``, its bootstrap as its config's evaluation sets it
    (``shuffled`` None: the config's first shuffled-label control, if any)."""
    from overopt.analysis import per_prompt
    from overopt.analysis.tables import daa_objectives, objective_specs, size_order
    from overopt.core.config import load

    cfg = load(root / config)
    pooled = per_prompt.load_study(root)
    specs = objective_specs(cfg["objectives"])
    objectives = daa_objectives(pooled.ev, specs)
    if shuffled is None:
        shuffled = next((name for name, o in specs.items() if o.control), "no shuffled-label control")
    ev = cfg["evaluation"]
    boot = (int(ev["bootstrap"]), float(ev["ci"]), int(ev["seed"]))
    return evaluate(pooled, size_order(pooled.ev), objective, shuffled, objectives, boot)


def main(argv: list[str]) -> int:
    """Print every gate of a study; 0 when all pass, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m overopt.analysis.gates", description=__doc__.splitlines()[0]
    )
    parser.add_argument("root", nargs="?", default=".", help="the study's directory (its results/)")
    parser.add_argument("config", nargs="?", default="config/config.yaml", help="its config, under ROOT")
    parser.add_argument("objective", nargs="?", default="dpo", help="the objective gate 1 judges")
    parser.add_argument("control", nargs="?", help="the shuffled-label control (default: the config's)")
    args = parser.parse_args(argv)
    found = judge_study(Path(args.root), args.config, args.objective, args.control)
    for g in found:
        print(f"{'PASS' if g.passed else 'FAIL'}  {g.name}")
        print("\n".join(f"      {line}" for line in g.detail))
    return 0 if all(g.passed for g in found) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
