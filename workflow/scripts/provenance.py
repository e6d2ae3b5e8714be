"""Snakemake entry: rule provenance (every artifact's manifest in one table, for the report)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.pipeline import job
from overopt.pipeline.provenance import collect_manifests, manifest_path

with job.context(snakemake):
    # not the table's own manifest from a previous run (it is written after the table)
    df = collect_manifests("results", exclude=manifest_path(snakemake.output[0]))
    df.to_csv(snakemake.output[0], index=False)
    print(f"{len(df)} manifests")
