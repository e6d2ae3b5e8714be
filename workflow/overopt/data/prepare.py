"""The prepare_data rule: every split the study reads, in the internal schema, as JSON lines."""

from __future__ import annotations

from typing import Any

from overopt.core.io import write_jsonl
from overopt.data import synthetic


def prepare_synthetic(cfg: dict[str, Any], out: dict[str, str]) -> dict[str, int]:
    """Posts and references for SFT, evaluation and preference collection (disjoint seeds per split)."""
    task = cfg["task"]["synthetic"]
    params = synthetic.params_from_config(cfg)
    counts = {
        "sft": task["n_sft"],
        "eval": task["n_eval"],
        "pref_prompts": task["n_pref_posts"],
        "heldout_pref_prompts": task["n_heldout_pref_posts"],
    }
    return {
        split: write_jsonl(out[split], synthetic.generate(n, cfg["seed"], split, params))
        for split, n in counts.items()
    }


def prepare_hub(cfg: dict[str, Any], out: dict[str, str]) -> dict[str, int]:
    """Reddit TL;DR: SFT and evaluation posts, human comparisons (train and held-out)."""
    from overopt.data import hub as hub_data

    hub = cfg["task"]["hub"]
    result = {
        "sft": write_jsonl(out["sft"], hub_data.load_sft(hub["sft"])),
        "eval": write_jsonl(out["eval"], hub_data.load_sft(hub["eval"])[: cfg["evaluation"]["n_prompts"]]),
    }
    pairs = hub_data.load_preferences(hub["preferences"])
    want = int(cfg["preferences"]["n_train_pairs"])
    if len(pairs) < want:
        raise ValueError(
            f"{hub['preferences'].get('id', hub['preferences'].get('path'))}: {len(pairs)} preference pairs, "
            f"but config 'preferences.n_train_pairs' asks for {want}"
        )
    result["preferences"] = write_jsonl(out["preferences"], pairs[:want])
    result["heldout_preferences"] = write_jsonl(
        out["heldout_preferences"], hub_data.load_preferences(hub["heldout_preferences"])
    )
    return result
