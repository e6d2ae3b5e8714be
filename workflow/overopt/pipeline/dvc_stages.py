"""``dvc.yaml``, generated: DVC stages at the study's expensive boundaries, with code deps from imports.

Each stage runs Snakemake up to its rules; Snakemake decides the jobs, DVC versions what they
write. A stage's code deps are the package modules its rules' scripts import, directly or not
(``overopt.pipeline.deps.script_code``, the same function the rules' ``code`` params hash), plus the
rule files and the config. ``python -m overopt.pipeline.dvc_stages`` prints the file; ``--check``
exits 1 if the committed ``dvc.yaml`` differs (a test runs it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from overopt.core.config import load
from overopt.evaluate.judges.cache import JUDGE_CACHE
from overopt.pipeline import deps, settings

REPO = deps.ROOT.parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
# What shapes a stage's DAG besides its rules' keys: the sizes and replicates; the runs and their
# checkpoints (overopt.core.runs: objectives, steps per epoch); the evaluated temperatures.
SIZES = ("models", "replicates")
RUNS = (*SIZES, "objectives", "daa", "preferences", "task.synthetic.n_pref_posts")
POLICIES = (*RUNS, "evaluation.temperatures")


@dataclass(frozen=True)
class Stage:
    """A DVC stage: the Snakemake rules it runs to, the rule files, upstream outputs, its outputs."""

    name: str
    until: tuple[str, ...]
    scripts: tuple[str, ...]
    rule_files: tuple[str, ...]
    upstream: tuple[str, ...]
    outs: tuple[str, ...]
    imported_by_name: tuple[str, ...] = ()  # packages whose modules a job imports by config name
    dag_keys: tuple[str, ...] = ()  # config keys that shape the stage's DAG
    made: tuple[str, ...] = ()  # directories the stage versions that its jobs may leave uncreated


STAGES = (
    Stage(
        "data",
        ("prepare_data", "tokenizer"),
        ("prepare_data", "tokenizer"),
        ("rules/common.smk", "rules/data.smk"),
        (),
        ("results/data", "results/tokenizer"),
    ),
    Stage(
        "sft",
        ("sft_quality",),
        ("sft", "sft_quality"),
        ("rules/sft.smk",),
        ("results/data", "results/tokenizer"),
        ("results/models",),
        dag_keys=SIZES,
    ),
    Stage(
        "preferences",
        ("preferences",),
        ("candidates", "preferences"),
        ("rules/data.smk",),
        ("results/data", "results/models"),
        ("results/preferences",),
        dag_keys=(*SIZES, "candidates.sizes"),  # the pool of sizes that sample candidates
    ),
    Stage(
        "daa",
        ("daa",),
        ("ref_logps", "daa"),
        ("rules/daa.smk",),
        ("results/models", "results/preferences"),
        ("results/ref_logps", "results/daa"),
        ("workflow/overopt/core/losses",),
        RUNS,
    ),
    Stage(
        "evaluation",
        ("collect",),
        ("sample", "judge", "collect"),
        ("rules/evaluate.smk",),
        ("results/data", "results/models", "results/preferences", "results/daa"),
        # the judge cache: paid verdicts, versioned (empty for judges that cache nothing)
        ("results/eval", "results/tables/evaluations.csv", JUDGE_CACHE),
        ("workflow/overopt/evaluate/judges",),
        POLICIES,
        made=(JUDGE_CACHE,),
    ),
    Stage(
        "report",
        (),
        ("fit", "pooled", "metrics", "figures", "findings", "toy_mdp", "provenance"),
        ("rules/report.smk", "rules/toy.smk"),
        ("results/eval", "results/tables/evaluations.csv"),
        (
            "results/tables/fits.csv",
            "results/tables/pooled.csv",
            "results/tables/provenance.csv",
            "results/metrics.json",
            "results/figures",
            "results/findings.md",
            "results/findings.html",
            "results/toy_mdp",
        ),
        dag_keys=POLICIES,
    ),
)

# Proxy reward models and best-of-n curves (config `best_of_n`, synthetic task only): between the
# DAA runs and the evaluation table, which lists the best-of-n policies.
BEST_OF_N = Stage(
    "best_of_n",
    ("reward_models", "best_of_n"),
    ("reward_model", "best_of_n_sample", "best_of_n", "reward_models"),
    ("rules/best_of_n.smk",),
    ("results/data", "results/models", "results/preferences"),
    ("results/reward_models", "results/best_of_n", "results/tables/reward_models.csv"),
    ("workflow/overopt/evaluate/judges",),
    SIZES,
)
BEST_OF_N_OUTS = ("results/best_of_n", "results/tables/reward_models.csv")

# The hub task (config/paper.yaml) has no tokenizer, candidates, preferences or SFT quality gate
# rules (rules/data.smk, rules/sft.smk: `if SYNTHETIC`): its prepare_data writes the preference
# pairs too.
_BY_NAME = {s.name: s for s in STAGES}
HUB_STAGES = (
    replace(
        _BY_NAME["data"],
        until=("prepare_data",),
        scripts=("prepare_data",),
        outs=("results/data", "results/preferences"),
    ),
    replace(_BY_NAME["sft"], until=("sft",), scripts=("sft",), upstream=("results/data",)),
    _BY_NAME["daa"],
    _BY_NAME["evaluation"],
    _BY_NAME["report"],
)


def stages(cfg: dict[str, Any]) -> tuple[Stage, ...]:
    """The DVC stages of the study of ``cfg``."""
    if cfg["task"]["type"] != "synthetic":
        return HUB_STAGES
    if "best_of_n" not in cfg:
        return STAGES
    out: list[Stage] = []
    for stage in STAGES:
        if stage.name == "evaluation":
            out.append(BEST_OF_N)
        if stage.name in {"evaluation", "report"}:  # the table and findings read the curves
            stage = replace(stage, upstream=(*stage.upstream, *BEST_OF_N_OUTS))
        out.append(stage)
    return tuple(out)


HEADER = """\
# Generated for the study params.yaml names by `make dvc-yaml`: edit overopt/pipeline/dvc_stages.py.
# DVC stages at the expensive boundaries of the study. Each stage runs Snakemake up to its rules;
# Snakemake decides the jobs, DVC versions what they write. `dvc repro` runs the study,
# `make publish` / `make pull` move the artifacts (README: "Reviewers"). Outputs persist: DVC
# leaves them in place and Snakemake reruns what changed, never more.
# Params: the config keys the stage's rules read (overopt.pipeline.settings.RULE_KEYS) and those that
# shape its DAG, not the whole file. Code deps: the package modules the stage's scripts import,
# directly or not, and the packages of custom losses and judges (imported by the name the config
# gives).
vars:
  - params.yaml

stages:
"""


def code_deps(stage: Stage) -> list[str]:
    """Repository-relative files of every module the stage's scripts import (outside the packages
    the stage depends on whole)."""
    files = {p for s in stage.scripts for p in deps.script_code(SCRIPTS / f"{s}.py")}
    paths = sorted(p.relative_to(REPO).as_posix() for p in files)
    return [p for p in paths if not any(p.startswith(f"{d}/") for d in stage.imported_by_name)]


def _present(cfg: dict, path: list[str]) -> bool:
    node = cfg
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def param_keys(stage: Stage, cfg: dict[str, Any]) -> list[str]:
    """The keys of ``cfg`` the stage's rules read (``overopt.pipeline.settings.RULE_KEYS``) and its DAG keys.

    A path stops before its first wildcard (``{size}``, ``*``) and, where ``cfg`` lacks it, at the
    deepest level it has (as the rules' settings do), since DVC fails on a missing key; a path
    that ``cfg`` lacks from the top is dropped, and one inside another listed path too.
    """
    found: set[str] = set()
    for path in [*(k for rule in stage.scripts for k in settings.keys(rule, cfg)), *stage.dag_keys]:
        parts: list[str] = []
        for part in path.split("."):
            if "{" in part or part == "*":
                break
            parts.append(part)
        while parts and not _present(cfg, parts):
            parts.pop()
        if parts:
            found.add(".".join(parts))
    return sorted(k for k in found if not any(k.startswith(f"{o}.") for o in found))


def outputs(stage: Stage) -> list[str]:
    """The stage's outputs, with the manifest beside each file output (overopt.pipeline.provenance)."""
    return [o for out in stage.outs for o in (out, f"{out}.provenance.json") if o == out or Path(out).suffix]


def study_config(root: Path = REPO) -> str:
    """The config file ``params.yaml`` names (the study ``dvc repro`` runs)."""
    return str(yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["config"])


def render(config: str, root: Path = REPO) -> str:
    """The text of ``dvc.yaml`` for the study of ``config`` (a path relative to ``root``)."""
    cfg = load(root / config)
    lines = [HEADER.rstrip("\n")]
    for stage in stages(cfg):
        until = f" --until {' '.join(stage.until)}" if stage.until else ""
        made = "".join(f"mkdir -p {d} && " for d in stage.made)
        lines += [
            f"  {stage.name}:",
            f"    cmd: python -m overopt.pipeline.dvc_stages --check && {made}snakemake "
            f"--configfile ${{config}} --cores ${{cores}}{until}",
            "    params:",
            "      - ${config}:",
            *(f"          - {k}" for k in param_keys(stage, cfg)),
            "    deps:",
            *(f"      - {p}" for p in (*stage.upstream, *stage.rule_files, *stage.imported_by_name)),
            *(f"      - {p}" for p in code_deps(stage)),
            "    outs:",
            *(f"      - {p}:\n          persist: true" for p in outputs(stage)),
            "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n\n" + TOP_LEVEL


# What DVC's experiment tools read (``dvc exp show``, ``dvc metrics diff``, ``dvc plots show``): the
# headline numbers (overopt.analysis.metrics) and figure 1's data, every checkpoint's gold win rate
# against its sqrt(KL).
TOP_LEVEL = """\
metrics:
  - results/metrics.json

plots:
  - results/tables/evaluations.csv:
      x: sqrt_kl
      y: win_rate
      template: scatter
      title: "Figure 1's data: gold win rate against sqrt(KL), every checkpoint"
"""


PARAMS_TEXT = """\
# Which study `dvc repro` runs (a config file of config/), and its cores. Switch studies with
# `make dvc-yaml CONFIG=config/<name>.yaml`, which rewrites this file and dvc.yaml for it.
config: {config}
cores: {cores}
"""


def main(argv: list[str] | None = None) -> int:
    """Print ``dvc.yaml``; ``--write`` writes it and ``params.yaml``; ``--check`` compares."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="the study's config file (default: the one params.yaml names)")
    parser.add_argument("--root", type=Path, default=REPO, help="the project directory")
    parser.add_argument("--write", action="store_true", help="write dvc.yaml and params.yaml")
    parser.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is not current")
    args = parser.parse_args(argv)
    config = args.config or study_config(args.root)
    text = render(config, args.root)
    if args.check:
        if (args.root / "dvc.yaml").read_text(encoding="utf-8") != text:
            print(
                f"dvc.yaml is not current for {config}: run `make dvc-yaml CONFIG={config}`",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.write:
        params = args.root / "params.yaml"
        cores = yaml.safe_load(params.read_text(encoding="utf-8")).get("cores", "all")
        params.write_text(PARAMS_TEXT.format(config=config, cores=cores), encoding="utf-8")
        (args.root / "dvc.yaml").write_text(text, encoding="utf-8")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
