"""The candidates rule: summaries to compare, from every size's SFT policy plus perturbed references.

Each post gets, for every sampler ``{temperature, n}``, ``n`` samples, the j-th from size
``sizes[(post_index + j) % len(sizes)]``, so every size's own failure modes appear in the one
shared preference set; and ``perturbed_references`` random edits of its reference.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from overopt.core.runtime import derive_seed
from overopt.data import synthetic
from overopt.lm.generation import SampleConfig, sample
from overopt.lm.models import load_model
from overopt.lm.tokenizer import load_tokenizer


def generate_candidates(
    posts: list[dict[str, str]], models: dict[str, str], cfg: dict[str, Any], seed: int
) -> list[dict[str, Any]]:
    """Candidate rows ``{post_id, cand, source, completion, n_tokens}`` for every post."""
    cand_cfg = cfg["candidates"]
    sizes = list(models)
    jobs: dict[tuple[str, float], list[tuple[int, int]]] = defaultdict(list)  # (size, T) -> [(post, slot)]
    slot = 0
    for sampler in cand_cfg["samplers"]:
        for _ in range(int(sampler["n"])):
            for i in range(len(posts)):
                jobs[(sizes[(i + slot) % len(sizes)], float(sampler["temperature"]))].append((i, slot))
            slot += 1
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for size in sizes:
        model, tok = load_model(models[size]), load_tokenizer(models[size])
        for (sz, temp), items in jobs.items():
            if sz != size:
                continue
            scfg = SampleConfig(
                temperature=temp,
                max_new_tokens=int(cand_cfg.get("max_new_tokens", 24)),
                batch_size=int(cand_cfg.get("batch_size", 256)),
                seed=derive_seed(seed, "candidates", size, temp),
            )
            samples = sample(model, tok, [posts[i]["prompt"] for i, _ in items], scfg)
            for (i, s), smp in zip(items, samples, strict=True):
                out[(i, s)] = {
                    "source": f"sft:{size}@T{temp:g}",
                    "completion": smp.completion,
                    "n_tokens": smp.n_tokens,
                }
    rows = []
    for i, post in enumerate(posts):
        for s in range(slot):
            rows.append({"post_id": post["id"], "cand": s, **out[(i, s)]})
        rng = random.Random(derive_seed(seed, "perturb", post["id"]))
        texts = {out[(i, s)]["completion"] for s in range(slot)}
        n_perturbed = int(cand_cfg.get("perturbed_references", 1))
        k = 0
        # at least the configured perturbations, and more while the post has < 2 distinct summaries
        while k < n_perturbed or (len(texts) < 2 and k < n_perturbed + 20):
            text = synthetic.perturb(rng, post["prompt"], post["reference"])
            texts.add(text)
            rows.append(
                {
                    "post_id": post["id"],
                    "cand": slot + k,
                    "source": "perturbed_reference",
                    "completion": text,
                    "n_tokens": len(text.split()) + 1,
                }
            )
            k += 1
    return rows
