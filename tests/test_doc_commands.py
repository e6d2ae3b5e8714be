"""Every command the README and docs/ give, run as a reader would type it, extracted from the Markdown.

A command is a line of a ```bash block, or an inline code span that starts with ``make``,
``snakemake``, ``dvc``, ``pytest`` or ``python -m`` / ``python <file>.py`` and has an argument.
They run in document order in a git checkout of the project that holds the session's smoke study,
with the default study swapped for the smoke one (``config/config.yaml`` and its record
``digests/config.json`` are the smoke study's), so a command that names the default study runs on
the smoke study as written. ``MODES`` gives, by pattern, how each kind runs: as written, as a dry
run (those that would train for longer than a minute, reach the network, submit to a cluster,
rewrite the record or run the test suite itself), through its ``--help`` (synopses with
placeholders), or by the test that runs it for real (DVC remotes). A command that no pattern covers
fails: a new kind of command is tested by being written down.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, VENV, checkout_env, commit_study, copy_project

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "config" / "README.md"]
INLINE = re.compile(r"^(make|snakemake|dvc|pytest|python -m|python \S+\.py) \S")

REVIEWER_PATH = "test_reproducibility.py::test_reviewer_path_publish_pull_over_http_verify_rebuild"
EXPERIMENT = (
    "test_reproducibility.py::test_dvc_experiment_reruns_what_a_setting_touches_and_lists_its_numbers"
)

# Placeholders a reader fills in, and what this test fills in.
FILL = {
    "<this repository>": "{project}",
    "<the published remote's URL>": "http://127.0.0.1:9/dvc",
    "CONFIG=...": "CONFIG=config/smoke.yaml",
    "PYTHON=...": "PYTHON=python3.11",
    " ROOT [CONFIG] [OBJECTIVE] [CONTROL]": "",
    " EFFECT R...": " 0.05 3",
    " R...": " 3",
}

# (pattern, mode): the first pattern that matches a command (re.search) gives its mode.
# run: as written; dry: make -n, snakemake -n, pytest --collect-only, dvc ... --dry;
# help: the module or script's --help; outside: as written, in the checkout's parent directory;
# "covered: <test>": run for real by that test (named so that it cannot silently go).
MODES: list[tuple[str, str]] = [
    (r"^make (test|lint)$", "dry"),  # the suite itself, and its lint test (tests/test_lint.py)
    (r"^make benchmark-study", "dry"),  # a whole study from scratch
    (r"^make setup TORCH_INDEX=", "dry"),  # the network
    (r"^make (prefetch|dvc-yaml) CONFIG=config/paper\.yaml$", "dry"),  # the Hub; another study's dvc.yaml
    (r"^make dvc-yaml CONFIG=", "dry"),  # switches params.yaml to another file
    (r"^make (record|publish)$", "dry"),  # rewrites the record; writes a remote
    (r"^make pull", "dry"),  # the remote: covered for real by the reviewer path below
    (r"^make ", "run"),
    (r"^snakemake .*--profile profiles/slurm", "dry"),  # submits to a cluster
    (r"^snakemake .*config/pilot\.yaml", "dry"),  # a pilot: hours
    (r"^snakemake ", "run"),
    (r"^\. \.venv/bin/activate", "run"),
    (r"^export ", "run"),
    (r"^rm results/", "run"),
    (r"^git clone ", "outside"),
    (r"^pytest ", "dry"),
    (r"^dvc repro", "dry"),
    (r"^dvc exp run", f"covered: {EXPERIMENT}"),  # its --dry runs in a temporary copy without results
    # a remote; and `dvc status --quiet` after a pull (here the figures rebuilt above carry this
    # checkout's commit in their manifests, so the report stage reads as changed: rightly)
    (r"^dvc (pull|push|status --quiet)", f"covered: {REVIEWER_PATH}"),
    (r"^dvc ", "run"),
    (r"^python -m overopt\.analysis\.(gates|simulate) ", "help"),  # synopses; a pilot's results
    (r"^python benchmarks/", "help"),  # benchmarks: minutes, ratios in one run
    (r"^python -m ", "run"),
]


def commands() -> list[tuple[str, str]]:
    """(document, command) in document order: every line of every block (a block is a sequence:
    the reviewer's path deletes a figure, rebuilds it, verifies), and each inline span once."""
    found: list[tuple[str, str]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in re.findall(r"```bash\n(.*?)```", text, re.S):
            found += [(doc.name, line.split("  #")[0].strip()) for line in block.splitlines() if line.strip()]
    seen = {command for _, command in found}
    for doc in DOCS:
        prose = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)
        for span in re.findall(r"`([^`\n]+)`", prose):
            if INLINE.match(span) and span not in seen:
                seen.add(span)
                found.append((doc.name, span))
    return found


def mode(command: str) -> str:
    for pattern, how in MODES:
        if re.search(pattern, command):
            return how
    raise AssertionError(f"no mode for {command!r}: add its pattern to MODES")


def filled(command: str, project: Path) -> str:
    for placeholder, value in FILL.items():
        command = command.replace(placeholder, value.format(project=project))
    assert not re.search(r"<[^>]+>|\.\.\.", command), f"unfilled placeholder in {command!r}: add it to FILL"
    return command


def as_run(command: str, how: str) -> str:
    """The shell line the test runs for ``command`` in mode ``how``."""
    if how == "help":
        words = command.split()
        return " ".join(words[:3] if words[1] == "-m" else words[:2]) + " --help"
    if how != "dry" or re.search(r" (-n|--dry-run|--dry)( |$)", command):
        return command
    for prefix, dry in (
        ("make ", "make -n "),
        ("snakemake ", "snakemake -n "),
        ("pytest ", "pytest --collect-only -q "),
    ):
        if command.startswith(prefix):
            return dry + command[len(prefix) :]
    if command.startswith("dvc repro"):
        return f"{command} --dry"
    raise AssertionError(f"no dry form of {command!r}")


def test_every_command_has_a_mode_and_its_placeholders_are_filled(tmp_path: Path) -> None:
    found = commands()
    assert len(found) > 30, found  # the extraction sees the README's blocks and spans
    for _, command in found:
        how = mode(command)
        if how.startswith("covered: "):
            module, name = how.removeprefix("covered: ").split("::")
            assert f"def {name}(" in (REPO / "tests" / module).read_text(), how
        as_run(filled(command, tmp_path), how)


def smoke_checkout(dst: Path, smoke_dir: Path) -> Path:
    """The project with the smoke study as its default study, its results in place, committed."""
    copy_project(dst)
    shutil.copy2(REPO / "config" / "smoke.yaml", dst / "config" / "config.yaml")
    shutil.copy2(REPO / "digests" / "smoke.json", dst / "digests" / "config.json")
    (dst / ".venv").symlink_to(VENV)
    for step in (
        "python -m overopt.pipeline.dvc_stages --write",  # dvc.yaml's params for the smoke keys
        "git init -q && git add -A && git commit -qm project",
    ):
        shell(step, dst)
    commit_study(dst, smoke_dir)
    return dst


def shell(line: str, cwd: Path, project: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["bash", "-c", line],
        cwd=cwd,
        env=checkout_env(project or cwd),
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{line!r} failed ({proc.returncode}):\n{out}"
    return proc


@pytest.mark.workflow
def test_every_command_runs_as_written(smoke_dir: Path, tmp_path: Path) -> None:
    project = smoke_checkout(tmp_path / "overopt-study", smoke_dir)
    ran = []
    for doc, command in commands():
        how = mode(command)
        if how.startswith("covered: "):
            continue  # checked to exist above; it runs in its own test
        line = as_run(filled(command, project), how)
        proc = shell(line, tmp_path if how == "outside" else project, project)
        ran.append((doc, line, proc))
    lines = [line for _, line, _ in ran]
    assert "make verify" in lines and "make study" in lines and "snakemake -n" in lines
    # the reviewer's path as written: a deleted figure is planned again, rebuilt, identical
    verify = [proc.stdout for _, line, proc in ran if line == "make verify"]
    assert verify and all("all identical" in out for out in verify), verify
    assert (project / "results" / "figures" / "figure1.png").is_file()
