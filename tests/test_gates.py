"""The pilot gates (``overopt.analysis.gates``) on simulated pilot studies whose truth is planted:
each gate passes where its effect is planted and fails where it is not."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from overopt.analysis import gates
from overopt.analysis.per_prompt import Pooled

SIZES = ["s", "m", "l"]
D = np.array([0.3, 0.6, 1.0, 1.5, 2.2])  # a run's checkpoints
TEMPS = {"T-0.5": 0.4, "T-0": 0.9}  # temperature policies and their sqrt(KL)
BOOT = (100, 0.95, 3)


def pilot(
    dpo_gain: float, control_gain: float, gold_step: float, reach: float = 1.0, seed: int = 0
) -> Pooled:
    """Three replicates of 400 prompts: temperature level with SFT; DPO's checkpoints gain
    ``dpo_gain`` at the middle one (a hump), the shuffled control ``control_gain``; SFT's gold reward
    rises by ``gold_step`` per size; the checkpoints' sqrt(KL) are ``D``."""
    rng = np.random.default_rng(seed)
    n, rows, values = 400, [], {}
    effect = rng.normal(0, 0.15, n)
    hump = np.array([0.4, 0.8, 1.0, 0.5, 0.0])

    def add(
        r: int, size: str, objective: str, policy: str, d: float, mean: float, gold: float, **info
    ) -> None:
        values[(r, size, policy, "win")] = mean + effect + rng.normal(0, 0.2, n)
        values[(r, size, policy, "kl")] = np.full(n, d * d)
        values[(r, size, policy, "gold")] = gold + rng.normal(0, 0.3, n)
        for f in ("len", "logratio"):
            values[(r, size, policy, f)] = np.zeros(n)
        rows.append({"replicate": r, "model_size": size, "objective": objective, "policy": policy,
                     "sqrt_kl": d, "beta": info.get("beta", np.nan), "step": info.get("step", 0),
                     "temperature": info.get("temperature", 1.0), "judge": "gold"})  # fmt: skip

    for r in range(3):
        for i, size in enumerate(SIZES):
            add(r, size, "sft", "sft", 0.0, 0.4, gold_step * i)
            for name, d in TEMPS.items():
                t = float(name.removeprefix("T-"))
                add(r, size, "temperature", f"temperature/{name}", d, 0.4, 0.0, temperature=t)
            for objective, gain in (("dpo", dpo_gain), ("dpo_shuffled", control_gain)):
                for k, d in enumerate(D):
                    policy = f"{objective}/beta-0.1/step-{k + 1}"
                    add(r, size, objective, policy, float(d), 0.4 + gain * hump[k], 0.0, beta=0.1, step=k + 1)
    return Pooled(pd.DataFrame(rows), values)


def decide(p: Pooled) -> list[bool]:
    return [g.passed for g in gates.evaluate(p, SIZES, "dpo", "dpo_shuffled", ["dpo"], BOOT)]


def test_a_design_with_every_effect_passes_every_gate() -> None:
    assert decide(pilot(dpo_gain=0.15, control_gain=0.0, gold_step=0.3)) == [True, True, True, True]


def test_each_gate_fails_without_its_effect() -> None:
    assert decide(pilot(dpo_gain=0.0, control_gain=0.0, gold_step=0.3))[0] is False  # no room
    assert decide(pilot(dpo_gain=0.15, control_gain=0.15, gold_step=0.3))[1] is False  # control learns
    assert decide(pilot(dpo_gain=0.15, control_gain=0.0, gold_step=0.0))[2] is False  # sizes alike
    # the peak at d = 1.0 and the last checkpoint at 2.2 pass (2.2 >= 1.5); a run stopped at its
    # peak's neighbourhood does not: the same checkpoints with the hump's peak at the end
    late = pilot(dpo_gain=0.15, control_gain=0.0, gold_step=0.3)
    for key in [k for k in late.values if k[2] == "dpo/beta-0.1/step-5" and k[3] == "win"]:
        late.values[key] = late.values[key] + 0.3
    assert decide(late)[3] is False


def test_a_missing_control_is_a_failed_gate_not_a_pass() -> None:
    p = pilot(dpo_gain=0.15, control_gain=0.0, gold_step=0.3)
    gate = gates.control(p, SIZES, "no_such_arm", BOOT)
    assert gate.passed is False and all("not tested" in line for line in gate.detail)


def test_the_gates_judge_a_finished_study(smoke_dir, capsys) -> None:
    """``python -m overopt.analysis.gates``: every gate printed with its numbers; the smoke study has
    no shuffled-label arm, so the control is a failed gate and the command exits 1."""
    from conftest import SMOKE

    assert gates.main([str(smoke_dir), str(SMOKE)]) == 1
    out = capsys.readouterr().out
    for name in ("room beyond sharpening", "negative control", "sizes that differ", "a fall at every size"):
        assert re.search(rf"^(PASS|FAIL)  {name}$", out, re.M), out
    assert re.search(r"^FAIL  negative control$", out, re.M) and "not tested" in out


def test_a_shuffled_label_control_is_not_one_of_the_studys_objectives() -> None:
    """``labels: shuffled`` makes an objective a negative control: the findings and figures leave
    it out (``daa_objectives``), the gates find it (``control_objectives``), and a length-regularised
    objective never takes it as the objective it regularises."""
    from overopt.analysis.tables import control_objectives, daa_objectives, objective_specs
    from overopt.core import objectives as O

    cfg = {
        "dpo_shuffled": {"loss_type": "sigmoid", "labels": "shuffled", "betas": [0.1]},
        "dpo": {"loss_type": "sigmoid", "betas": [0.1]},
        "rdpo": {"loss_type": "sigmoid", "length_alpha": 0.1, "betas": [0.1]},
    }
    specs = objective_specs(cfg)
    ev = pd.DataFrame({"objective": ["sft", "dpo", "dpo_shuffled", "rdpo"]})
    assert daa_objectives(ev, specs) == ["dpo", "rdpo"]
    assert control_objectives(ev, specs) == ["dpo_shuffled"]
    assert O.baseline("rdpo", specs) == "dpo" and specs["dpo_shuffled"].control and not specs["dpo"].control
