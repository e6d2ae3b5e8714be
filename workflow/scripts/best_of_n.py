"""Snakemake entry: rule best_of_n (a size's drawn samples judged; its best-of-n curves)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.io import read_json, read_jsonl, write_json, write_jsonl
from overopt.evaluate.best_of_n_curves import curves, judge_draws
from overopt.evaluate.judges import make_judge
from overopt.pipeline import job

size = snakemake.wildcards.size
with job.context(snakemake, seed_parts=(size,)):
    cfg = snakemake.config
    ev, bon = cfg["evaluation"], cfg["best_of_n"]
    seed = int(cfg["seed"])  # the bootstrap's seed, as for every other policy
    judge = make_judge(cfg["judge"], seed=seed, cache_dir=snakemake.params.cache_dir)
    posts = read_jsonl(snakemake.input.eval)[: ev["n_prompts"]]
    scored = judge_draws(read_jsonl(snakemake.input.draws), posts, judge)
    write_jsonl(snakemake.output.scored, scored)
    points = curves(
        scored,
        size=size,
        n_max=int(bon["n_max"]),
        ev=ev,
        seed=seed,
        judge_name=getattr(judge, "name", cfg["judge"]["type"]),
        rm_accuracy=read_json(snakemake.input.accuracy)["accuracy_noisy"],
    )
    outputs = zip(snakemake.output.samples, snakemake.output.metrics, points, strict=True)
    for samples_path, metrics_path, (policy, rows, metrics) in outputs:
        write_jsonl(samples_path, rows)
        write_json(metrics_path, metrics)
        print(policy, {k: round(metrics[k], 4) for k in ("win_rate", "kl", "kl_exact", "mean_length")})
