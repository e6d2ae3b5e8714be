"""Snakemake entry: rule daa (one size, objective and beta; checkpoints through the epoch)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core import config as C
from overopt.core.io import read_jsonl
from overopt.core.runs import Run, checkpoint_steps
from overopt.pipeline import job
from overopt.pipeline.canonical import settings_hash
from overopt.pipeline.launch import relaunch_if_distributed
from overopt.train.daa import train_daa

wc = snakemake.wildcards
opts = C.run_options(snakemake.config, "daa", wc.size, wc.objective)
relaunch_if_distributed(int(snakemake.resources.get("gpu", 0)), opts.get("processes", 1))
with job.context(snakemake, seed_parts=(wc.size, wc.objective, wc.beta)) as seed:
    cfg = snakemake.config
    ref = {r["id"]: r for r in read_jsonl(snakemake.input.ref_logps)}
    info = train_daa(
        pairs=read_jsonl(snakemake.input.pairs),
        ref_logps=ref,
        sft_dir=snakemake.input.model,
        run=Run(wc.size, wc.objective, wc.beta),
        objective=cfg["objectives"][wc.objective],
        opts=C.run_options(cfg, "daa", wc.size, wc.objective),
        checkpoint_steps=checkpoint_steps(cfg, wc.size),
        checkpoint_outputs=list(snakemake.output.checkpoints),
        history_path=snakemake.output.history,
        state_dir=snakemake.params.state_dir,
        seed=seed,
        state_key=settings_hash(snakemake.params.settings, snakemake.params.code),
    )
    job.record(**{k: v for k, v in info.items() if k != "train_runtime_s"})  # timings stay in the log
    print(info)
