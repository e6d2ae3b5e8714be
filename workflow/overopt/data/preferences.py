"""The preferences rule: pair the candidates and label each pair like a noisy human annotator.

The label follows Bradley-Terry on the gold reward, P(a preferred) = sigmoid((r*(a) - r*(b)) / t),
with the annotator temperature t set by bisection so that the expected agreement with the
noiseless gold preference equals ``preferences.label_agreement`` (humans agree 70-75%).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from typing import Any

from overopt.core.runtime import derive_seed
from overopt.data import gold


def annotator_temperature(diffs: list[float], agreement: float) -> float:
    """t such that mean sigmoid(|d| / t) over non-tied pairs equals ``agreement``."""
    gaps = [abs(d) for d in diffs if d != 0]
    if not gaps:
        raise ValueError("every candidate pair has equal gold reward: nothing to label")

    def expected(t: float) -> float:
        return statistics.fmean(gold.sigmoid(g / t) for g in gaps)

    lo, hi = 1e-4, 1e4
    for _ in range(200):  # expected() falls from 1 towards 0.5 as t grows
        mid = math.sqrt(lo * hi)
        if expected(mid) > agreement:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def make_pairs(
    posts: list[dict[str, str]], candidates: list[dict[str, Any]], cfg: dict[str, Any], seed: int
) -> list[dict[str, Any]]:
    """``pairs_per_post`` unlabelled pairs per post.

    Policy vs policy with probability ``p_policy_pair``, else policy vs perturbed reference.
    """
    pcfg = cfg["preferences"]
    by_post: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in candidates:
        by_post[c["post_id"]].append(c)
    pairs = []
    for post in posts:
        rng = random.Random(derive_seed(seed, "pairs", post["id"]))
        cands = by_post[post["id"]]
        policy = [c for c in cands if c["source"].startswith("sft:")]
        other = [c for c in cands if not c["source"].startswith("sft:")]
        used: set[frozenset[str]] = set()
        for k in range(int(pcfg["pairs_per_post"])):
            want_policy = rng.random() < float(pcfg.get("p_policy_pair", 0.75))
            pools = (
                [(policy, policy), (policy, other)] if want_policy else [(policy, other), (policy, policy)]
            )
            pair = None
            for left, right in [*pools, (cands, cands)]:
                options = [
                    (a, b)
                    for a in left
                    for b in right
                    if a["completion"] != b["completion"]
                    and frozenset((a["completion"], b["completion"])) not in used
                ]
                if options:
                    pair = rng.choice(options)
                    break
            if pair is None:  # every distinct pair is taken: label one again (annotators do see repeats)
                options = [(a, b) for a in cands for b in cands if a["completion"] != b["completion"]]
                if not options:
                    raise ValueError(
                        f"post {post['id']}: fewer than two distinct candidate summaries to pair"
                    )
                pair = rng.choice(options)
            a, b = pair if rng.random() < 0.5 else pair[::-1]
            used.add(frozenset((a["completion"], b["completion"])))
            pairs.append(
                {"id": f"{post['id']}-p{k}", "post_id": post["id"], "prompt": post["prompt"], "a": a, "b": b}
            )
    return pairs


def label_pairs(
    pairs: list[dict[str, Any]], agreement: float, seed: int
) -> tuple[list[dict[str, Any]], float]:
    """Noisy Bradley-Terry labels; returns the labelled rows and the annotator temperature."""
    diffs = [
        gold.reward(p["prompt"], p["a"]["completion"]) - gold.reward(p["prompt"], p["b"]["completion"])
        for p in pairs
    ]
    temp = annotator_temperature(diffs, agreement)
    rows = []
    for p, d in zip(pairs, diffs, strict=True):
        rng = random.Random(derive_seed(seed, "label", p["id"]))
        a_wins = rng.random() < gold.sigmoid(d / temp)
        w, lo = (p["a"], p["b"]) if a_wins else (p["b"], p["a"])
        r_w = gold.reward(p["prompt"], w["completion"])
        r_l = gold.reward(p["prompt"], lo["completion"])
        rows.append(
            {
                "id": p["id"],
                "post_id": p["post_id"],
                "prompt": p["prompt"],
                "chosen": w["completion"],
                "rejected": lo["completion"],
                "chosen_source": w["source"],
                "rejected_source": lo["source"],
                "gold_chosen": r_w,
                "gold_rejected": r_l,
            }
        )
    return rows, temp


def statistics_of(rows: list[dict[str, Any]], references: dict[str, str], temp: float) -> dict[str, Any]:
    """What the preference set looks like: sizes, lengths, label agreement, the length correlate."""

    def lengths(texts: list[str]) -> dict[str, float]:
        n = sorted(len(t.split()) for t in texts)
        q = statistics.quantiles(n, n=10) if len(n) > 1 else [n[0]] * 9
        return {"mean": round(statistics.fmean(n), 4), "p10": q[0], "p50": q[4], "p90": q[8], "max": n[-1]}

    decided = [r for r in rows if r["gold_chosen"] != r["gold_rejected"]]
    differ_len = [r for r in rows if len(r["chosen"].split()) != len(r["rejected"].split())]
    inv = [
        (gold.score(r["prompt"], r["chosen"]).wrong_facts, gold.score(r["prompt"], r["rejected"]).wrong_facts)
        for r in rows
    ]
    inv_differ = [(c, rj) for c, rj in inv if c != rj]
    sources: dict[str, int] = defaultdict(int)
    for r in rows:
        kind = (
            "policy_vs_policy"
            if r["chosen_source"].startswith("sft:") and r["rejected_source"].startswith("sft:")
            else "policy_vs_perturbed"
        )
        sources[kind] += 1
    return {
        "n_pairs": len(rows),
        "n_posts": len({r["post_id"] for r in rows}),
        "pair_kinds": dict(sorted(sources.items())),
        "annotator_temperature": round(temp, 6),
        "label_agreement_with_noiseless": round(
            sum(r["gold_chosen"] > r["gold_rejected"] for r in decided) / max(1, len(decided)), 4
        ),
        "tied_gold_pairs": len(rows) - len(decided),
        "longer_wins": round(
            sum(len(r["chosen"].split()) > len(r["rejected"].split()) for r in differ_len)
            / max(1, len(differ_len)),
            4,
        ),
        "chosen_fewer_invented_when_differ": round(
            sum(c < rj for c, rj in inv_differ) / max(1, len(inv_differ)), 4
        ),
        "length_tokens": {
            "reference": lengths([references[r["post_id"]] for r in rows]),
            "chosen": lengths([r["chosen"] for r in rows]),
            "rejected": lengths([r["rejected"] for r in rows]),
        },
        "gold_reward_mean": {
            "chosen": round(statistics.fmean(r["gold_chosen"] for r in rows), 4),
            "rejected": round(statistics.fmean(r["gold_rejected"] for r in rows), 4),
        },
    }
