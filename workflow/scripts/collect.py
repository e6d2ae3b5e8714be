"""Snakemake entry: rule collect (results/tables/evaluations.csv)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.config import learning_rates
from overopt.core.io import write_csv
from overopt.evaluate.collect import collect
from overopt.pipeline import job

with job.context(snakemake) as seed:
    policies = [tuple(p) for p in snakemake.params.policies]  # (replicate, size, policy), in input order
    metrics, samples = list(snakemake.input.metrics), list(snakemake.input.samples)
    pairs = zip(policies, samples, strict=True)
    sft = {(r, size): path for (r, size, policy), path in pairs if policy == "sft"}
    entries = [(r, m, s) for (r, _, _), m, s in zip(policies, metrics, samples, strict=True)]
    cfg = snakemake.config
    df = collect(entries, sft, cfg["evaluation"], seed, learning_rates(cfg))
    write_csv(df, snakemake.output[0])
    print(df.to_string(max_rows=20))
