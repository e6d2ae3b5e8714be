"""Snakemake entry: rule toy_mdp (the paper's toy tree MDP, Finding 6)."""

from overopt import smk
from overopt.io import write_json
from overopt.toy_mdp import findings_row, run, write_table
from overopt.toy_mdp_plot import plot

with smk.job(snakemake):
    df = run(snakemake.config.get("toy_mdp"), threads=int(snakemake.threads))
    write_table(df, snakemake.output.table)
    plot(df, snakemake.output.png, snakemake.output.pdf)
    row = findings_row(df)
    write_json(snakemake.output.findings, row)
    print(row["verdict"], "-", row["criterion"])
