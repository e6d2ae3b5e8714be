"""Snakemake entry: rule findings (results/findings.md).

input: ``table`` (evaluations.csv), ``fits`` (fits.csv) and, optionally, ``toy`` (the toy
MDP's findings JSON, finding 6).
"""

import pandas as pd

from overopt.analysis.findings import findings_markdown
from overopt.analysis.report_html import markdown_to_html
from overopt.core import smk
from overopt.core.io import read_json, write_text
from overopt.core.objectives import specs

with smk.job(snakemake):
    toy = snakemake.input.get("toy")
    text = findings_markdown(
        pd.read_csv(snakemake.input.table),
        pd.read_csv(snakemake.input.fits),
        read_json(toy) if toy else None,
        specs(snakemake.config["objectives"]),
    )
    write_text(snakemake.output.md, text)
    write_text(snakemake.output.html, markdown_to_html(text, title="Findings"))
    print(text)
