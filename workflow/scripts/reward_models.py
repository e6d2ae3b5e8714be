"""Snakemake entry: rule reward_models (results/tables/reward_models.csv: every proxy reward model)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)
import pandas as pd

from overopt.core import replicates
from overopt.core.io import read_json, write_csv
from overopt.pipeline import job

with job.context(snakemake):
    table = pd.DataFrame([{"replicate": replicates.of_path(p), **read_json(p)} for p in snakemake.input])
    first = ["replicate", "model_size"]
    table = table[[*first, *(c for c in table.columns if c not in first)]]
    write_csv(table, snakemake.output[0])
    print(table.to_string())
