"""Each rule environment (``envs/*.yaml``) runs its rules' scripts on its own packages.

Under ``--software-deployment-method conda`` Snakemake runs a script with the environment's Python;
the environment holds the env file's pinned packages and not the ``overopt`` package, which comes
from the checkout (``workflow/scripts/checkout_package.py``). Conda channels are not reachable
here, so each environment is built as a virtual environment from its env file's pip list (pip
resolves their dependencies, as conda's pip step does), without the editable install. A job of
the session's smoke study whose rule names that environment is run by Snakemake with its script
kept (``--skip-script-cleanup``); the kept script (Snakemake's preamble, the pickled job, the
rule's script) then runs in the environment's interpreter, isolated (``-I``: no PYTHONPATH, no
user site) and with the preamble's fallback to the submitting environment's site-packages
removed, so that a package the env file lacks fails the job. Its outputs must be the bytes the
smoke study wrote.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, result_digests, snakemake

# One cheap job per environment: (environment, rule (its script's name), the job's outputs)
JOBS = [
    ("data", "prepare_data", ["results/data/sft.jsonl", "results/data/eval.jsonl"]),
    ("train", "sft_quality", ["results/models/xs/sft_quality.json"]),
    ("report", "fit", ["results/tables/fits.csv"]),
]
SNAKEMAKE = "snakemake==" + __import__("snakemake").__version__  # the preamble unpickles the job with it


def env_packages(env: str) -> list[str]:
    spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
    return next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)


@pytest.fixture(scope="module")
def env_python(tmp_path_factory: pytest.TempPathFactory):
    """The Python of a virtual environment built from an env file's pip list (and Snakemake)."""
    built: dict[str, Path] = {}

    def build(env: str) -> Path:
        if env not in built:
            venv = tmp_path_factory.mktemp(f"env-{env}")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile"]
            proc = subprocess.run(
                [*pip, *env_packages(env), SNAKEMAKE], capture_output=True, text=True, timeout=1200
            )
            assert proc.returncode == 0, f"envs/{env}.yaml: pip install failed:\n{proc.stderr[-3000:]}"
            built[env] = venv / "bin" / "python"
        return built[env]

    return build


def isolated(script: Path) -> None:
    """Drop the preamble's fallback to the submitting environment's site-packages from a kept script."""
    text = script.read_text()
    preamble = re.search(r"sys\.path\.extend\((\[.*?\])\)", text)
    assert preamble, "Snakemake's script preamble changed"
    main = (sys.prefix, str(Path(sys.prefix).resolve()))
    paths = [p for p in ast.literal_eval(preamble.group(1)) if not p.startswith(main)]
    assert len(paths) < len(ast.literal_eval(preamble.group(1))), "no fallback path found to drop"
    script.write_text(text.replace(preamble.group(0), f"sys.path.extend({paths!r})", 1))


@pytest.mark.parametrize(("env", "script", "outputs"), JOBS, ids=[j[0] for j in JOBS])
def test_a_job_runs_in_its_environment_alone(env_python, fresh_copy, smoke_dir, env, script, outputs):
    work = fresh_copy()
    snakemake(work, "--cores", "1", "--forcerun", script, "--skip-script-cleanup", "--", outputs[0])
    kept = sorted((work / ".snakemake" / "scripts").glob(f"*.{script}.py"))
    assert len(kept) == 1, kept
    python = env_python(env)
    isolated(kept[0])
    for out in outputs:
        (work / out).unlink()
    proc = subprocess.run(
        [str(python), "-I", str(kept[0])], cwd=work, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"envs/{env}.yaml, {script}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    expected, got = result_digests(smoke_dir), result_digests(work)
    for out in outputs:
        assert got[out] == expected[out], f"{out} differs when {script} runs in envs/{env}.yaml"
    shutil.rmtree(work)
