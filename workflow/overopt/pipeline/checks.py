"""Every check of a study config, run when the workflow builds its DAG, before any job.

The schema and the core cross-checks (``overopt.core.config``), then what only a stage's own code
can check: the loss types, the synthetic generator's options, and the judge's keys. Each error
names the config key.
"""

from __future__ import annotations

from typing import Any

from overopt.core import objectives
from overopt.core.config import ConfigError, check, validate_schema
from overopt.data import synthetic
from overopt.evaluate import judges
from overopt.train import trl_fields


def check_config(cfg: dict[str, Any]) -> None:
    """Raise ``ConfigError`` naming the first problem of ``cfg``."""
    validate_schema(cfg)
    check(cfg)
    try:
        objectives.check(cfg["objectives"])
        if cfg["task"]["type"] == "synthetic":
            synthetic.params_from_config(cfg)
        judges.check_config(cfg["judge"])
        for where, block in trl_fields.blocks(cfg):
            trl_fields.check(block, where)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    check_best_of_n(cfg)


def check_best_of_n(cfg: dict[str, Any]) -> None:
    """Best-of-n scores its samples with the exact gold reward too: the synthetic task's."""
    if "best_of_n" in cfg and cfg["task"]["type"] != "synthetic":
        raise ConfigError(
            "config key 'best_of_n': best-of-n needs the exact gold reward of the synthetic task "
            f"(task.type 'synthetic'), not task {cfg['task']['type']!r}: remove the key for this study"
        )
