"""Snakemake entry: rule candidates."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.io import read_jsonl, write_jsonl
from overopt.data.candidates import generate_candidates
from overopt.pipeline import job

with job.context(snakemake) as seed:
    posts = read_jsonl(snakemake.input.pref_prompts) + read_jsonl(snakemake.input.heldout_pref_prompts)
    models = dict(zip(snakemake.params.pool, snakemake.input.models, strict=True))
    rows = generate_candidates(posts, models, snakemake.config, seed)
    print(f"{write_jsonl(snakemake.output[0], rows)} candidates for {len(posts)} posts")
