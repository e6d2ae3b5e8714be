"""Snakemake entry: rule evaluate (one policy: samples, KL, judge, metrics)."""

from overopt.core import smk
from overopt.core.io import read_jsonl, write_json, write_jsonl
from overopt.evaluate.policy import evaluate_policy

wc = snakemake.wildcards
with smk.job(snakemake, seed_parts=(wc.size, wc.policy)):
    cfg = snakemake.config
    ev = cfg["evaluation"]
    info = snakemake.params.info
    rows, metrics = evaluate_policy(
        policy_id=f"{wc.size}/{wc.policy}",
        policy_dir=snakemake.input.policy,
        ref_dir=snakemake.input.ref,
        posts=read_jsonl(snakemake.input.eval)[: ev["n_prompts"]],
        heldout_pairs=read_jsonl(snakemake.input.heldout)[: ev.get("heldout_pairs", 500)],
        ev=ev,
        judge_cfg=cfg["judge"],
        seed=int(cfg["seed"]),  # the same judge order randomisation seed for every policy
        beta=info["beta"],
        temperature=info["temperature"],
        gold_available=cfg["task"]["type"] == "synthetic",
        judge_cache_dir=snakemake.params.cache_dir,
    )
    write_jsonl(snakemake.output.samples, rows)
    write_json(snakemake.output.metrics, {**info, **metrics})
    print({k: metrics[k] for k in ("win_rate", "kl", "kl_exact", "mean_length")})
