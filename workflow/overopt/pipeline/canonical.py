"""Config values in one canonical form, and the key a resumable training state belongs to.

Apart from ``overopt.pipeline.settings`` (which declares what every rule reads) so that a job that
checks its resumable state imports neither the rule table nor the code walker: a rule added to
the workflow does not change the code of the jobs already run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical(value: Any) -> Any:
    """Plain dicts and lists, recursively, in the config's order: the order of sizes, objectives or
    samplers carries meaning (config order is size order), so it is part of the settings."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def settings_hash(settings_value: Mapping[str, Any], code: str) -> str:
    """One hash of a job's settings and code (what a resumable state must belong to)."""
    text = json.dumps({"settings": canonical(settings_value), "code": code}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
