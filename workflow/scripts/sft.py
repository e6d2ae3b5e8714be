"""Snakemake entry: rule sft."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core import config as C
from overopt.core.io import read_jsonl
from overopt.pipeline import job
from overopt.pipeline.launch import relaunch_if_distributed
from overopt.train.sft import train_sft

opts = C.run_options(snakemake.config, "sft", snakemake.wildcards.size)
relaunch_if_distributed(int(snakemake.resources.get("gpu", 0)), opts.get("processes", 1))
with job.context(snakemake, seed_parts=(snakemake.wildcards.size,)) as seed:
    size = snakemake.wildcards.size
    info = train_sft(
        read_jsonl(snakemake.input.data),
        out_dir=snakemake.output.model,
        history_path=snakemake.output.history,
        model_cfg=snakemake.config["models"][size],
        tokenizer_path=snakemake.params.tokenizer,
        opts=C.run_options(snakemake.config, "sft", size),
        seed=seed,
        scratch_dir=job.scratch_dir(snakemake),
    )
    job.record(**{k: v for k, v in info.items() if k != "train_runtime_s"})  # timings stay in the log
    print(info)
