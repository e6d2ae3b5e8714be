"""Snakemake entry: rule pooled (results/tables/pooled.csv).

input: ``table`` (evaluations.csv, every replicate), ``samples`` (every policy's samples.jsonl in
every replicate). config: ``fit`` (bootstrap, ci: the analysis stage's bootstrap).
"""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)
import pandas as pd

from overopt.analysis import per_prompt
from overopt.analysis.pooled_table import table
from overopt.core.io import write_csv
from overopt.pipeline import job

with job.context(snakemake) as seed:
    boot = snakemake.config["fit"]
    evaluations = pd.read_csv(snakemake.input.table)
    out = table(
        per_prompt.load(evaluations, list(snakemake.input.samples)),
        (int(boot.get("bootstrap", 1000)), float(boot.get("ci", 0.95)), seed),
    )
    write_csv(out, snakemake.output[0])
    print(out.to_string(max_rows=40))
