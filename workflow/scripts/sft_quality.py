"""Snakemake entry: rule sft_quality (gold win rate and invented facts of an SFT policy)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.config import GATE_SAMPLE
from overopt.core.io import read_jsonl, write_json
from overopt.evaluate.quality import sft_quality
from overopt.pipeline import job

with job.context(snakemake, seed_parts=(snakemake.wildcards.size,)):
    gate = snakemake.config["sft"].get("quality_gate", {})
    ev = snakemake.config.get("evaluation", {})
    sample = {k: gate[k] if k in gate else ev[k] for k in GATE_SAMPLE if k in gate or k in ev}
    report = sft_quality(
        snakemake.input.model,
        read_jsonl(snakemake.input.eval)[: sample["n_prompts"]],
        sample,
        gate=gate,
        size=snakemake.wildcards.size,
    )
    write_json(snakemake.output[0], report)
    print(report)
