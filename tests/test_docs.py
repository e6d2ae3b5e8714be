"""Facts the README and docs/ state that can be checked against the repository."""

from __future__ import annotations

import re

import yaml

from conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _shell_lines() -> list[tuple[str, str]]:
    """(document, command line) for every line of every ```bash block."""
    out = []
    for doc in DOCS:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), flags=re.S):
            out.extend(
                (doc.name, line.split("  #")[0].strip()) for line in block.splitlines() if line.strip()
            )
    return out


def test_the_dvc_stage_list_is_dvc_yamls() -> None:
    text = (REPO / "README.md").read_text()
    found = re.search(r"`dvc\.yaml` has one stage per expensive boundary \(([^)]*)\)", text)
    assert found, "the README's DVC section no longer lists the stages"
    listed = re.findall(r"`(\w+)`", found.group(1))
    assert listed == list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])


def test_the_unit_tiers_time_is_stated_once() -> None:
    stated = [
        (doc.name, m.group(0))
        for doc in DOCS
        for m in re.finditer(r"`pytest -m unit`[^.\n]*?about (a|\d+) minutes?", doc.read_text())
    ]
    assert len(stated) == 1, stated


def test_local_snakemake_commands_give_cores_and_cluster_ones_no_workflow_profile() -> None:
    """The workflow profile sets no cores (a local run without ``--cores`` stops at once), and a
    cluster run keeps it out (``profiles/slurm``'s header)."""
    commands = [
        (d, c) for d, c in _shell_lines() if c.startswith(("snakemake ", ". .venv/bin/activate && snakemake"))
    ]
    assert commands
    for doc, cmd in commands:
        if "--profile profiles/slurm" in cmd:
            assert "--workflow-profile none" in cmd, (doc, cmd)
        elif not re.search(r"(^| )(-n|--dry-run|--lint|--report|--touch)( |$)", cmd):
            assert "--cores" in cmd or "--profile" in cmd, (doc, cmd)
