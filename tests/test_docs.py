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


def test_make_setup_refuses_an_unsupported_python_first(tmp_path) -> None:
    """``make setup`` checks the interpreter before creating anything, and names the versions it
    needs (here a stand-in interpreter that reports itself as 3.13)."""
    import subprocess
    import sys

    fake = tmp_path / "python3.13"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "Python 3.13.0"; exit 0; fi\n'
        f'exec {sys.executable} -c "import sys; sys.version_info = (3, 13, 0); exec(sys.argv[1])" "$2"\n'
    )
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    proc = subprocess.run(
        ["make", "setup", f"PYTHON={fake}", f"VENV={venv}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "needs Python 3.11 or 3.12" in proc.stderr and "Python 3.13.0" in proc.stderr, proc.stderr
    assert not venv.exists()


def test_docs_results_are_the_records_own_files(tmp_path) -> None:
    """docs/results/ holds the default study's findings, figures and tables as recorded: every
    file's SHA-256 is digests/config.json's, none is missing or extra; a changed, a removed and an
    added file are each named."""
    import shutil

    from overopt.pipeline import docs_results

    assert docs_results.check() == []
    names = {p.relative_to(docs_results.DEST).as_posix() for p in docs_results.DEST.rglob("*") if p.is_file()}
    assert {"findings.md", "figures/figure1.png", "tables/pooled.csv", "tables/evaluations.csv"} <= names
    copy = tmp_path / "results"
    shutil.copytree(docs_results.DEST, copy)
    (copy / "tables" / "pooled.csv").write_text("edited")
    (copy / "findings.md").unlink()
    (copy / "notes.txt").write_text("extra")
    assert docs_results.check(copy) == [
        "missing: findings.md",
        "differs from the record: tables/pooled.csv",
        "not in the record: notes.txt",
    ]
