"""Snakemake entry: rule figures (results/figures/<name>.{png,pdf} for every registered figure).

input: ``table`` (evaluations.csv), ``fits`` (fits.csv). output: the figure files, all in one
directory; each must be one that ``overopt.analysis.figures.make_all`` writes.
"""

import os

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)
import pandas as pd

from overopt.analysis.figures import make_all
from overopt.analysis.tables import objective_specs
from overopt.pipeline import job

with job.context(snakemake):
    outputs = [os.path.normpath(p) for p in snakemake.output]
    outdirs = {os.path.dirname(p) for p in outputs}
    if len(outdirs) != 1:
        raise ValueError(f"figure outputs must share one directory, got {sorted(outdirs)}")
    written = make_all(
        pd.read_csv(snakemake.input.table),
        pd.read_csv(snakemake.input.fits),
        objective_specs(snakemake.config["objectives"]),
        outdirs.pop(),
    )
    missing = sorted(set(outputs) - {os.path.normpath(p) for p in written})
    if missing:
        raise ValueError(f"outputs not produced by overopt.analysis.figures.make_all: {missing}")
    print("\n".join(map(str, written)))
