"""Snakemake entry: rule collect (results/tables/evaluations.csv)."""

from overopt.core import smk
from overopt.core.io import write_csv
from overopt.core.runs import policy_of_path
from overopt.evaluate.collect import collect

with smk.job(snakemake) as seed:
    samples = list(snakemake.input.samples)
    known = [tuple(p) for p in snakemake.params.policies]
    sft = {size: p for p in samples for size, policy in [policy_of_path(p, known)] if policy == "sft"}
    df = collect(
        list(zip(snakemake.input.metrics, samples, strict=True)), sft, snakemake.config["evaluation"], seed
    )
    write_csv(df, snakemake.output[0])
    print(df.to_string(max_rows=20))
