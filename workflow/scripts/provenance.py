"""Snakemake entry: rule provenance (every artifact's manifest in one table, for the report)."""

from overopt.core import smk
from overopt.core.provenance import collect_manifests

with smk.job(snakemake):
    df = collect_manifests("results")
    df.to_csv(snakemake.output[0], index=False)
    print(f"{len(df)} manifests")
