"""Snakemake entry: rule findings (results/findings.md).

input: ``table`` (evaluations.csv, every replicate), ``fits`` (fits.csv), ``samples`` (every
policy's samples.jsonl in every replicate, for the pooled statistics) and, optionally, ``toy``
(the toy MDP's findings JSON, finding 6) and ``reward_models`` (the proxy reward models' table).
"""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)
import pandas as pd

from overopt.analysis import per_prompt
from overopt.analysis.findings import findings_markdown
from overopt.analysis.report_html import markdown_to_html
from overopt.analysis.tables import objective_specs
from overopt.core.io import read_json, write_text
from overopt.pipeline import job

with job.context(snakemake) as seed:
    cfg = snakemake.config
    evaluations = pd.read_csv(snakemake.input.table)
    toy, rm = snakemake.input.get("toy"), snakemake.input.get("reward_models")
    boot = cfg["fit"]  # the analysis stage's bootstrap (fits and findings)
    text = findings_markdown(
        evaluations,
        pd.read_csv(snakemake.input.fits),
        read_json(toy) if toy else None,
        objective_specs(cfg["objectives"]),
        pooled=per_prompt.load(evaluations, list(snakemake.input.samples)),
        reward_models=pd.read_csv(rm) if rm else None,
        bootstrap=(int(boot.get("bootstrap", 1000)), float(boot.get("ci", 0.95)), seed),
    )
    write_text(snakemake.output.md, text)
    write_text(snakemake.output.html, markdown_to_html(text, title="Findings"))
    print(text)
