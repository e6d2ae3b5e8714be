"""Provenance manifests: what produced an artifact (config hash, seed, threads, commit, this workflow's
version and the packages')."""

from __future__ import annotations

import functools
import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from overopt import __version__
from overopt.core.config import config_hash
from overopt.core.io import write_json
from overopt.core.numerics import describe as cpu_paths

PACKAGES = (
    "torch",
    "transformers",
    "trl",
    "datasets",
    "tokenizers",
    "snakemake",
    "numpy",
    "matplotlib",
    "dvc",
)


@functools.cache
def versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


REPO = Path(__file__).resolve().parents[3]


@functools.cache
def git_commit() -> str:
    """HEAD of the repository this code comes from, ``+dirty`` if it has local changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def manifest_path(target: str | os.PathLike) -> Path:
    """Where an artifact's manifest lives: inside a directory, beside a file."""
    target = Path(target)
    return (
        target / "provenance.json" if target.is_dir() else target.with_name(target.name + ".provenance.json")
    )


def manifest(
    cfg: dict[str, Any],
    *,
    rule: str,
    seed: int | None,
    threads: int,
    wildcards: dict[str, str],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest's content."""
    return {
        "rule": rule,
        "wildcards": dict(wildcards),
        "config_hash": config_hash(cfg),
        "seed": seed,
        "config_seed": cfg.get("seed"),
        "threads": threads,
        "git_commit": git_commit(),
        "overopt_version": __version__,
        "versions": versions(),
        "cpu_paths": cpu_paths(),
        **({"extra": extra} if extra else {}),
    }


def write_manifest(
    target: str | os.PathLike, snakemake: Any, *, seed: int | None = None, extra: dict[str, Any] | None = None
) -> Path:
    """Write the manifest of ``target`` produced by the running Snakemake job ``snakemake``."""
    path = manifest_path(target)
    write_json(
        path,
        manifest(
            snakemake.config,
            rule=snakemake.rule,
            seed=seed,
            threads=int(snakemake.threads),
            wildcards=dict(snakemake.wildcards),
            extra=extra,
        ),
    )
    return path


def collect_manifests(root: str | os.PathLike, exclude: str | os.PathLike | None = None) -> Any:
    """Every manifest under ``root`` but ``exclude`` as one table (artifact, rule, config hash, seed,
    commit, versions)."""
    import json

    import pandas as pd

    rows = []
    for path in sorted(Path(root).rglob("*provenance.json")):
        if exclude is not None and path.resolve() == Path(exclude).resolve():
            continue
        m = json.loads(path.read_text(encoding="utf-8"))
        artifact = (
            path.parent
            if path.name == "provenance.json"
            else path.with_name(path.name[: -len(".provenance.json")])
        )
        rows.append(
            {
                "artifact": str(artifact),
                "rule": m.get("rule"),
                "wildcards": json.dumps(m.get("wildcards", {}), sort_keys=True),
                "config_hash": m.get("config_hash"),
                "seed": m.get("seed"),
                "threads": m.get("threads"),
                "git_commit": m.get("git_commit"),
                "version_overopt": m.get("overopt_version"),
                **{f"version_{k}": v for k, v in sorted(m.get("versions", {}).items())},
            }
        )
    return pd.DataFrame(rows)
