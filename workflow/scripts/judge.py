"""Snakemake entry: rules judge and judge_sft (one evaluation group's samples: verdicts, metrics)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.io import read_jsonl, write_json, write_jsonl
from overopt.evaluate.judge_samples import judge_group
from overopt.evaluate.judges import make_judge
from overopt.pipeline import job

wc = snakemake.wildcards
with job.context(snakemake, seed_parts=tuple(wc)):
    cfg = snakemake.config
    sampled = read_jsonl(snakemake.input.samples)
    infos = snakemake.params.infos
    if [r["policy"] for r in sampled] != [i["policy"] for i in infos]:
        raise ValueError(
            f"{snakemake.input.samples} holds the policies {[r['policy'] for r in sampled]}, "
            f"this rule writes {[i['policy'] for i in infos]}: rerun the sample rule"
        )
    seed = int(cfg["seed"])  # the same judge order randomisation and bootstrap seed for every policy
    judge = make_judge(cfg["judge"], seed=seed, cache_dir=snakemake.params.cache_dir)
    judged = judge_group(
        sampled=sampled,
        posts={p["id"]: p for p in read_jsonl(snakemake.input.eval)},
        size=wc.size,
        judge=judge,
        judge_type=cfg["judge"]["type"],
        ev=cfg["evaluation"],
        seed=seed,
        gold_available=cfg["task"]["type"] == "synthetic",
    )
    outputs = zip(snakemake.output.samples, snakemake.output.metrics, infos, judged, strict=True)
    for samples_path, metrics_path, info, (rows, metrics) in outputs:
        write_jsonl(samples_path, rows)
        write_json(metrics_path, {**info, **metrics})
        print(info["policy"], {k: metrics[k] for k in ("win_rate", "kl", "kl_exact", "mean_length")})
