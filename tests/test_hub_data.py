"""The real data path, on small local files in the Hub datasets' own formats (no network)."""

from __future__ import annotations

import copy
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overopt.data.hub import (
    FORMATS,
    DataFormatError,
    NotPrefetchedError,
    check_spec,
    load_preferences,
    load_sft,
)

# vwxyzjn/summarize_from_feedback_tldr_3_filtered: OpenAI's columns, plus (as in its
# *_oai_preprocessing variants) some derived ones that the loader must ignore.
TLDR_ROWS = [
    {
        "id": "t3_1hxu8s",
        "subreddit": "relationships",
        "title": "Me [21F] with my boyfriend [23M] of 2 years, long distance",
        "post": "We have been together two years.\n\nHe moved away for work in May.",
        "summary": "long distance is hard, how do we keep it going?",
        "query": "SUBREDDIT: r/relationships ...",
        "reference_response": " long distance is hard<|endoftext|>",
    },
    {
        "id": "t3_2abcde",
        "subreddit": "loseit",
        "title": "SV & NSV! Keeping on keeping on.",
        "post": "30F, 5'6\". SW: 236 GW: 150 CW: 219. Plateau for weeks, then it moved.",
        "summary": "  Lost 3 pounds after a plateau.  ",
        "query": "SUBREDDIT: r/loseit ...",
        "reference_response": " Lost 3 pounds<|endoftext|>",
    },
    {
        "id": "t3_3fghij",
        "subreddit": "AskReddit",
        "title": "What is your final-exam routine?",
        "post": "I aced a final after sleeping through the night before it.",
        "summary": "slept well, aced the final",
        "query": "SUBREDDIT: r/AskReddit ...",
        "reference_response": " slept well<|endoftext|>",
    },
]


def _info(post_id: str, post: str | None, title: str, subreddit: str | None, **kw) -> dict:
    return {"id": post_id, "post": post, "title": title, "subreddit": subreddit} | {
        "site": kw.get("site"),
        "article": kw.get("article"),
    }


def _summaries(a: str, b: str) -> list[dict]:
    # The comparisons data stores summaries with a leading space.
    return [
        {"text": a, "policy": "sup1", "note": None},
        {"text": b, "policy": "ref", "note": "worker note"},
    ]


# openai/summarize_from_feedback, config "comparisons" (all seven columns).
COMPARISON_ROWS = [
    {
        "info": _info("t3_34xale", "My mother is upset about my trip.", "Mother [51] mad", "relationships"),
        "summaries": _summaries(" Mum is mad at me.", " Mother is upset that I booked a trip."),
        "choice": 1,
        "worker": "qo6WIyEh27cwAjWpA3Q60J7NaDxzQJ",
        "batch": "batch3",
        "split": "train",
        "extra": {"confidence": None},
    },
    {
        "info": _info("0a1b2c", None, "Sissoko faces action", None, site="dailymail", article="Newcastle..."),
        "summaries": _summaries(" Sissoko sent off.", " Newcastle lost."),
        "choice": 0,
        "worker": "w2",
        "batch": "cnndm0",
        "split": "valid2",
        "extra": {"confidence": 7},
    },
    {
        "info": _info("t3_34xale", "My mother is upset about my trip.", "Mother [51] mad", "relationships"),
        "summaries": _summaries(" I booked a trip; mum is mad.", " Trip drama."),
        "choice": 0,
        "worker": "w3",
        "batch": "batch4",
        "split": "train",
        "extra": {"confidence": 3},
    },
]

# trl-lib/tldr-preference: prompt/chosen/rejected strings (its validation split has CNN/DM rows).
TRL_ROWS = [
    {
        "prompt": "SUBREDDIT: r/relationships\n\nTITLE: Mother [51] mad\n\nPOST: Upset.\n\nTL;DR:",
        "chosen": " Mother is upset that I booked a trip.",
        "rejected": " Mum is mad at me.",
    },
    {
        "prompt": "TITLE: Sissoko faces action\n\nNewcastle...\n\nTL;DR:",
        "chosen": " Sissoko sent off.",
        "rejected": " Newcastle lost.",
    },
]


def write_parquet(path, rows: list[dict]):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_jsonl(path, rows: list[dict]):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "hf-cache"


def expected_prompt(sub: str, title: str, post: str) -> str:
    return f"SUBREDDIT: r/{sub}\n\nTITLE: {title}\n\nPOST: {post}\n\nTL;DR:"


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize("writer", [write_parquet, write_jsonl])
def test_tldr_filtered_rows_are_normalised(tmp_path, cache, writer):
    path = writer(tmp_path / f"train.{'parquet' if writer is write_parquet else 'jsonl'}", TLDR_ROWS)
    rows = load_sft({"path": str(path), "format": "tldr_filtered"}, cache_dir=cache)
    assert [r["id"] for r in rows] == ["t3_1hxu8s", "t3_2abcde", "t3_3fghij"]
    assert set(rows[0]) == {"id", "prompt", "reference"}
    assert rows[0]["prompt"] == expected_prompt(
        "relationships",
        "Me [21F] with my boyfriend [23M] of 2 years, long distance",
        "We have been together two years.\n\nHe moved away for work in May.",
    )
    assert rows[0]["reference"] == " long distance is hard, how do we keep it going?"
    assert rows[1]["reference"] == " Lost 3 pounds after a plateau."  # stripped, one space


def test_limit_keeps_first_rows_and_directory_reads_files_in_order(tmp_path, cache):
    data = tmp_path / "split"
    data.mkdir()
    write_parquet(data / "part-0.parquet", TLDR_ROWS[:2])
    write_jsonl(data / "part-1.jsonl", TLDR_ROWS[2:])
    (data / "README.md").write_text("not data")
    spec = {"path": str(data), "format": "tldr_filtered"}
    assert [r["id"] for r in load_sft(spec, cache_dir=cache)] == [
        "t3_1hxu8s",
        "t3_2abcde",
        "t3_3fghij",
    ]
    assert [r["id"] for r in load_sft(spec | {"limit": 2}, cache_dir=cache)] == [
        "t3_1hxu8s",
        "t3_2abcde",
    ]


def test_carper_prompts_get_the_same_template_as_tldr_filtered(tmp_path, cache):
    carper = [
        {
            "prompt": (f"SUBREDDIT: r/{r['subreddit']}\nTITLE: {r['title']}\nPOST: {r['post']}\nTL;DR: "),
            "label": r["summary"],
        }
        for r in TLDR_ROWS
    ]
    path = write_parquet(tmp_path / "carper.parquet", carper)
    rows = load_sft({"path": str(path), "format": "carper_tldr", "split": "valid"}, cache_dir=cache)
    reference = load_sft(
        {"path": str(write_jsonl(tmp_path / "t.jsonl", TLDR_ROWS)), "format": "tldr_filtered"},
        cache_dir=cache,
    )
    assert [r["prompt"] for r in rows] == [r["prompt"] for r in reference]
    assert [r["reference"] for r in rows] == [r["reference"] for r in reference]
    assert [r["id"] for r in rows] == ["valid-000000", "valid-000001", "valid-000002"]


@pytest.mark.parametrize("writer", [write_parquet, write_jsonl])
def test_comparisons_pick_choice_and_skip_cnndm(tmp_path, cache, writer):
    path = writer(tmp_path / f"c.{'parquet' if writer is write_parquet else 'jsonl'}", COMPARISON_ROWS)
    rows = load_preferences({"path": str(path), "format": "comparisons"}, cache_dir=cache)
    assert len(rows) == 2  # the CNN/DM row is skipped
    first, second = rows
    assert set(first) == {"id", "prompt", "chosen", "rejected"}
    assert first["prompt"] == expected_prompt(
        "relationships", "Mother [51] mad", "My mother is upset about my trip."
    )
    assert (first["chosen"], first["rejected"]) == (
        " Mother is upset that I booked a trip.",
        " Mum is mad at me.",
    )  # choice 1
    assert (second["chosen"], second["rejected"]) == (
        " I booked a trip; mum is mad.",
        " Trip drama.",
    )
    # Two comparisons of the same post: ids stay unique and name the post.
    assert first["id"] == "t3_34xale/train-000000"
    assert second["id"] == "t3_34xale/train-000002"


def test_comparisons_limit_counts_usable_rows(tmp_path, cache):
    path = write_parquet(tmp_path / "c.parquet", COMPARISON_ROWS)
    rows = load_preferences({"path": str(path), "format": "comparisons", "limit": 2}, cache_dir=cache)
    assert [r["id"] for r in rows] == ["t3_34xale/train-000000", "t3_34xale/train-000002"]


def test_trl_preference_rows(tmp_path, cache):
    path = write_parquet(tmp_path / "trl.parquet", TRL_ROWS)
    rows = load_preferences(
        {"path": str(path), "format": "trl_preference", "split": "validation"}, cache_dir=cache
    )
    assert rows == [
        {
            "id": "validation-000000",
            "prompt": TRL_ROWS[0]["prompt"],
            "chosen": " Mother is upset that I booked a trip.",
            "rejected": " Mum is mad at me.",
        }
    ]


# ---------------------------------------------------------------- malformed data


def _with(rows: list[dict], index: int, change) -> list[dict]:
    rows = copy.deepcopy(rows)
    change(rows[index])
    return rows


SFT_ERRORS = {
    "empty summary": (
        _with(TLDR_ROWS, 2, lambda r: r.update(summary="   ")),
        2,
        "'summary'",
        "empty",
    ),
    "null post": (_with(TLDR_ROWS, 1, lambda r: r.update(post=None)), 1, "'post'", "null"),
    "null id": (_with(TLDR_ROWS, 0, lambda r: r.update(id=None)), 0, "'id'", "null"),
    "duplicate id": (
        _with(TLDR_ROWS, 2, lambda r: r.update(id="t3_1hxu8s")),
        2,
        "'id'",
        "duplicate",
    ),
}


@pytest.mark.parametrize("writer", [write_parquet, write_jsonl])
@pytest.mark.parametrize("case", sorted(SFT_ERRORS))
def test_malformed_sft_rows_name_file_row_and_column(tmp_path, cache, writer, case):
    rows, row, column, problem = SFT_ERRORS[case]
    path = writer(tmp_path / f"bad.{'parquet' if writer is write_parquet else 'jsonl'}", rows)
    with pytest.raises(DataFormatError) as err:
        load_sft({"path": str(path), "format": "tldr_filtered"}, cache_dir=cache)
    message = str(err.value)
    assert str(path) in message and f"row {row}" in message and column in message
    assert problem in message
    assert (err.value.row, repr(err.value.column)) == (row, column)


PREF_ERRORS = {
    "choice 2": (_with(COMPARISON_ROWS, 2, lambda r: r.update(choice=2)), 2, "'choice'"),
    "choice null": (_with(COMPARISON_ROWS, 0, lambda r: r.update(choice=None)), 0, "'choice'"),
    "empty summary": (
        _with(COMPARISON_ROWS, 2, lambda r: r["summaries"][1].update(text=" ")),
        2,
        "'summaries[1].text'",
    ),
    "one summary": (
        _with(COMPARISON_ROWS, 0, lambda r: r.update(summaries=r["summaries"][:1])),
        0,
        "'summaries'",
    ),
    "null title": (
        _with(COMPARISON_ROWS, 2, lambda r: r["info"].update(title=None)),
        2,
        "'info.title'",
    ),
}


@pytest.mark.parametrize("writer", [write_parquet, write_jsonl])
@pytest.mark.parametrize("case", sorted(PREF_ERRORS))
def test_malformed_comparisons_name_file_row_and_column(tmp_path, cache, writer, case):
    rows, row, column = PREF_ERRORS[case]
    path = writer(tmp_path / f"bad.{'parquet' if writer is write_parquet else 'jsonl'}", rows)
    with pytest.raises(DataFormatError) as err:
        load_preferences({"path": str(path), "format": "comparisons"}, cache_dir=cache)
    message = str(err.value)
    assert str(path) in message and f"row {row}," in message and column in message


def test_missing_column_is_named(tmp_path, cache):
    rows = [{k: v for k, v in r.items() if k != "summary"} for r in TLDR_ROWS]
    path = write_parquet(tmp_path / "nosummary.parquet", rows)
    with pytest.raises(DataFormatError, match=r"nosummary\.parquet: column 'summary': missing"):
        load_sft({"path": str(path), "format": "tldr_filtered"}, cache_dir=cache)


def test_trl_null_rejected_is_named(tmp_path, cache):
    path = write_parquet(tmp_path / "trl.parquet", _with(TRL_ROWS, 0, lambda r: r.update(rejected=None)))
    with pytest.raises(DataFormatError, match=r"trl\.parquet: row 0, column 'rejected': is null"):
        load_preferences({"path": str(path), "format": "trl_preference"}, cache_dir=cache)


def test_invalid_utf8_in_jsonl_names_file_line_row_and_column(tmp_path, cache):
    lines = [json.dumps(r).encode() for r in COMPARISON_ROWS]
    lines[2] = lines[2].replace(b"Trip drama.", b"Trip \xff drama.")
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(lines[0] + b"\n\n" + lines[1] + b"\n" + lines[2] + b"\n")  # a blank line
    with pytest.raises(DataFormatError) as err:
        load_preferences({"path": str(path), "format": "comparisons"}, cache_dir=cache)
    message = str(err.value)
    assert str(path) in message and "row 2" in message and "line 4" in message
    assert "'summaries[1].text'" in message and "UTF-8" in message


def test_broken_json_line_is_named(tmp_path, cache):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(TLDR_ROWS[0]) + '\n{"id": "x",\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"broken\.jsonl: row 1: invalid JSON \(line 2"):
        load_sft({"path": str(path), "format": "tldr_filtered"}, cache_dir=cache)


def test_nothing_usable_is_an_error(tmp_path, cache):
    path = write_parquet(tmp_path / "cnndm.parquet", [COMPARISON_ROWS[1]])
    with pytest.raises(DataFormatError, match="no usable rows"):
        load_preferences({"path": str(path), "format": "comparisons"}, cache_dir=cache)


# ---------------------------------------------------------------- specs


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"id": "openai/summarize_from_feedback", "format": "comparisons"}, "pinned 'revision'"),
        ({"path": "x.jsonl", "format": "comparisons", "revison": "abc"}, "unknown keys"),
        ({"path": "x.jsonl", "format": "tldr_filtered"}, "gives sft, not preferences"),
        (
            {"path": "x.jsonl", "id": "a/b", "revision": "main", "format": "comparisons"},
            "exactly one",
        ),
        ({"path": "x.jsonl", "format": "nope"}, "is not one of"),
        ({"path": "x.jsonl", "format": "comparisons", "limit": 0}, "positive integer"),
    ],
)
def test_bad_specs_fail_before_reading(spec, match):
    with pytest.raises(ValueError, match=match) as err:
        load_preferences(spec)
    assert not isinstance(err.value, DataFormatError)


def test_formats_registry_declares_kinds():
    assert {n for n, f in FORMATS.items() if f.kind == "sft"} == {"tldr_filtered", "carper_tldr"}
    hub = {
        "id": "openai/summarize_from_feedback",
        "revision": "refs/convert/parquet",
        "data_dir": "comparisons",
        "split": "train",
        "format": "comparisons",
    }
    assert check_spec(hub, "preferences") is FORMATS["comparisons"]


def test_missing_local_path_is_named(tmp_path):
    with pytest.raises(DataFormatError, match="no such file"):
        load_sft({"path": str(tmp_path / "absent.parquet"), "format": "tldr_filtered"})


def test_hub_spec_is_passed_to_datasets_and_stays_offline(cache):
    spec = {
        "id": "openai/summarize_from_feedback",
        "revision": "refs/convert/parquet",
        "data_dir": "comparisons",
        "split": "train",
        "format": "comparisons",
    }
    # Offline and not prefetched: the job names the dataset and the command that fetches it.
    with pytest.raises(
        NotPrefetchedError, match=r"openai/summarize_from_feedback@refs/convert/parquet.*make prefetch"
    ):
        load_preferences(spec, cache_dir=cache)
