"""Snakemake entry: rule reward_model (a proxy reward model per size, from its SFT model)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core import config as C
from overopt.core.io import read_jsonl, write_json
from overopt.pipeline import job
from overopt.train.reward_model import train_reward_model

size = snakemake.wildcards.size
with job.context(snakemake, seed_parts=(size,)) as seed:
    info = train_reward_model(
        pairs=read_jsonl(snakemake.input.pairs),
        heldout=read_jsonl(snakemake.input.heldout)[
            : snakemake.config["evaluation"].get("heldout_pairs", 500)
        ],
        sft_dir=snakemake.input.model,
        out_dir=snakemake.output.model,
        history_path=snakemake.output.history,
        opts=C.run_options(snakemake.config, "reward_model", size),
        seed=seed,
        scratch_dir=job.scratch_dir(snakemake),
    )
    runtime_s = info.pop("train_runtime_s")  # timings stay in the log
    write_json(snakemake.output.accuracy, {"model_size": size, **info})
    print(info, f"train_runtime_s={runtime_s:.1f}")
