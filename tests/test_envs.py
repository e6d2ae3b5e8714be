"""The conda environment files pin exactly what pyproject.toml pins, and every rule names one."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from conftest import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))


def pins(specs: list[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+-]+)", spec.strip())
        assert m, f"not an exact pin: {spec!r}"
        out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


PROJECT = pins(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_agree_with_pyproject(env):
    spec = yaml.safe_load(env.read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    for name, version in pins(pip).items():
        assert name in PROJECT, f"{env.name}: {name} is not a project dependency"
        assert PROJECT[name] == version, f"{env.name}: {name}=={version}, pyproject says {PROJECT[name]}"
    assert "python=3.11" in spec["dependencies"]


def test_every_rule_with_a_script_names_an_environment():
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        for block in re.split(r"^\s*rule ", text, flags=re.M)[1:]:  # a file's first rule included
            if "script:" in block:
                name = block.split(":")[0]
                match = re.search(r'conda:\s*\n\s*"\.\./envs/(\w+)\.yaml"', block)
                assert match, f"{smk.name}: rule {name} has no conda environment"
                assert (REPO / "envs" / f"{match.group(1)}.yaml").exists()


def test_lock_file_agrees_with_pyproject():
    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[name.lower().replace("_", "-")] = version
    for name, version in PROJECT.items():
        assert lock.get(name) == version, f"requirements.lock: {name}=={lock.get(name)}, pyproject: {version}"


def _module_level_imports(path) -> set[str]:
    """Top-level names a file imports when it is imported: its module-level statements (under ``if``
    and ``try`` too), not function bodies (run only where called; the env jobs test runs those)
    nor ``if TYPE_CHECKING:`` blocks."""
    import ast

    found: set[str] = set()

    def visit(body: list) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for part in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(part)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def _rule_scripts() -> dict[str, tuple[str, str]]:
    """Rule name -> (script file, environment name), for every rule with a script."""
    out = {}
    for smk in (REPO / "rules").glob("*.smk"):
        for block in re.split(r"^\s*rule ", smk.read_text(), flags=re.M)[1:]:
            script = re.search(r'script:\s*\n\s*"\.\./(workflow/scripts/\w+\.py)"', block)
            env = re.search(r'conda:\s*\n\s*"\.\./envs/(\w+)\.yaml"', block)
            if script and env:
                out[block.split(":")[0].strip()] = (script.group(1), env.group(1))
    return out


OURS = ("overopt", "__future__", "snakemake", "checkout_package")  # the checkout's, and the preamble's


def test_each_environment_lists_what_its_rules_scripts_import():
    """Every third-party package that a rule's script or a package module it reaches (the import
    graph, ``overopt.pipeline.deps``) imports at module level is pinned in that rule's env file."""
    import importlib.metadata
    import sys

    from overopt.pipeline import deps

    dist_of = importlib.metadata.packages_distributions()
    rules = _rule_scripts()
    assert len(rules) >= 20, rules
    for rule, (script, env) in sorted(rules.items()):
        spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
        pinned = set(pins(pip))
        files = [REPO / script, *deps.script_code(REPO / script)]
        for name in sorted(set().union(*map(_module_level_imports, files))):
            if name in sys.stdlib_module_names or name in (
                "overopt",
                "__future__",
                "snakemake",
                "checkout_package",
            ):
                continue
            dists = {d.lower().replace("_", "-") for d in dist_of.get(name, [name])}
            assert dists & pinned, (
                f"rule {rule} (envs/{env}.yaml) imports {name} ({sorted(dists)}): not pinned"
            )
