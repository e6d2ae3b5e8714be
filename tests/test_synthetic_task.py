"""The synthetic TL;DR task and its gold reward: the properties the study relies on."""

from __future__ import annotations

import random

import pytest

from overopt.data import gold, synthetic
from overopt.data.synthetic import TaskParams

POST = "so importantly alice owns car the day also bob likes dog btw carol fears cat well tldr :"


def test_parse_post_recovers_facts_and_salience():
    assert synthetic.parse_post(POST) == [
        (("alice", "owns", "car"), 3),
        (("bob", "likes", "dog"), 2),
        (("carol", "fears", "cat"), 1),
    ]


def test_covering_a_salient_fact_raises_the_reward():
    base = gold.reward(POST, " bob likes dog")
    assert gold.reward(POST, " alice owns car ; bob likes dog") == pytest.approx(base + 1.0)
    assert gold.reward(POST, " bob likes dog ; carol fears cat") == pytest.approx(base + 0.15)


def test_an_invented_or_wrong_fact_lowers_the_reward():
    base = gold.reward(POST, " alice owns car")
    assert gold.reward(POST, " alice owns car ; dave sold boat") == pytest.approx(base - 1.0)  # invented
    assert gold.reward(POST, " alice owns car ; bob likes cat") == pytest.approx(base - 1.0)  # wrong value


def test_repetition_filler_and_verbosity_past_the_budget_are_penalised():
    one = " alice owns car"
    assert gold.reward(POST, one + " ; alice owns car") == pytest.approx(gold.reward(POST, one) - 0.5)
    assert gold.reward(POST, one + " ; well so") == pytest.approx(gold.reward(POST, one) - 0.2)
    assert gold.reward(POST, one + " well") == pytest.approx(-0.4)  # filler inside a fact breaks it
    three = " alice owns car ; bob likes dog ; carol fears cat"  # 11 tokens: within the 12-token budget
    assert gold.score(POST, three).n_tokens == 11
    padded = three + " ; " + " ; ".join(["alice owns car"] * 2)  # 19 tokens, two repeats
    expected = gold.reward(POST, three) - 2 * 0.5 - 0.1 * (19 - 12)
    assert gold.reward(POST, padded) == pytest.approx(expected)


def test_a_run_on_summary_costs_the_missing_end():
    words = " ".join(["well"] * 23)
    assert gold.reward(POST, " " + words + " so") == pytest.approx(-0.1 * 24 - 0.1 * 12 - 1.0)


def test_ideal_summary_beats_the_noisy_reference_on_average():
    rows = synthetic.generate(300, 3, "eval", TaskParams())
    ideal = [gold.reward(r["prompt"], gold.ideal_summary(r["prompt"])) for r in rows]
    ref = [gold.reward(r["prompt"], r["reference"]) for r in rows]
    assert sum(i >= r for i, r in zip(ideal, ref, strict=True)) == len(rows)
    assert sum(ideal) > sum(ref)


def test_posts_state_facts_in_salience_order_with_distinct_entities():
    for r in synthetic.generate(200, 5, "sft", TaskParams()):
        facts = synthetic.parse_post(r["prompt"])
        assert 3 <= len(facts) <= 5
        sal = [s for _, s in facts]
        assert sal == sorted(sal, reverse=True) and max(sal) >= 2
        assert len({f[0] for f, _ in facts}) == len(facts)
        assert r["prompt"].endswith("tldr :") and r["reference"].startswith(" ")


def test_references_are_good_but_beatable():
    rows = synthetic.generate(2000, 11, "sft", TaskParams())
    scores = [gold.score(r["prompt"], r["reference"]) for r in rows]
    assert all(s.wrong_facts == 0 and s.repeats == 0 and s.junk_tokens == 0 for s in scores)
    ideal = [gold.reward(r["prompt"], gold.ideal_summary(r["prompt"])) for r in rows]
    beaten = sum(i > s.reward + 1e-9 for i, s in zip(ideal, scores, strict=True)) / len(rows)
    assert 0.2 < beaten < 0.8  # the noisy annotator drops or adds facts, but not always


def test_same_seed_same_bytes_other_seed_other_posts():
    a = synthetic.generate(50, 1, "sft", TaskParams())
    assert a == synthetic.generate(50, 1, "sft", TaskParams())
    assert a != synthetic.generate(50, 2, "sft", TaskParams())
    assert a != synthetic.generate(50, 1, "eval", TaskParams())


@pytest.mark.parametrize("seed", range(5))
def test_perturbations_stay_close_to_the_reference(seed):
    rng = random.Random(seed)
    r = synthetic.generate(1, seed, "x", TaskParams())[0]
    out = synthetic.perturb(rng, r["prompt"], r["reference"])
    assert out.startswith(" ") and out != "" and len(out.split()) <= 2 * len(r["reference"].split()) + 3


def test_judge_is_bradley_terry_on_the_gold_reward():
    a, b = " alice owns car", " bob likes dog"
    d = gold.reward(POST, a) - gold.reward(POST, b)
    assert gold.prob_a_beats_b(POST, a, b) == pytest.approx(gold.sigmoid(d / 0.25))
    assert gold.prob_a_beats_b(POST, a, b) + gold.prob_a_beats_b(POST, b, a) == pytest.approx(1.0)


def _facts(row: dict) -> tuple[list[tuple[tuple[str, str, str], int]], list[tuple[str, ...]]]:
    """A row's post facts with their salience, and its reference's facts."""
    return synthetic.parse_post(row["prompt"]), [tuple(c) for c in synthetic.split_facts(row["reference"])]


def test_tail_noise_keeps_every_reference_a_prefix_of_the_posts_facts():
    params = TaskParams(reference_noise="tail", prompt_start="post :")
    rows = synthetic.generate(2000, 11, "sft", params)
    kinds = set()
    for r in rows:
        assert r["prompt"].startswith("post : ") and r["prompt"].endswith("tldr :")
        post, ref = _facts(r)
        assert ref == [f for f, _ in post][: len(ref)], (r["prompt"], r["reference"])
        salient = [f for f, s in post if s >= params.reference_min_salience]
        kinds.add(len(ref) - min(len(salient), params.reference_max_facts))
    assert kinds == {-1, 0, 1}  # still noisy: some references drop the last fact, some add a minor one


def test_a_prompt_start_only_prefixes_the_same_posts():
    a = synthetic.generate(200, 3, "eval", TaskParams(prompt_start=""))
    b = synthetic.generate(200, 3, "eval", TaskParams(prompt_start="post :"))
    assert [r["prompt"] for r in b] == ["post : " + r["prompt"] for r in a]
    assert [r["reference"] for r in b] == [r["reference"] for r in a]


def test_random_noise_skips_facts():
    rows = synthetic.generate(500, 11, "sft", TaskParams(reference_noise="random"))
    skips = 0
    for r in rows:
        post, ref = _facts(r)
        skips += ref != [f for f, _ in post][: len(ref)]
    assert 0.05 < skips / len(rows) < 0.5


def test_unsorted_posts_keep_their_facts_and_references_list_them_by_salience():
    """A share ``unsorted`` of posts states its facts in random order; the reference still takes
    the salient ones by salience, wherever the post puts them; 0 leaves the task as it was."""
    base = TaskParams(reference_noise="tail", prompt_start="post :")
    assert synthetic.generate(300, 5, "sft", base) == synthetic.generate(
        300, 5, "sft", TaskParams(reference_noise="tail", prompt_start="post :", unsorted=0.0)
    )
    rows = synthetic.generate(2000, 5, "sft", TaskParams(reference_noise="tail", unsorted=0.5))
    out_of_order = 0
    for r in rows:
        post, ref = _facts(r)
        saliences = [s for _, s in post]
        out_of_order += saliences != sorted(saliences, reverse=True)
        by_salience = [f for f, _ in sorted(post, key=lambda fs: -fs[1])]
        assert ref == by_salience[: len(ref)], (r["prompt"], r["reference"])
    assert 0.25 < out_of_order / len(rows) < 0.5  # half shuffled; some shuffles land in order


def test_a_habit_tags_a_share_of_references_and_the_gold_reward_charges_it():
    rows = synthetic.generate(3000, 9, "sft", TaskParams(reference_noise="tail", habit=0.7))
    tagged = [r for r in rows if synthetic.split_facts(r["reference"])[-1] in map(list, synthetic.HABIT_TAGS)]
    assert 0.65 < len(tagged) / len(rows) < 0.75
    for r in tagged[:200]:
        clean = r["reference"].rsplit(f" {synthetic.SEPARATOR} ", 1)[0]
        assert gold.reward(r["prompt"], clean) > gold.reward(r["prompt"], r["reference"]) + 0.19
    with pytest.raises(ValueError, match=r"habit.*probability"):
        TaskParams(habit=1.5)
