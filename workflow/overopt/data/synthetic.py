"""The embedded synthetic TL;DR task: seeded posts, noisy reference TL;DRs, perturbations.

A post is a handful of ``entity relation value`` facts, each introduced by a salience word
(3: importantly/crucially/notably, 2: also/plus/besides, 1: btw/incidentally/apparently),
with short filler clauses between them, and ends with ``tldr :``. The facts appear in
salience order (random within a class), which makes copying learnable by tiny models in
minutes (README: Design choices). A summary is facts joined by ``;``. Tiny models copy a
fact's relation and value by its place after the previous fact, not by its entity, so noise
that skips facts (the default, the prototypes') makes their samples mix facts;
``reference_noise="tail"`` keeps every reference a prefix of the post's facts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ENTITIES = (
    "alice bob carol dave erin frank grace heidi ivan judy kate leo mia nick olga pete quinn rosa sam tina"
).split()
RELATIONS = "owns likes fears visited sold lost found painted fixed bought wants hates".split()
VALUES = (
    "car dog cat boat house piano bike lamp clock phone "
    "garden drum kite radio sofa tent violin wagon yacht zebra"
).split()
SALIENCE_WORDS = {
    3: ("importantly", "crucially", "notably"),
    2: ("also", "plus", "besides"),
    1: ("btw", "incidentally", "apparently"),
}
FILLER = (
    "so the day was long and i think it is fine but well anyway you know "
    "we went there then came back later honestly it felt weird kind of "
    "maybe just a bit much for me really"
).split()
SEPARATOR = ";"
PROMPT_END = ("tldr", ":")
# a reference's habit (``TaskParams.habit``): a chatty tag after the facts, from the filler words,
# which the gold reward charges as junk (overopt.data.gold)
HABIT_TAGS = (("you", "know"), ("kind", "of"), ("i", "think"))


def vocabulary() -> list[str]:
    """Every word a post or summary can contain, in a fixed order."""
    words: list[str] = []
    for group in (ENTITIES, RELATIONS, VALUES, *SALIENCE_WORDS.values(), FILLER):
        words.extend(w for w in group if w not in words)
    for w in (SEPARATOR, *PROMPT_END):
        if w not in words:
            words.append(w)
    return words


Fact = tuple[str, str, str]
REFERENCE_NOISE = ("random", "tail")


@dataclass(frozen=True)
class TaskParams:
    """Knobs of the generator (config ``task.synthetic``)."""

    min_facts: int = 3
    max_facts: int = 5
    max_filler_clauses: int = 2
    max_filler_words: int = 3
    reference_max_facts: int = 3
    reference_min_salience: int = 2
    p_drop: float = 0.2
    p_add_low: float = 0.25
    distinct_relations: bool = True
    distinct_values: bool = True
    # "random" (the prototypes'): drop any salient fact, add any minor one. "tail": drop the last
    # salient fact, or add the first minor one, so a reference is always a prefix of the post's
    # facts; tiny models copy by place, so skips make their samples mix facts (README).
    reference_noise: str = "random"
    prompt_start: str = ""  # fixed first words of every post, e.g. "post :" (TL;DR's "POST:")
    # share of posts whose facts come in random order, not by salience: the summary must then
    # find its facts by their salience words, not by their place
    unsorted: float = 0.0
    # share of references that end with a chatty tag (``HABIT_TAGS``, after a separator): above
    # one half, the SFT policy's most likely summary carries it, and only preferences remove it
    habit: float = 0.0

    def __post_init__(self) -> None:
        for name in ("unsorted", "habit", "p_drop", "p_add_low"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"config key 'task.synthetic.generator.{name}': {getattr(self, name)!r} is not a "
                    "probability in [0, 1]"
                )
        if self.reference_noise not in REFERENCE_NOISE:
            raise ValueError(
                f"config key 'task.synthetic.generator.reference_noise': {self.reference_noise!r} "
                f"is not allowed; allowed: {', '.join(REFERENCE_NOISE)}"
            )


def params_from_config(cfg: dict[str, Any]) -> TaskParams:
    """Generator parameters (``task.synthetic.generator`` overrides the defaults)."""
    overrides = cfg["task"]["synthetic"].get("generator") or {}
    unknown = set(overrides) - set(TaskParams.__dataclass_fields__)
    if unknown:
        allowed = ", ".join(TaskParams.__dataclass_fields__)
        raise ValueError(
            f"config key 'task.synthetic.generator': unknown {sorted(unknown)}; allowed: {allowed}"
        )
    return TaskParams(**overrides)


@dataclass(frozen=True)
class Post:
    """One generated post: its text and the facts it states with their salience."""

    id: str
    text: str
    facts: tuple[tuple[Fact, int], ...] = field(default_factory=tuple)


def fact_text(fact: Fact) -> str:
    """``entity relation value``."""
    return " ".join(fact)


def summary_text(facts: Sequence[Fact]) -> str:
    """Facts joined by the separator; the completion starts with a space."""
    return " " + f" {SEPARATOR} ".join(fact_text(f) for f in facts)


def _filler(rng: random.Random, params: TaskParams) -> list[str]:
    words: list[str] = []
    for _ in range(rng.randint(0, params.max_filler_clauses)):
        words.extend(rng.choice(FILLER) for _ in range(rng.randint(1, params.max_filler_words)))
    return words


def make_post(rng: random.Random, post_id: str, params: TaskParams) -> Post:
    """Generate one post: facts with distinct entities, at least one of salience >= 2."""
    n = rng.randint(params.min_facts, params.max_facts)
    while True:
        saliences = [rng.choice((1, 2, 3)) for _ in range(n)]
        if max(saliences) >= params.reference_min_salience:
            break
    entities = rng.sample(ENTITIES, n)
    relations = (
        rng.sample(RELATIONS, n) if params.distinct_relations else [rng.choice(RELATIONS) for _ in range(n)]
    )
    values = rng.sample(VALUES, n) if params.distinct_values else [rng.choice(VALUES) for _ in range(n)]
    facts = [((e, r, v), s) for e, r, v, s in zip(entities, relations, values, saliences, strict=True)]
    # salience order, random within a class (shuffle then stable sort); or, in a share
    # ``unsorted`` of posts, random order (no draw when it is 0: the default task's posts unchanged)
    rng.shuffle(facts)
    if not (params.unsorted and rng.random() < params.unsorted):
        facts.sort(key=lambda fs: -fs[1])
    words: list[str] = params.prompt_start.split()
    for fact, sal in facts:
        words.extend(_filler(rng, params))
        words.append(rng.choice(SALIENCE_WORDS[sal]))
        words.extend(fact)
    words.extend(_filler(rng, params))
    words.extend(PROMPT_END)
    return Post(id=post_id, text=" ".join(words), facts=tuple(facts))


def make_reference(rng: random.Random, post: Post, params: TaskParams) -> str:
    """A noisy 'human' TL;DR: the salient facts in salience order (wherever the post states
    them), sometimes one dropped or a minor one added, and in a share ``habit`` a chatty tag."""
    by_salience = sorted(post.facts, key=lambda fs: -fs[1])  # stable: the post's order within a class
    salient = [f for f, s in by_salience if s >= params.reference_min_salience]
    minor = [f for f, s in by_salience if s < params.reference_min_salience]
    chosen = salient[: params.reference_max_facts]
    if params.reference_noise == "tail":
        text = summary_text(
            _tail_noise(rng, params, chosen, all_salient=len(chosen) == len(salient), minor=minor)
        )
    else:
        if len(chosen) >= 2 and rng.random() < params.p_drop:
            chosen.pop(rng.randrange(len(chosen)))
        if minor and rng.random() < params.p_add_low:
            chosen.append(rng.choice(minor))
        text = summary_text(chosen)
    if params.habit and rng.random() < params.habit:  # no draw when 0: the default task unchanged
        text += f" {SEPARATOR} " + " ".join(rng.choice(HABIT_TAGS))
    return text


def _tail_noise(
    rng: random.Random, params: TaskParams, chosen: list[Fact], all_salient: bool, minor: list[Fact]
) -> list[Fact]:
    """Drop the last chosen fact, or (all salient facts kept) add the first minor one."""
    if len(chosen) >= 2 and rng.random() < params.p_drop:
        return chosen[:-1]
    if minor and all_salient and rng.random() < params.p_add_low:
        return [*chosen, minor[0]]
    return chosen


def generate(n: int, seed: int, split: str, params: TaskParams) -> list[dict]:
    """``n`` posts with references for a split; the same seed and split give the same rows."""
    rng = random.Random(f"{seed}:{split}")
    rows = []
    for i in range(n):
        post = make_post(rng, f"{split}-{i:06d}", params)
        rows.append({"id": post.id, "prompt": post.text, "reference": make_reference(rng, post, params)})
    return rows


# ---------------------------------------------------------------------------------------------
# Perturbations of a reference: the non-policy part of the preference candidates.
# ---------------------------------------------------------------------------------------------


def parse_post(text: str) -> list[tuple[Fact, int]]:
    """Recover a post's facts and saliences from its text (the inverse of :func:`make_post`)."""
    sal_of = {w: s for s, ws in SALIENCE_WORDS.items() for w in ws}
    words = text.split()
    facts = []
    for i, w in enumerate(words):
        if w in sal_of and i + 3 < len(words):
            e, r, v = words[i + 1 : i + 4]
            if e in ENTITIES and r in RELATIONS and v in VALUES:
                facts.append(((e, r, v), sal_of[w]))
    return facts


def split_facts(summary: str) -> list[list[str]]:
    """A summary's chunks between separators, as word lists."""
    chunks: list[list[str]] = [[]]
    for w in summary.split():
        if w == SEPARATOR:
            chunks.append([])
        else:
            chunks[-1].append(w)
    return chunks


def perturb(rng: random.Random, post_text: str, reference: str) -> str:
    """One random edit of a reference: drop, add a true fact, add filler, invent a value, repeat."""
    facts = [tuple(c) for c in split_facts(reference) if len(c) == 3]
    post_facts = [f for f, _ in parse_post(post_text)]
    kind = rng.choice(("drop", "add_true", "filler", "invent", "repeat"))
    if kind == "drop" and len(facts) >= 2:
        facts.pop(rng.randrange(len(facts)))
        return summary_text(facts)
    if kind == "add_true":
        extra = [f for f in post_facts if f not in facts]
        if extra:
            facts.insert(rng.randrange(len(facts) + 1), rng.choice(extra))
            return summary_text(facts)
    if kind == "invent" and facts:
        i = rng.randrange(len(facts))
        e, r, v = facts[i]
        facts[i] = (e, r, rng.choice([x for x in VALUES if x != v]))
        return summary_text(facts)
    if kind == "repeat" and facts:
        facts.append(rng.choice(facts))
        return summary_text(facts)
    words = reference.split()
    pos = rng.randrange(len(words) + 1)
    filler = [rng.choice(FILLER) for _ in range(rng.randint(1, 3))]
    return " " + " ".join(words[:pos] + filler + words[pos:])
