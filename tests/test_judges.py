"""Judges: the OpenAI-compatible judge against a real local HTTP server, and the reward model."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chat_server import ENV, HANG_TIMEOUT_S, KEY, MODEL, ChatServer
from overopt.core.io import read_jsonl
from overopt.evaluate.judges import JudgeItem, make_judge
from overopt.evaluate.judges.openai import (
    JudgeAPIError,
    OpenAIJudge,
    build_prompt,
    is_swapped,
    parse_preferred,
)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)


def judge_cfg(base_url: str, **over: Any) -> dict[str, Any]:
    cfg = {
        "type": "openai",
        "base_url": base_url,
        "model": MODEL,
        "api_key_env": ENV,
        "temperature": 0,
        "max_tokens": 64,
        "timeout_s": 30,  # generous: a loaded CI machine must not turn a slow answer into a retry
        "max_retries": 3,
        "backoff_s": 0.01,
    }
    return {**cfg, **over}


def make(base_url: str, cache: Path, seed: int = 0, **over: Any) -> OpenAIJudge:
    judge = make_judge(judge_cfg(base_url, **over), seed=seed, cache_dir=str(cache))
    assert isinstance(judge, OpenAIJudge)
    return judge


def marked_items(n: int) -> list[JudgeItem]:
    """Item i has the GOOD summary as A for even i, as B for odd i."""
    items = []
    for i in range(n):
        good, bad = f"GOOD summary {i}", f"a much longer but worse summary number {i}"
        a, b = (good, bad) if i % 2 == 0 else (bad, good)
        items.append(JudgeItem(key=f"item-{i}", post=f"post {i}", a=a, b=b))
    return items


def test_prompt_is_the_dpo_tldr_prompt() -> None:
    expected = (
        "Which of the following summaries does a better job of summarizing the most important "
        "points in the given forum post, without including unimportant or irrelevant details? "
        "A good summary is both precise and concise.\n\nPost:\nP\n\nSummary A:\nX\n\nSummary B:\nY"
        "\n\nFIRST provide a one-sentence comparison of the two summaries, explaining which you "
        'prefer and why. SECOND, on a new line, state only "A" or "B" to indicate your choice. '
        "Your response should use the format:\nComparison: <one-sentence comparison and "
        'explanation>\nPreferred: <"A" or "B">'
    )
    assert build_prompt("P", "X", "Y") == expected


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Comparison: x.\nPreferred: A", "A"),
        ("Comparison: x.\npreferred:b", "B"),
        ('Comparison: x.\n  PREFERRED :  "B"  ', "B"),
        ("Comparison: x.\nPreferred: 'a'.", "A"),
        ("Comparison: x.\n**Preferred:** Summary B", "B"),
        ("Comparison: A is better.", None),
        ("Preferred: Apple", None),
        ("Preferred: A\nPreferred: B", None),
        ("", None),
    ],
)
def test_parse_preferred(text: str, letter: str | None) -> None:
    assert parse_preferred(text) == letter


def test_verdicts_map_back_through_the_randomised_order(server: ChatServer, tmp_path: Path) -> None:
    items = marked_items(12)
    judge = make(server.base_url, tmp_path, seed=7)
    verdicts = judge.judge(items)

    assert [v.prob_a for v in verdicts] == [1.0 if i % 2 == 0 else 0.0 for i in range(12)]
    assert all(v.parsed for v in verdicts)
    assert [v.swapped for v in verdicts] == [is_swapped(7, it.key) for it in items]
    assert 0 < sum(v.swapped for v in verdicts) < len(items)  # both orders were used
    seen = {s["post"]: (s["a"], s["b"]) for s in server.seen}
    for it, v in zip(items, verdicts, strict=True):
        assert seen[it.post] == ((it.b, it.a) if v.swapped else (it.a, it.b))
    assert judge.stats() == {"requests_sent": 12, "cache_hits": 0, "unparseable": 0}

    ledger = read_jsonl(tmp_path / "ledger.jsonl")
    assert len(ledger) == 12 and {r["status"] for r in ledger} == {"ok"}
    assert all(r["prompt_tokens"] == 100 and r["completion_tokens"] == 12 for r in ledger)
    assert all(r["model"] == MODEL and r["attempt"] == 1 for r in ledger)
    # The order is fixed by (seed, key): another seed flips some items.
    assert [is_swapped(8, it.key) for it in items] != [v.swapped for v in verdicts]


def test_retries_recover_from_transient_faults(tmp_path: Path) -> None:
    faults = {
        "post 0": ["429", "429"],
        "post 1": ["500"],
        "post 2": ["hang"],
        "post 3": ["malformed"],
        "post 4": ["nochoices"],
    }
    srv = ChatServer(faults)
    try:
        judge = make(srv.base_url, tmp_path, timeout_s=HANG_TIMEOUT_S)
        verdicts = judge.judge(marked_items(6))
    finally:
        srv.close()
    assert [v.prob_a for v in verdicts] == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert judge.requests_sent == 6 + 6
    statuses = [r["status"] for r in read_jsonl(tmp_path / "ledger.jsonl")]
    assert sorted(set(statuses)) == ["http_429", "http_500", "malformed", "ok", "timeout"]
    assert statuses.count("ok") == 6 and statuses.count("http_429") == 2


def test_unparseable_answer_is_a_counted_tie(
    server: ChatServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    items = [*marked_items(2), JudgeItem("r", "RAMBLE post", "GOOD one", "other")]
    judge = make(server.base_url, tmp_path)
    with caplog.at_level(logging.WARNING):
        verdicts = judge.judge(items)
    assert (verdicts[2].prob_a, verdicts[2].parsed) == (0.5, False)
    assert "cannot decide" in verdicts[2].raw
    assert judge.unparseable == 1
    assert "1 of 3 answers unparseable" in caplog.text


def test_second_run_sends_zero_requests(server: ChatServer, tmp_path: Path) -> None:
    items = marked_items(8)
    first = make(server.base_url, tmp_path, concurrency=4)
    v1 = first.judge(items)
    assert first.requests_sent == 8 and len(server.seen) == 8

    second = make(server.base_url, tmp_path, concurrency=4)
    v2 = second.judge(items)
    assert v2 == v1
    assert second.stats() == {"requests_sent": 0, "cache_hits": 8, "unparseable": 0}
    assert len(server.seen) == 8
    assert len(read_jsonl(tmp_path / "ledger.jsonl")) == 8

    # Resuming a larger run pays only for the new items; duplicates within a batch once.
    more = [*marked_items(10), *marked_items(10)]
    third = make(server.base_url, tmp_path)
    third.judge(more)
    assert (third.requests_sent, third.cache_hits) == (2, 8)


def test_client_errors_fail_fast_and_retries_give_up(server: ChatServer, tmp_path: Path) -> None:
    judge = make(server.base_url, tmp_path, max_retries=2)
    with pytest.raises(JudgeAPIError, match=r"127\.0\.0\.1.*HTTP 400.*not retried"):
        judge.judge([JudgeItem("b", "BAD post", "x", "y")])
    assert judge.requests_sent == 1
    with pytest.raises(JudgeAPIError, match=r"127\.0\.0\.1.*gave up after 3 attempts.*HTTP 500"):
        judge.judge([JudgeItem("d", "DOWN post", "x", "y")])
    assert judge.requests_sent == 4
    with pytest.raises(JudgeAPIError, match="ConnectionError"):
        make("http://127.0.0.1:9/v1", tmp_path / "c2", max_retries=0).judge(marked_items(1))


def test_api_key_is_required_and_never_leaks(
    server: ChatServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv(ENV)
    with pytest.raises(ValueError, match=ENV):
        make(server.base_url, tmp_path)

    monkeypatch.setenv(ENV, KEY)
    errors = []
    judge = make(server.base_url, tmp_path, concurrency=2)
    judge.judge([*marked_items(4), JudgeItem("r", "RAMBLE", "a", "b")])
    for post in ("BAD post", "DOWN post"):
        with pytest.raises(JudgeAPIError) as err:
            judge.judge([JudgeItem(post, post, "x", "y")])
        errors.append(str(err.value))
    errors += [repr(judge), str(judge.stats())]

    wrong = "sk-wrong-SECRET-77aa"  # the server echoes a rejected key in its 401 body
    monkeypatch.setenv(ENV, wrong)
    with pytest.raises(JudgeAPIError, match=r"HTTP 401.*\*\*\*") as err:
        make(server.base_url, tmp_path).judge([JudgeItem("w", "new post", "x", "y")])
    errors.append(str(err.value))

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 6  # ledger + cached answers
    out, errout = capfd.readouterr()
    for secret in (KEY, wrong):
        assert not any(secret.encode() in p.read_bytes() for p in files)
        assert all(secret not in text for text in errors)
        assert secret not in caplog.text and secret not in out + errout


def test_openai_config_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        make("http://127.0.0.1:9/v1", tmp_path, temprature=0)
    with pytest.raises(ValueError, match="cache_dir"):
        OpenAIJudge.from_config(judge_cfg("http://127.0.0.1:9/v1"), seed=0)


# -- reward model ----------------------------------------------------------------------------


def test_reward_model_judge_is_sigmoid_of_score_difference(tmp_path: Path) -> None:
    import torch
    from transformers import GPTNeoXForSequenceClassification

    from overopt.evaluate.judges.reward_model import RewardModelJudge
    from overopt.lm.models import neox_config
    from overopt.lm.tokenizer import train_word_tokenizer

    posts = ["the cat sat on the mat all day", "my landlord will not fix the heating"]
    summaries = ["cat sat", "the cat sat on a mat", "landlord heating", "heating broken all day"]
    rm_dir = tmp_path / "rm"
    tok = train_word_tokenizer([*posts, *summaries], rm_dir)
    arch = {"hidden_size": 16, "num_layers": 2, "num_heads": 2, "max_position_embeddings": 64}
    config = neox_config(arch, len(tok), tok.eos_token_id, tok.pad_token_id)
    config.num_labels = 1
    torch.manual_seed(0)
    model = GPTNeoXForSequenceClassification(config).eval()
    model.save_pretrained(rm_dir)

    judge = make_judge(
        {"type": "reward_model", "model": str(rm_dir), "batch_size": 3, "max_length": 64}, seed=0
    )
    assert isinstance(judge, RewardModelJudge)
    items = [
        JudgeItem("0", posts[0], summaries[0], summaries[1]),
        JudgeItem("1", posts[1], summaries[2], summaries[3]),
        JudgeItem("2", posts[1], summaries[3], summaries[0]),
    ]
    verdicts = judge.judge(items)

    def score(post: str, summary: str) -> float:  # one unpadded sequence at a time
        with torch.no_grad():
            return model(**tok(post, summary, return_tensors="pt")).logits[0, 0].item()

    for it, v in zip(items, verdicts, strict=True):
        expected = torch.sigmoid(torch.tensor(score(it.post, it.a) - score(it.post, it.b)))
        assert math.isclose(v.prob_a, expected.item(), abs_tol=1e-5)
        assert 0.0 < v.prob_a < 1.0 and v.parsed
    flipped = judge.judge([JudgeItem(it.key, it.post, it.b, it.a) for it in items])
    for v, f in zip(verdicts, flipped, strict=True):
        assert math.isclose(v.prob_a + f.prob_a, 1.0, abs_tol=1e-6)
    assert len({round(v.prob_a, 6) for v in verdicts}) == 3  # random weights, distinct scores
