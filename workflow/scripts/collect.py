"""Snakemake entry: rule collect (results/tables/evaluations.csv)."""

from overopt import smk
from overopt.collect import collect, write_table

with smk.job(snakemake) as seed:
    samples = list(snakemake.input.samples)
    sft = {p.split("/")[2]: p for p in samples if p.endswith("/sft/samples.jsonl")}
    df = collect(
        list(zip(snakemake.input.metrics, samples, strict=True)), sft, snakemake.config["evaluation"], seed
    )
    write_table(df, snakemake.output[0])
    print(df.to_string(max_rows=20))
