"""Snakemake entry: rule best_of_n_sample (a size's n_max samples per prompt, proxy- and gold-scored)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.io import read_jsonl, write_jsonl
from overopt.core.runtime import derive_seed
from overopt.evaluate.best_of_n_draws import draw
from overopt.pipeline import job

size = snakemake.wildcards.size
with job.context(snakemake, seed_parts=(size,)):
    cfg = snakemake.config
    ev, bon = cfg["evaluation"], cfg["best_of_n"]
    draws = draw(
        sft_dir=snakemake.input.ref,
        reward_model_dir=snakemake.input.reward_model,
        posts=read_jsonl(snakemake.input.eval)[: ev["n_prompts"]],
        ev=ev,
        n_max=int(bon["n_max"]),
        seed=derive_seed(int(bon["seed"]), "best_of_n", size),
    )
    write_jsonl(snakemake.output.draws, draws)
    print(f"{len(draws)} prompts x {bon['n_max']} samples")
