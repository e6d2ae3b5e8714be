"""Snakemake entry: rule toy_mdp (the paper's toy tree MDP, Finding 6)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.io import write_json
from overopt.pipeline import job
from overopt.toy.mdp import findings_row, run, write_table
from overopt.toy.plot import plot

with job.context(snakemake):
    df = run(snakemake.config.get("toy_mdp"), threads=int(snakemake.threads))
    write_table(df, snakemake.output.table)
    plot(df, snakemake.output.png, snakemake.output.pdf)
    row = findings_row(df)
    write_json(snakemake.output.findings, row)
    print(row["verdict"], "-", row["criterion"])
