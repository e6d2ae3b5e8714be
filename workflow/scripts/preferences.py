"""Snakemake entry: rule preferences."""

import json

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.io import read_jsonl, write_json, write_jsonl
from overopt.data.preferences import label_pairs, make_pairs, statistics_of
from overopt.pipeline import job

with job.context(snakemake) as seed:
    cfg = snakemake.config
    cands = read_jsonl(snakemake.input.candidates)
    stats = {}
    for split, posts_path, out in (
        ("train", snakemake.input.pref_prompts, snakemake.output.train),
        ("heldout", snakemake.input.heldout_pref_prompts, snakemake.output.heldout),
    ):
        posts = read_jsonl(posts_path)
        pairs = make_pairs(posts, cands, cfg, seed)
        rows, temp = label_pairs(pairs, float(cfg["preferences"]["label_agreement"]), seed)
        write_jsonl(out, rows)
        stats[split] = statistics_of(rows, {p["id"]: p["reference"] for p in posts}, temp)
    write_json(snakemake.output.stats, stats)
    print(json.dumps(stats, indent=2))
