"""The study configuration: checks beyond the JSON schema, and what the rules derive from it."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .data_prep import synthetic_params

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem, named by its key."""


def load(path: str | Path) -> dict[str, Any]:
    """Read a config file, validate it against the schema and the cross-checks, fill defaults."""
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    validate_schema(cfg)
    check(cfg)
    return cfg


def validate_schema(cfg: dict[str, Any]) -> None:
    """JSON-schema validation with messages that name the key and what is allowed."""
    import jsonschema

    with open(SCHEMA, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(describe(e) for e in errors))


def describe(err: Any) -> str:
    """One line naming the config key and the violated rule."""
    key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    rule = err.validator
    if rule == "enum":
        allowed = ", ".join(map(str, err.validator_value))
        return f"config key '{key}': {err.instance!r} is not allowed; allowed: {allowed}"
    if rule == "required":
        return f"config key '{key}': {err.message}"
    if rule == "additionalProperties":
        return f"config key '{key}': {err.message} (unknown key; check spelling)"
    return f"config key '{key}': {err.message}"


def check(cfg: dict[str, Any]) -> None:
    """Cross-field checks the schema cannot express."""
    sizes = set(cfg["models"])
    for name, obj in cfg["objectives"].items():
        for size in obj.get("sizes", []):
            if size not in sizes:
                raise ConfigError(
                    f"config key 'objectives.{name}.sizes': unknown model size {size!r}; "
                    f"allowed: {', '.join(sorted(sizes))}"
                )
        if obj.get("length_alpha") and obj["loss_type"] != "sigmoid":
            raise ConfigError(
                f"config key 'objectives.{name}.length_alpha': the R-DPO length margin needs loss_type "
                f"'sigmoid', not {obj['loss_type']!r}"
            )
    synthetic = cfg["task"]["type"] == "synthetic"
    for size, m in cfg["models"].items():
        if synthetic and "architecture" not in m:
            raise ConfigError(
                f"config key 'models.{size}': the synthetic task trains its own tokenizer, so every size "
                "needs an 'architecture' (a Hub model's vocabulary would not match)"
            )
    shared = {"batch_size", "epochs", "checkpoints"}
    for size, m in cfg["models"].items():
        fixed = shared & set(m.get("daa", {}))
        if fixed:
            raise ConfigError(
                f"config key 'models.{size}.daa.{sorted(fixed)[0]}': set it under 'daa' for every size: "
                "every size trains on the same pairs with the same checkpoints "
                "(use per_device_batch_size per size)"
            )
    if cfg["judge"]["type"] == "gold" and not synthetic:
        raise ConfigError("config key 'judge.type': the gold judge exists only for task.type 'synthetic'")
    if synthetic and "pairs_per_post" not in cfg.get("preferences", {}):
        raise ConfigError("config key 'preferences.pairs_per_post': required for the synthetic task")
    if not synthetic and "n_train_pairs" not in cfg.get("preferences", {}):
        raise ConfigError(
            "config key 'preferences.n_train_pairs': required for task.type 'hub' "
            "(it fixes the DAA steps upfront)"
        )
    if synthetic and "candidates" not in cfg:
        raise ConfigError("config key 'candidates': required for the synthetic task")
    if synthetic:
        try:
            synthetic_params(cfg)
        except ValueError as err:
            raise ConfigError(str(err)) from None


def config_hash(cfg: dict[str, Any]) -> str:
    """A short, stable hash of the whole config."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]


def fmt_beta(beta: float) -> str:
    """The beta as written in paths: shortest round-trip form (0.01, 0.0175, 1)."""
    return f"{float(beta):g}" if float(f"{float(beta):g}") == float(beta) else repr(float(beta))


def merged(cfg: dict[str, Any], section: str, size: str) -> dict[str, Any]:
    """Options of ``sft`` or ``daa``, with the size's own overrides applied."""
    return {**cfg.get(section, {}), **cfg["models"][size].get(section, {})}


def objective_sizes(cfg: dict[str, Any], objective: str) -> list[str]:
    """Sizes an objective runs at (all unless it lists ``sizes``)."""
    return list(cfg["objectives"][objective].get("sizes", cfg["models"]))


@dataclass(frozen=True)
class Run:
    """One DAA run."""

    size: str
    objective: str
    beta: str

    @property
    def path(self) -> str:
        return f"{self.size}/{self.objective}/beta-{self.beta}"


def runs(cfg: dict[str, Any]) -> list[Run]:
    """Every (size, objective, beta) of the sweep, in config order."""
    return [
        Run(size, name, fmt_beta(beta))
        for name, obj in cfg["objectives"].items()
        for size in objective_sizes(cfg, name)
        for beta in obj["betas"]
    ]


def n_train_pairs(cfg: dict[str, Any]) -> int:
    """Preference pairs one DAA epoch goes through (fixed by config so the DAG is known upfront)."""
    if cfg["task"]["type"] == "synthetic":
        return int(cfg["task"]["synthetic"]["n_pref_posts"]) * int(cfg["preferences"]["pairs_per_post"])
    return int(cfg["preferences"]["n_train_pairs"])


def steps_per_epoch(cfg: dict[str, Any], size: str) -> int:
    """Optimizer steps in one pass over the preference pairs."""
    opts = merged(cfg, "daa", size)
    per_step = int(opts["batch_size"]) * int(opts.get("gradient_accumulation_steps", 1))
    return math.ceil(n_train_pairs(cfg) / per_step)


def total_steps(cfg: dict[str, Any], size: str) -> int:
    """Optimizer steps of a DAA run."""
    return steps_per_epoch(cfg, size) * int(merged(cfg, "daa", size).get("epochs", 1))


def checkpoint_steps(cfg: dict[str, Any], size: str) -> list[int]:
    """Evenly spaced checkpoint steps, the last one the final step."""
    total = total_steps(cfg, size)
    k = int(merged(cfg, "daa", size).get("checkpoints", 5))
    return sorted({max(1, round(total * i / k)) for i in range(1, k + 1)})


def checkpoint_name(step: int, steps_per_epoch: int) -> str:
    """``step-00050_ep-0.200``: the optimizer step and the epochs it corresponds to."""
    return f"step-{step:05d}_ep-{step / steps_per_epoch:.3f}"


def checkpoint_names(cfg: dict[str, Any], size: str) -> list[str]:
    """Directory names of a run's checkpoints."""
    spe = steps_per_epoch(cfg, size)
    return [checkpoint_name(s, spe) for s in checkpoint_steps(cfg, size)]


def parse_checkpoint(name: str) -> tuple[int, float]:
    """(step, epoch fraction) from a checkpoint directory name."""
    step, frac = name.split("_")
    return int(step.removeprefix("step-")), float(frac.removeprefix("ep-"))


def policies(cfg: dict[str, Any]) -> list[tuple[str, str]]:
    """(size, policy) of every evaluated policy: SFT, temperature-sharpened SFT, every DAA checkpoint."""
    out: list[tuple[str, str]] = []
    temps = [fmt_beta(t) for t in cfg["evaluation"].get("temperatures", [])]
    for size in cfg["models"]:
        out.append((size, "sft"))
        out.extend((size, f"temperature/T-{t}") for t in temps)
    for run in runs(cfg):
        out.extend(
            (run.size, f"{run.objective}/beta-{run.beta}/{c}") for c in checkpoint_names(cfg, run.size)
        )
    return out


def policy_info(cfg: dict[str, Any], size: str, policy: str) -> dict[str, Any]:
    """Table fields of a policy path: objective, beta, step, epoch fraction, sampling temperature."""
    temperature = float(cfg["evaluation"]["temperature"])
    if policy == "sft":
        return {
            "model_size": size,
            "objective": "sft",
            "beta": None,
            "step": 0,
            "epoch_fraction": 0.0,
            "temperature": temperature,
            "policy": policy,
        }
    if policy.startswith("temperature/"):
        return {
            "model_size": size,
            "objective": "temperature",
            "beta": None,
            "step": 0,
            "epoch_fraction": 0.0,
            "temperature": float(policy.removeprefix("temperature/T-")),
            "policy": policy,
        }
    objective, beta, ckpt = policy.split("/")
    step, frac = parse_checkpoint(ckpt)
    return {
        "model_size": size,
        "objective": objective,
        "beta": float(beta.removeprefix("beta-")),
        "step": step,
        "epoch_fraction": frac,
        "temperature": temperature,
        "policy": policy,
    }
