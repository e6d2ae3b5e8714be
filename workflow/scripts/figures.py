"""Snakemake entry: rule figures (results/figures/{figure1,intra_epoch,length,implicit_acc}.{png,pdf}).

input: ``table`` (evaluations.csv), ``fits`` (fits.csv). output: the figure files, all in one
directory; each must be one that ``overopt.figures.make_all`` writes.
"""

import os

import pandas as pd

from overopt import smk
from overopt.figures import make_all

with smk.job(snakemake):
    outputs = [os.path.normpath(p) for p in snakemake.output]
    outdirs = {os.path.dirname(p) for p in outputs}
    if len(outdirs) != 1:
        raise ValueError(f"figure outputs must share one directory, got {sorted(outdirs)}")
    written = make_all(pd.read_csv(snakemake.input.table), pd.read_csv(snakemake.input.fits), outdirs.pop())
    missing = sorted(set(outputs) - {os.path.normpath(p) for p in written})
    if missing:
        raise ValueError(f"outputs not produced by overopt.figures.make_all: {missing}")
    print("\n".join(map(str, written)))
