"""Snakemake entry: rule prepare_data."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.data import prepare as data_prep
from overopt.pipeline import job

with job.context(snakemake):
    out = dict(snakemake.output.items())
    if snakemake.config["task"]["type"] == "synthetic":
        counts = data_prep.prepare_synthetic(snakemake.config, out)
    else:
        counts = data_prep.prepare_hub(snakemake.config, out)
    print("rows written:", counts)
