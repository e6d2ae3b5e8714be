"""``docs/results/``: the default study's record to read without running it.

The findings, every figure (PNG) and the evaluations, pooled, fits and reward-model tables are
copied from the run that made the record (``digests/config.json``), under the same relative paths
as in ``results/``. ``check`` compares every copied file's SHA-256 with the record's, so the pages
cannot drift from it: a rerun that changes the record must copy them again.

``python -m overopt.pipeline.docs_results [--root DIR]`` copies from a finished default study
(``make docs-results``); ``--check`` only compares (exit 1 on a difference).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from overopt.pipeline.verify import RECORDS, REPO

DEST = REPO / "docs" / "results"
RECORD = RECORDS / "config.json"
TABLES = ("evaluations", "pooled", "fits", "reward_models")


def wanted(artifacts: dict[str, str]) -> list[str]:
    """The record's artifacts that docs/results holds, as paths under ``results/``."""
    keep = {"findings.md", *(f"tables/{t}.csv" for t in TABLES)}
    out = []
    for path in artifacts:
        rel = path.removeprefix("results/")
        if rel in keep or (rel.startswith("figures/") and rel.endswith(".png")):
            out.append(rel)
    return sorted(out)


def copy(root: Path, dest: Path = DEST, record: Path = RECORD) -> list[str]:
    """Copy the wanted files of the study under ``root`` into ``dest`` (replacing what is there)."""
    artifacts = json.loads(record.read_text(encoding="utf-8"))["artifacts"]
    files = wanted(artifacts)
    if dest.exists():
        shutil.rmtree(dest)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / "results" / rel, target)
    return files


def check(dest: Path = DEST, record: Path = RECORD) -> list[str]:
    """What differs between ``dest`` and the record: missing, changed or extra files (empty: none)."""
    artifacts = json.loads(record.read_text(encoding="utf-8"))["artifacts"]
    problems = []
    files = wanted(artifacts)
    if not files:
        return [f"{record.name} records none of the files docs/results holds"]
    for rel in files:
        path = dest / rel
        if not path.exists():
            problems.append(f"missing: {rel}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != artifacts[f"results/{rel}"]:
            problems.append(f"differs from the record: {rel}")
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        if path.relative_to(dest).as_posix() not in files:
            problems.append(f"not in the record: {path.relative_to(dest).as_posix()}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", type=Path, help="the finished default study's directory")
    parser.add_argument("--check", action="store_true", help="only compare docs/results with the record")
    args = parser.parse_args(argv)
    if not args.check:
        print(f"copied {len(copy(args.root))} files to {DEST.relative_to(REPO)}")
    problems = check()
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
