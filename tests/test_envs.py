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
