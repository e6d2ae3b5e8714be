"""The objective registry: every loss type a config may name, and what each stage needs of it.

An objective of the config (``objectives.<name>``) names a ``loss_type`` and may add R-DPO's
length margin ``length_alpha``. A loss type is either

- one of TRL's ``DPOTrainer`` loss types (``trl=True``), registered below: TRL computes the loss; or
- a custom loss (``trl=False``): a function ``(beta, margin) -> per-pair loss`` registered with
  ``@custom_loss("<name>")`` in its own module ``overopt/core/losses/<name>.py``, which the DAA
  trainer applies to the summed margin h (``overopt.train.daa``). It is imported by name when a
  run uses it, so only the runs that use it depend on its file (``custom_loss_file``).

The margin is h = [log pi(y_w) - log ref(y_w)] - [log pi(y_l) - log ref(y_l)], summed over the
completion's tokens. ``formula`` is the per-pair loss on a given margin: TRL's own formula for
sigmoid / ipo / hinge (code that trains without TRL uses it: the toy tree MDP, the benchmark's
hand-written step; a test checks it against TRL), the loss itself for a custom one. IPO's
formula takes the margin as given: TRL divides each log-ratio by its completion's token count
first (``ipo_margin``).

What the analysis knows of an objective comes from its config through ``specs``, never from its
name: its ``family`` (the loss type's, e.g. ``ipo``), and whether it is length-regularised
(``length_alpha`` > 0), with the objective it regularises (same loss type, no length margin) as
its baseline.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overopt.core.registry import Registry

Formula = Callable[[float, Any], Any]  # (beta, margin tensor) -> per-pair loss tensor


@dataclass(frozen=True)
class LossType:
    """A registered loss type: who computes it, its per-pair formula, and its family."""

    name: str
    trl: bool
    formula: Formula | None
    family: str


LOSSES: Registry[LossType] = Registry("loss_type")


def trl_loss(name: str, family: str | None = None, formula: Formula | None = None) -> None:
    """Register one of TRL's ``DPOTrainer`` loss types."""
    LOSSES.add(name, LossType(name, True, formula, family or name))


def custom_loss(name: str, family: str | None = None) -> Callable[[Formula], Formula]:
    """Decorator: register ``(beta, margin) -> per-pair loss`` as the custom loss type ``name``."""

    def add(fn: Formula) -> Formula:
        LOSSES.add(name, LossType(name, False, fn, family or name))
        return fn

    return add


def _sigmoid(beta: float, margin: Any) -> Any:  # DPO: -log sigmoid(beta h)
    import torch.nn.functional as F

    return -F.logsigmoid(beta * margin)


def _ipo(beta: float, margin: Any) -> Any:  # IPO, Azar et al. eq. 17: (h - 1/(2 beta))^2
    return (margin - 1.0 / (2.0 * beta)) ** 2


def _hinge(beta: float, margin: Any) -> Any:  # SLiC: max(0, 1 - beta h)
    import torch

    return torch.relu(1.0 - beta * margin)


# The three objectives of the paper first: their order is the order of tables and figures.
trl_loss("sigmoid", "dpo", _sigmoid)
trl_loss("ipo", "ipo", _ipo)
trl_loss("hinge", "slic", _hinge)
for _name in (
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sigmoid_norm",
):
    trl_loss(_name)

CUSTOM = Path(__file__).resolve().parent / "losses"  # one module per custom loss type


def custom_loss_file(name: str) -> Path | None:
    """The module of custom loss type ``name``, or None for TRL's loss types."""
    path = CUSTOM / f"{name}.py"
    return path if name not in LOSSES and path.is_file() else None


def known(name: str) -> bool:
    """``name`` is a TRL loss type or has a custom loss module."""
    return name in LOSSES or custom_loss_file(name) is not None


def loss_type(name: str) -> LossType:
    """The registered loss type ``name``, importing its custom module first if it has one."""
    if name not in LOSSES and custom_loss_file(name) is not None:
        importlib.import_module(f"overopt.core.losses.{name}")
    if name not in LOSSES:
        raise ValueError(f"loss type {name!r} is not registered; allowed: {', '.join(allowed())}")
    return LOSSES.get(name)


def allowed() -> list[str]:
    """TRL's loss types, then the custom ones (by module name)."""
    return [*LOSSES.names(), *sorted(p.stem for p in CUSTOM.glob("*.py") if p.stem != "__init__")]


def daa_loss(loss_type_name: str, beta: float, margin: Any) -> Any:
    """Per-pair loss of a loss type at ``beta`` on the margin ``margin``."""
    spec = loss_type(loss_type_name) if known(loss_type_name) else None
    if spec is None or spec.formula is None:
        with_formula = ", ".join(e.name for e in LOSSES if e.obj.formula is not None)
        raise ValueError(
            f"loss_type {loss_type_name!r} has no standalone definition; allowed: {with_formula}"
        )
    return spec.formula(beta, margin)


def ipo_margin(chosen_logratio: Any, rejected_logratio: Any, chosen_tokens: Any, rejected_tokens: Any) -> Any:
    """TRL's IPO margin: each summed log-ratio averaged over its completion tokens."""
    return chosen_logratio / chosen_tokens.clamp(min=1) - rejected_logratio / rejected_tokens.clamp(min=1)


# ----- objectives of a config --------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    """One configured objective as the analysis sees it."""

    name: str
    loss_type: str
    length_alpha: float = 0.0
    learning_rate: float | None = None  # its own DAA rate at every size, else each size's
    labels: str = "given"  # "shuffled": a negative control (overopt.train.daa.shuffle_labels)

    @property
    def control(self) -> bool:
        """A negative control: trained on the pairs with their labels shuffled. Not one of the
        study's DAA objectives (the findings and figures leave it out); the pilot gates and the
        sharpening comparison set it beside them."""
        return self.labels == "shuffled"

    @property
    def arm(self) -> bool:
        """An arm: one learning rate at every size (finding 3 compares it with the sizes' own rates)."""
        return self.learning_rate is not None

    @property
    def family(self) -> str:
        """The loss type's family: ``dpo``, ``ipo``, ``slic`` or the loss type's own name."""
        return LOSSES.get(self.loss_type).family if self.loss_type in LOSSES else self.loss_type

    @property
    def length_regularised(self) -> bool:
        """R-DPO-style: a length margin alpha (|y_w| - |y_l|) is added to the loss's beta h."""
        return self.length_alpha > 0


Specs = Mapping[str, Objective]


def specs(cfg_objectives: Mapping[str, Mapping[str, Any]]) -> dict[str, Objective]:
    """The config's ``objectives`` section as ``Objective`` s, in config order."""
    return {
        name: Objective(
            name,
            str(o["loss_type"]),
            float(o.get("length_alpha") or 0.0),
            None if o.get("learning_rate") is None else float(o["learning_rate"]),
            str(o.get("labels") or "given"),
        )
        for name, o in cfg_objectives.items()
    }


def order(names: Iterable[str], objectives: Specs) -> list[str]:
    """The paper's objectives first (by loss type: sigmoid, ipo, hinge), then the others by name."""
    rank = {name: i for i, name in enumerate(LOSSES.names()[:3])}
    known = [n for n in names if n in objectives]
    head = sorted(
        (n for n in known if objectives[n].loss_type in rank and not objectives[n].length_regularised),
        key=lambda n: (rank[objectives[n].loss_type], n),
    )
    return head + sorted(set(known) - set(head))


def baseline(name: str, objectives: Specs) -> str | None:
    """The objective a length-regularised one regularises: same loss type, no length margin."""
    lr = objectives[name]
    same = [
        o.name
        for o in objectives.values()
        if o.loss_type == lr.loss_type and not o.length_regularised and not o.control
    ]
    return order(same, objectives)[0] if same else None


def check(cfg_objectives: Mapping[str, Mapping[str, Any]]) -> None:
    """Every objective names a registered loss type (``ValueError`` naming the key otherwise)."""
    for name, o in cfg_objectives.items():
        if not known(str(o.get("loss_type"))):
            raise ValueError(
                f"config key 'objectives.{name}.loss_type': {o.get('loss_type')!r} is not a registered "
                f"loss type; allowed: {', '.join(allowed())}"
            )
