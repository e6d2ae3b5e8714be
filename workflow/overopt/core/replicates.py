"""Replicates: the study drawn again with new seeds, everything after the posts and gold reward.

A replicate redraws every seed a job reads: SFT initialisation and data order, candidate sampling,
preference-label noise, DAA data order (each job's seed derives from the config ``seed``), and the
evaluation's and best-of-n's sampling (``evaluation.seed``, ``best_of_n.seed``). The synthetic posts,
the gold reward, the tokenizer and the SFT quality gate's own sample are shared by every replicate.

Replicate 0 is the study as configured, with its files where a study without replicates has them;
replicate k >= 1 nests its files one level down in each results folder, e.g.
``results/models/replicate-1/s/sft``. The ``rep`` wildcard of the rules is that level:
``""`` for replicate 0, ``"replicate-<k>/"`` otherwise. So setting ``replicates: 3`` on a finished
one-replicate study adds replicates 1 and 2 and reruns nothing of replicate 0.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overopt.core.runtime import derive_seed

WILDCARD = r"(replicate-[1-9][0-9]*/)?"  # the rules' `rep` wildcard
_PART = re.compile(r"^replicate-([1-9][0-9]*)$")
SEEDS = (("seed",), ("evaluation", "seed"), ("best_of_n", "seed"))  # what a replicate redraws


def count(cfg: Mapping[str, Any]) -> int:
    """How many replicates the study has (``replicates``, default 1)."""
    return int(cfg.get("replicates", 1))


def prefix(replicate: int) -> str:
    """The ``rep`` wildcard's value: the path level of ``replicate`` (empty for replicate 0)."""
    if replicate < 0:
        raise ValueError(f"replicate {replicate}: must be 0 or more")
    return f"replicate-{replicate}/" if replicate else ""


def number(rep: str) -> int:
    """The replicate of a ``rep`` wildcard value (``""`` -> 0, ``"replicate-2/"`` -> 2)."""
    if not rep:
        return 0
    match = _PART.match(rep.rstrip("/"))
    if not match:
        raise ValueError(f"{rep!r} is not a replicate path level (replicate-<k>/)")
    return int(match.group(1))


def of_path(path: str | Path) -> int:
    """The replicate a results file belongs to: its ``replicate-<k>`` path level, else 0."""
    found = [int(m.group(1)) for part in Path(path).parts if (m := _PART.match(part))]
    if len(found) > 1:
        raise ValueError(f"{path}: more than one replicate level")
    return found[0] if found else 0


def config(cfg: Mapping[str, Any], replicate: int) -> dict[str, Any]:
    """``cfg`` as replicate ``replicate`` sees it: each seed of ``SEEDS`` derived anew (k >= 1)."""
    out = copy.deepcopy(dict(cfg))
    if replicate == 0:
        return out
    for path in SEEDS:
        node = out
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            node[path[-1]] = derive_seed(int(node[path[-1]]), "replicate", replicate)
    return out
