"""Snakemake entry: rule fit (results/tables/fits.csv).

input: ``table`` (evaluations.csv), ``samples`` (every policy's samples.jsonl, as
``results/eval/{size}/{policy}/samples.jsonl``). config: ``fit`` (offset, bootstrap, ci).
"""

import pandas as pd

from overopt import smk
from overopt.fit import fit_table, load_samples, write_fits

with smk.job(snakemake) as seed:
    evaluations = pd.read_csv(snakemake.input.table)
    samples = load_samples(list(snakemake.input.samples), evaluations)
    fits = fit_table(evaluations, samples, snakemake.config["fit"], seed)
    write_fits(fits, snakemake.output[0])
    print(fits.to_string(max_rows=40))
