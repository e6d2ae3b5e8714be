"""The package's layout: imports run with the DAG, and each rule's code inputs follow the imports."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from overopt.pipeline import deps

PACKAGE = REPO / "workflow" / "overopt"
SCRIPTS = REPO / "workflow" / "scripts"


def run_deps(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "overopt.pipeline.deps", *args], capture_output=True, text=True, timeout=120
    )


def package_copy(tmp_path: Path) -> Path:
    """A copy of the package to plant a fault in."""
    copy = tmp_path / "overopt"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_import_graph_runs_with_the_dag() -> None:
    proc = run_deps()
    assert proc.returncode == 0, proc.stderr
    for stage in deps.STAGES:
        assert f"\n{stage}  (may import:" in f"\n{proc.stdout}"
    assert "no import runs against the DAG's direction" in proc.stdout
    assert deps.violations() == []


def test_an_import_against_the_dag_is_named(tmp_path: Path) -> None:
    copy = package_copy(tmp_path)
    io = copy / "core" / "io.py"
    io.write_text(io.read_text() + "\n\ndef _late():\n    from overopt.analysis import fit  # noqa\n")
    proc = run_deps(str(copy))
    assert proc.returncode == 1
    assert "overopt.core.io (core) imports overopt.analysis.fit (analysis)" in proc.stderr


def test_the_science_may_not_import_the_machinery(tmp_path: Path) -> None:
    copy = package_copy(tmp_path)
    fit = copy / "analysis" / "fit.py"
    fit.write_text(fit.read_text() + "\n\nfrom overopt.pipeline import settings  # noqa\n")
    proc = run_deps(str(copy))
    assert proc.returncode == 1
    assert "overopt.analysis.fit (analysis) imports overopt.pipeline.settings (pipeline)" in proc.stderr


def test_may_import_is_the_fan_the_code_has(tmp_path: Path) -> None:
    """An allowance no import uses fails too: the table states the real fan, not a looser one."""
    used = deps.fan()
    assert {stage: deps.MAY_IMPORT[stage] for stage in used} == used
    assert "pipeline" not in {s for allowed in deps.MAY_IMPORT.values() for s in allowed}
    copy = package_copy(tmp_path)
    for path in (copy / "toy").glob("*.py"):  # the toy's one import of core goes: core is unused
        path.write_text(path.read_text().replace("from overopt.core", "from overopt.toy"))
    proc = run_deps(str(copy))
    assert proc.returncode == 1
    assert "MAY_IMPORT lets toy import core, which no module of toy does" in proc.stderr


def test_dvc_yaml_is_generated_from_the_same_imports() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "overopt.pipeline.dvc_stages", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    text = (REPO / "dvc.yaml").read_text()
    for module in deps.script_code(SCRIPTS / "fit.py"):  # the report stage runs fit
        assert f"- {module.relative_to(REPO).as_posix()}\n" in text


@pytest.mark.parametrize("name", ["smoke", "config", "paper"])
def test_dvc_stages_depend_on_the_keys_their_rules_read(name: str) -> None:
    from overopt.core.config import load
    from overopt.pipeline import dvc_stages

    cfg = load(REPO / "config" / f"{name}.yaml")
    keys = {s.name: dvc_stages.param_keys(s, cfg) for s in dvc_stages.stages(cfg)}
    flat = {k for ks in keys.values() for k in ks}
    for key in flat:  # DVC fails on a listed key the config lacks
        node = cfg
        for part in key.split("."):
            node = node[part]
    assert "fit" in keys["report"] and not {"fit", "judge"} & {*keys["sft"], *keys["daa"]}
    assert "judge" in keys["evaluation"] and "evaluation.bootstrap" not in keys["sft"]
    assert "sft.learning_rate" in keys["sft"] and "daa" in keys["daa"]


def test_rule_code_follows_imports_transitively() -> None:
    code = {p.relative_to(PACKAGE).as_posix() for p in deps.script_code(SCRIPTS / "judge.py")}
    # direct (judge_samples), indirect (judge_samples -> bootstrap), and function-level (job ->
    # provenance) imports; not the judges, which the rule adds by configured type
    direct = {"evaluate/judge_samples.py", "core/bootstrap.py", "core/runtime.py", "pipeline/provenance.py"}
    assert direct <= code
    assert "evaluate/judges/openai.py" not in code and "analysis/fit.py" not in code
    assert "lm/generation.py" not in code  # sampling is the sample rule's
    sample = {p.relative_to(PACKAGE).as_posix() for p in deps.script_code(SCRIPTS / "sample.py")}
    assert {"evaluate/sample_policies.py", "lm/generation.py"} <= sample
    assert "evaluate/judge_samples.py" not in sample
    judge = {
        p.relative_to(PACKAGE).as_posix() for p in deps.module_code(PACKAGE / "evaluate/judges/openai.py")
    }
    assert {"evaluate/judges/openai.py", "evaluate/judges/cache.py", "core/io.py"} <= judge


def test_every_script_names_a_rule_and_uses_the_package() -> None:
    """Every script but the path helper is a rule's, and imports the helper before the package."""
    rules = "".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
    for script in SCRIPTS.glob("*.py"):
        if script.stem == "checkout_package":
            continue
        text = script.read_text()
        assert "import checkout_package" in text.split("from overopt", 1)[0], script.name
        assert f'code_of("{script.stem}"' in rules and f'settings_of("{script.stem}")' in rules, script.name
        assert deps.script_code(script), script.name


def test_no_document_or_path_outside_the_repository_is_named() -> None:
    """Every document a tracked file names (an upper-case ``.md`` name) is tracked; no tracked file holds
    a path of the machine it was written on (the directory this checkout sits in)."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    documents = {Path(f).name for f in tracked}
    outside = str(REPO.parent) + "/"
    for f in tracked:
        path = REPO / f
        if path.suffix in {".py", ".md", ".smk", ".yaml", ".rst", ".toml", ".cfg", ""} and path.is_file():
            text = path.read_text(errors="ignore")
            named = set(re.findall(r"\b[A-Z][A-Z0-9_-]*\.md\b", text))
            assert named <= documents, (f, sorted(named - documents))
            assert outside not in text, f


PACKAGE_ARCHIVES = (".whl", ".tar.gz", ".zip")


def test_no_environment_result_or_link_to_one_is_tracked() -> None:
    """Virtual environments, results, checkpoints and downloaded packages never go into git, not even
    as a link (a worktree's ``.venv`` link, committed once, replaced the main checkout's environment
    by itself; a ``pip download`` into the root was committed once too)."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for f in tracked:
        top = f.split("/")[0]
        assert top not in {".venv", "venv", "results", "logs", ".snakemake"}, f
        assert not (REPO / f).is_symlink(), f"{f} is a link"
        assert not f.endswith(PACKAGE_ARCHIVES), f"{f} is a package archive (a pip download)"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", ".venv"], cwd=REPO, capture_output=True, check=False
    )
    assert ignored.returncode == 0, ".venv is not ignored"


def test_the_citation_and_changelog_name_the_projects_version() -> None:
    """CITATION.cff (the software and, as its preferred citation, the paper it reproduces) and
    CHANGELOG.md carry pyproject.toml's version."""
    import tomllib

    import yaml

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    import overopt

    assert overopt.__version__ == version  # what every provenance manifest records
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == version
    paper = cff["preferred-citation"]
    assert (
        "Direct Alignment Algorithms" in paper["title"] and paper["authors"][0]["family-names"] == "Rafailov"
    )
    assert f"({version})" in (REPO / "CHANGELOG.md").read_text()
