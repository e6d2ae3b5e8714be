"""Snakemake entry: rule daa (one size, objective and beta; checkpoints through the epoch)."""

from overopt import config as C
from overopt import smk
from overopt.daa import RunSpec, train_daa
from overopt.io import read_jsonl
from overopt.launch import relaunch_if_multi_gpu

wc = snakemake.wildcards
relaunch_if_multi_gpu(int(snakemake.resources.get("gpu", 0)))
with smk.job(snakemake, seed_parts=(wc.size, wc.objective, wc.beta)) as seed:
    cfg = snakemake.config
    ref = {r["id"]: r for r in read_jsonl(snakemake.input.ref_logps)}
    info = train_daa(
        pairs=read_jsonl(snakemake.input.pairs),
        ref_logps=ref,
        sft_dir=snakemake.input.model,
        run=RunSpec(wc.size, wc.objective, float(wc.beta)),
        objective=cfg["objectives"][wc.objective],
        opts=C.merged(cfg, "daa", wc.size),
        checkpoint_steps=C.checkpoint_steps(cfg, wc.size),
        checkpoint_outputs=list(snakemake.output.checkpoints),
        history_path=snakemake.output.history,
        state_dir=snakemake.params.state_dir,
        seed=seed,
    )
    smk.record(**{k: v for k, v in info.items() if k != "train_runtime_s"})  # timings stay in the log
    print(info)
