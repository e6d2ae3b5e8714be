"""Snakemake entry: rule ref_logps (once per size; shared by every objective and beta)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core import config as C
from overopt.core.io import read_jsonl, write_jsonl
from overopt.pipeline import job
from overopt.train.daa import compute_ref_logps

with job.context(snakemake, seed_parts=(snakemake.wildcards.size,)) as seed:
    size = snakemake.wildcards.size
    rows = compute_ref_logps(
        read_jsonl(snakemake.input.pairs),
        sft_dir=snakemake.input.model,
        opts=C.run_options(snakemake.config, "daa", size),
        seed=seed,
        scratch_dir=job.scratch_dir(snakemake),
    )
    print(f"{write_jsonl(snakemake.output[0], rows)} pairs scored")
