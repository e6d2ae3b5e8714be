"""Snakemake entry: rule candidates."""

from overopt import smk
from overopt.candidates import generate_candidates
from overopt.io import read_jsonl, write_jsonl

with smk.job(snakemake) as seed:
    posts = read_jsonl(snakemake.input.pref_prompts) + read_jsonl(snakemake.input.heldout_pref_prompts)
    models = {path.split("/")[-2]: path for path in snakemake.input.models}
    rows = generate_candidates(posts, models, snakemake.config, seed)
    print(f"{write_jsonl(snakemake.output[0], rows)} candidates for {len(posts)} posts")
