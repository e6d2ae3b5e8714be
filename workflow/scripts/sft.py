"""Snakemake entry: rule sft."""

from overopt import config as C
from overopt import smk
from overopt.io import read_jsonl
from overopt.provenance import write_manifest
from overopt.sft import train_sft

with smk.job(snakemake, seed_parts=(snakemake.wildcards.size,)) as seed:
    size = snakemake.wildcards.size
    info = train_sft(
        read_jsonl(snakemake.input.data),
        out_dir=snakemake.output.model,
        history_path=snakemake.output.history,
        model_cfg=snakemake.config["models"][size],
        tokenizer_path=snakemake.params.tokenizer,
        opts=C.merged(snakemake.config, "sft", size),
        seed=seed,
        scratch_dir=f"results/.scratch/sft/{size}",
    )
    write_manifest(snakemake.output.model, snakemake, seed=seed, extra=info)
    print(info)
