"""Snakemake entry: rule sft_quality (gold win rate and invented facts of an SFT policy)."""

from overopt.core import smk
from overopt.core.io import read_jsonl, write_json
from overopt.evaluate.quality import sft_quality

with smk.job(snakemake, seed_parts=(snakemake.wildcards.size,)):
    ev = snakemake.config["evaluation"]
    report = sft_quality(
        snakemake.input.model,
        read_jsonl(snakemake.input.eval)[: ev["n_prompts"]],
        ev,
        gate=snakemake.config["sft"].get("quality_gate", {}),
        size=snakemake.wildcards.size,
    )
    write_json(snakemake.output[0], report)
    print(report)
