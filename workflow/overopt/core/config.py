"""The study configuration: the JSON schema, the cross-checks it cannot express, small derivations.

Checks that need a later stage's code (the synthetic generator's options, a judge's keys) run in
``overopt.pipeline.checks``, which the workflow calls before it builds the DAG.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")  # owner/name
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
# the SFT quality gate's sample settings: its own (sft.quality_gate) where given, else the evaluation's
GATE_SAMPLE = ("n_prompts", "temperature", "max_new_tokens", "batch_size", "seed")


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
    if rule in ("oneOf", "anyOf") and err.context:
        options = "; or ".join(dict.fromkeys(sub.message for sub in err.context))
        return f"config key '{key}': needs one of the allowed forms: {options}"
    if rule == "additionalProperties":
        return f"config key '{key}': {err.message} (unknown key; check spelling)"
    return f"config key '{key}': {err.message}"


RENAMED = {("toy_mdp", "lr"): "learning_rate"}  # (section, old key) -> the key it is now


def check_renamed(cfg: Mapping[str, Any]) -> None:
    """A key that was renamed is an error naming its new name (not silently ignored or unknown)."""
    for (section, old), new in RENAMED.items():
        if old in (cfg.get(section) or {}):
            raise ConfigError(
                f"config key '{section}.{old}' was renamed: write '{section}.{new}' "
                "(same meaning, same value)"
            )


def check(cfg: dict[str, Any]) -> None:
    """Cross-field checks the schema cannot express."""
    check_renamed(cfg)
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
    for size in cfg["models"]:
        for group in ("sft", "daa"):
            if "gradient_accumulation_steps" in run_options(cfg, group, size):
                raise ConfigError(
                    f"config key '{group}.gradient_accumulation_steps': not an option; set "
                    f"{group}.batch_size (the examples per optimizer step) and per_device_batch_size "
                    "(the accumulation follows)"
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
    for size, m in cfg["models"].items():
        hub_id = m.get("hub_id")
        if hub_id and not (HUB_ID.match(hub_id) or Path(hub_id).is_dir()):
            raise ConfigError(
                f"config key 'models.{size}.hub_id': {hub_id!r} is neither a Hub id (owner/name) nor a "
                "local model directory"
            )
    for split, spec in cfg["task"].get("hub", {}).items():
        data_id = spec.get("id")
        if data_id and not (HUB_ID.match(data_id) or Path(data_id).is_dir()):
            raise ConfigError(
                f"config key 'task.hub.{split}.id': {data_id!r} is neither a Hub dataset id (owner/name) "
                "nor a local dataset directory"
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
    for size in cfg.get("candidates", {}).get("sizes", []):
        if size not in sizes:
            raise ConfigError(
                f"config key 'candidates.sizes': unknown model size {size!r}; "
                f"allowed: {', '.join(sorted(sizes))}"
            )


def config_hash(cfg: dict[str, Any]) -> str:
    """A short, stable hash of the whole config."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]


def fmt_beta(beta: float) -> str:
    """The beta as written in paths: shortest round-trip form (0.01, 0.0175, 1)."""
    return f"{float(beta):g}" if float(f"{float(beta):g}") == float(beta) else repr(float(beta))


RUN_OVERRIDES = ("learning_rate",)  # objective keys that override the DAA's training options


def run_options(
    cfg: Mapping[str, Any], section: str, size: str, objective: str | None = None
) -> dict[str, Any]:
    """A run's training options: ``section`` (``sft``, ``daa``, ``reward_model``), then the size's own
    ``models.<size>.<section>``, then, for a DAA run of ``objective``, the objective's own
    ``learning_rate`` (an arm: one rate at every size); ``trl`` blocks (further DPOConfig fields)
    merge field by field in the same order. The one place this order is written: training,
    the reference log-probs, the evaluations table, the analysis and the benchmarks all read it here.
    """
    general, own_size = cfg.get(section, {}), cfg["models"][size].get(section, {})
    out = {**general, **own_size}
    trl = {**general.get("trl", {}), **own_size.get("trl", {})}  # further DPOConfig fields, merged
    if section == "daa" and objective is not None:
        own = cfg["objectives"][objective]
        out.update({k: own[k] for k in RUN_OVERRIDES if own.get(k) is not None})
        trl.update(own.get("trl", {}))
    if trl:
        out["trl"] = trl
    return out


def learning_rates(cfg: Mapping[str, Any]) -> dict[tuple[str, str], float]:
    """The DAA learning rate of every (size, objective) run the config defines (``run_options``)."""
    out = {}
    for name in cfg["objectives"]:
        for size in objective_sizes(cfg, name):
            rate = run_options(cfg, "daa", size, name).get("learning_rate")
            if rate is not None:
                out[(str(size), name)] = float(rate)
    return out


def objective_sizes(cfg: Mapping[str, Any], objective: str) -> list[str]:
    """Sizes an objective runs at (all unless it lists ``sizes``)."""
    return list(cfg["objectives"][objective].get("sizes", cfg["models"]))


def candidate_sizes(cfg: dict[str, Any]) -> list[str]:
    """Sizes whose SFT policies sample the preference candidates (``candidates.sizes``, else all)."""
    return list(cfg.get("candidates", {}).get("sizes") or cfg["models"])
