"""Snakemake entry: rule tokenizer (word-level, trained on the synthetic corpus)."""

import checkout_package  # noqa: F401 (first: the checkout's overopt package, in any environment)

from overopt.core.io import atomic_dir, read_jsonl
from overopt.data import synthetic
from overopt.lm.tokenizer import train_word_tokenizer
from overopt.pipeline import job

with job.context(snakemake):
    rows = read_jsonl(snakemake.input.sft)
    corpus = [r["prompt"] + r["reference"] for r in rows]
    corpus.append(" ".join(synthetic.vocabulary()))  # every word gets an id, seen or not
    with atomic_dir(snakemake.output[0]) as tmp:
        tok = train_word_tokenizer(corpus, tmp)
    print(f"vocabulary: {len(tok)} tokens")
