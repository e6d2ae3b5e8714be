"""Snakemake entry: rule sample (one evaluation group: a run's checkpoints, or a size's SFT policies)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.io import read_jsonl, write_jsonl
from overopt.evaluate.sample_policies import sample_policies
from overopt.pipeline import job

wc = snakemake.wildcards
with job.context(snakemake, seed_parts=(wc.size, wc.group)):
    ev = snakemake.config["evaluation"]
    records = sample_policies(
        policies=snakemake.params.policies,
        ref_dir=snakemake.input.ref,
        posts=read_jsonl(snakemake.input.eval)[: ev["n_prompts"]],
        heldout_pairs=read_jsonl(snakemake.input.heldout)[: ev.get("heldout_pairs", 500)],
        ev=ev,
    )
    write_jsonl(snakemake.output[0], records)
