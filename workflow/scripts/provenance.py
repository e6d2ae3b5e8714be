"""Snakemake entry: rule provenance (every artifact's manifest in one table, for the report)."""

from overopt import smk
from overopt.provenance import collect_manifests

with smk.job(snakemake):
    df = collect_manifests("results")
    df.to_csv(snakemake.output[0], index=False)
    print(f"{len(df)} manifests")
