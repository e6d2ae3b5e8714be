"""Everything a config loads from the Hugging Face Hub, fetched before any job, checked offline.

Compute nodes of many clusters have no outbound network. ``python -m overopt.pipeline.prefetch
--config config/paper.yaml`` (``make prefetch``), run where the network is (a login node), puts
every Hub model, its tokenizer and every Hub dataset the config names into the Hugging Face cache
(``HF_HOME``, shared with the compute nodes): a model's weights, configs and tokenizer files, a
dataset's files (its ``data_dir`` or ``data_files`` only, where the spec names them). ``--check``
looks into the cache only and names what is missing. Local directories given as ids (the
tests' stand-ins) need nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overopt.data import hub

MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*"]  # weights, configs, tokenizer
DATA_SPECS = ("sft", "eval", "preferences", "heldout_preferences")


@dataclass(frozen=True)
class Target:
    """One thing to fetch: a Hub repository at a revision, and the config key that names it."""

    kind: str  # "model" or "dataset"
    repo_id: str
    revision: str | None
    key: str
    spec: dict[str, Any] | None = None  # a dataset's spec (task.hub.<name>), read by its loader

    def __str__(self) -> str:
        return f"{self.kind} {self.repo_id} at {self.revision} ({self.key})"

    @property
    def rules(self) -> frozenset[str]:
        """The rules whose jobs load it."""
        if self.key.startswith("task.hub."):
            return frozenset({"prepare_data"})
        if self.key == "judge.model":
            return frozenset({"judge", "judge_sft", "best_of_n"})
        return frozenset({"sft"})  # a size's model and tokenizer; later rules load its SFT checkpoint


def _on_hub(repo_id: str | None) -> bool:
    return bool(repo_id) and not Path(str(repo_id)).is_dir()


def targets(cfg: dict[str, Any]) -> list[Target]:
    """Every Hub model (with its tokenizer's revision) and dataset the config names."""
    out = []
    for size, model in cfg["models"].items():
        if _on_hub(model.get("hub_id")):
            revisions = dict.fromkeys(
                [model.get("revision"), model.get("tokenizer_revision", model.get("revision"))]
            )
            out.extend(Target("model", model["hub_id"], rev, f"models.{size}") for rev in revisions)
    judge = cfg.get("judge", {})
    if judge.get("type") == "reward_model" and _on_hub(judge.get("model")):
        out.append(Target("model", judge["model"], judge.get("revision"), "judge.model"))
    if cfg["task"]["type"] == "hub":
        for name in DATA_SPECS:
            spec = cfg["task"]["hub"][name]
            if _on_hub(spec.get("id")):
                out.append(Target("dataset", spec["id"], spec["revision"], f"task.hub.{name}", spec))
    return out


def snapshot(target: Target, local_only: bool) -> str:
    """The local directory of ``target``'s files in the Hub cache: downloaded, or (``local_only``)
    found there; raises (naming nothing: ``missing`` does) if it cannot. A dataset is fetched as its
    loader reads it (``overopt.data.hub.repository_dir``)."""
    if target.kind == "dataset":
        return hub.repository_dir(target.spec or {}, local_only=local_only)
    from huggingface_hub import snapshot_download

    return snapshot_download(
        target.repo_id,
        repo_type=target.kind,
        revision=target.revision,
        allow_patterns=MODEL_FILES,
        local_files_only=local_only,
    )


def missing(cfg: dict[str, Any], rules: set[str] | None = None) -> list[str]:
    """What the cache lacks, one line per target (empty: every job can run offline); with ``rules``,
    only what jobs of those rules load."""
    out = []
    for target in targets(cfg):
        if rules is not None and not target.rules & rules:
            continue
        try:
            snapshot(target, local_only=True)
        except Exception as err:  # huggingface_hub's LocalEntryNotFoundError, or a revision it lacks
            out.append(f"{target}: not in the Hugging Face cache ({type(err).__name__})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/paper.yaml")
    parser.add_argument("--check", action="store_true", help="only look into the cache (offline)")
    args = parser.parse_args(argv)
    from overopt.core.config import load

    cfg = load(args.config)
    if not args.check:
        for target in targets(cfg):
            print(f"fetching {target}", flush=True)
            print(f"  in {snapshot(target, local_only=False)}", flush=True)
    gaps = missing(cfg)
    for line in gaps:
        print(line, file=sys.stderr)
    if gaps:
        print(
            f"{len(gaps)} of {len(targets(cfg))} not prefetched: run `make prefetch CONFIG={args.config}` "
            "where the network is",
            file=sys.stderr,
        )
        return 1
    print(f"all {len(targets(cfg))} Hub models and datasets of {args.config} are in the cache")
    return 0


if __name__ == "__main__":
    sys.exit(main())
