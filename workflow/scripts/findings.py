"""Snakemake entry: rule findings (results/findings.md).

input: ``table`` (evaluations.csv), ``fits`` (fits.csv), ``samples`` (every policy's
samples.jsonl, for paired comparisons) and, optionally, ``toy`` (the toy MDP's findings JSON,
finding 6) and ``reward_models`` (the proxy reward models' table).
"""

import pandas as pd

from overopt.analysis.findings import findings_markdown
from overopt.analysis.fit import load_replicate_samples, replicate_table
from overopt.analysis.report_html import markdown_to_html
from overopt.core import smk
from overopt.core.io import read_json, write_text
from overopt.core.objectives import specs

with smk.job(snakemake) as seed:
    every = pd.read_csv(snakemake.input.table)
    evaluations = replicate_table(every, 0)
    toy, rm = snakemake.input.get("toy"), snakemake.input.get("reward_models")
    ev = snakemake.config["evaluation"]
    text = findings_markdown(
        evaluations,
        replicate_table(pd.read_csv(snakemake.input.fits), 0),
        read_json(toy) if toy else None,
        specs(snakemake.config["objectives"]),
        samples=load_replicate_samples(list(snakemake.input.samples), every).get(0),
        reward_models=replicate_table(pd.read_csv(rm), 0) if rm else None,
        bootstrap=(int(ev.get("bootstrap", 1000)), float(ev.get("ci", 0.95)), seed),
    )
    write_text(snakemake.output.md, text)
    write_text(snakemake.output.html, markdown_to_html(text, title="Findings"))
    print(text)
