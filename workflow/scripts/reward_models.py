"""Snakemake entry: rule reward_models (results/tables/reward_models.csv: each size's proxy RM)."""

import pandas as pd

from overopt.core import smk
from overopt.core.io import read_json, write_csv

with smk.job(snakemake):
    table = pd.DataFrame([read_json(p) for p in snakemake.input])
    table = table[["model_size", *(c for c in table.columns if c != "model_size")]]
    write_csv(table, snakemake.output[0])
    print(table.to_string())
