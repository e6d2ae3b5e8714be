"""Snakemake entry: rule fit (results/tables/fits.csv).

input: ``table`` (evaluations.csv), ``samples`` (every policy's samples.jsonl, as
``results/eval/[replicate-<k>/]{size}/{policy}/samples.jsonl``). config: ``fit`` (offset, bootstrap, ci).
"""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)
import pandas as pd

from overopt.analysis.fit import fit_replicates, load_replicate_samples
from overopt.analysis.tables import objective_specs
from overopt.core.io import write_csv
from overopt.pipeline import job

with job.context(snakemake) as seed:
    evaluations = pd.read_csv(snakemake.input.table)
    samples = load_replicate_samples(list(snakemake.input.samples), evaluations)
    fits = fit_replicates(
        evaluations, samples, snakemake.config["fit"], seed, objective_specs(snakemake.config["objectives"])
    )
    write_csv(fits, snakemake.output[0])
    print(fits.to_string(max_rows=40))
