"""Snakemake entry: rule metrics (results/metrics.json, the headline numbers DVC compares).

input: ``pooled`` (pooled.csv), ``fits`` (fits.csv). config: none.
"""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)
import pandas as pd

from overopt.analysis.metrics import headline
from overopt.core.io import dumps_json, write_json
from overopt.pipeline import job

with job.context(snakemake):
    out = headline(pd.read_csv(snakemake.input.pooled), pd.read_csv(snakemake.input.fits))
    write_json(snakemake.output[0], out)
    print(dumps_json(out))
