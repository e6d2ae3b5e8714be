"""An LLM judge behind any OpenAI-compatible chat-completions endpoint, with the DPO TL;DR prompt.

Each comparison is shown in an A/B order drawn deterministically from (seed, item key); the
answer's ``Preferred:`` line is mapped back to the caller's A. Responses are cached on disk
(keyed by a hash of the exact request), so a rerun or resumed run never pays twice, and every
HTTP request actually sent is recorded in a JSONL ledger. The API key is read from the
environment only and is never written to the cache, the ledger, logs, exceptions or reprs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from overopt.evaluate.judges import register_judge
from overopt.evaluate.judges.base import JudgeItem, Verdict
from overopt.evaluate.judges.cache import Ledger, ResponseCache

log = logging.getLogger(__name__)

# The summarisation win-rate prompt of the DPO paper (Rafailov et al. 2023, arXiv:2305.18290,
# appendix C.2), with the line breaks of the authors' GPT-4 evaluation script.
TLDR_PROMPT = (
    "Which of the following summaries does a better job of summarizing the most important "
    "points in the given forum post, without including unimportant or irrelevant details? "
    "A good summary is both precise and concise.\n\n"
    "Post:\n{post}\n\n"
    "Summary A:\n{a}\n\n"
    "Summary B:\n{b}\n\n"
    "FIRST provide a one-sentence comparison of the two summaries, explaining which you prefer "
    'and why. SECOND, on a new line, state only "A" or "B" to indicate your choice. Your '
    "response should use the format:\n"
    "Comparison: <one-sentence comparison and explanation>\n"
    'Preferred: <"A" or "B">'
)

# "Preferred: A", "preferred:'b'", "**Preferred:** Summary A." ... one letter, then a non-letter.
_PREFERRED = re.compile(
    r"^[\s>*_#-]*preferred[\s*_]*:[\s*_]*[\"'“”‘’`(\[<]*\s*(?:summary\s+)?([ab])(?![a-z0-9])",
    re.IGNORECASE | re.MULTILINE,
)

CONFIG_KEYS = {
    "type",
    "base_url",
    "model",
    "api_key_env",
    "temperature",
    "max_tokens",
    "timeout_s",
    "max_retries",
    "backoff_s",
    "max_backoff_s",
    "concurrency",
    "system_prompt",
    "cache_dir",
    "ledger",
}


class JudgeAPIError(RuntimeError):
    """The endpoint failed for good (a non-retryable status, or retries exhausted)."""


def build_prompt(post: str, a: str, b: str) -> str:
    """The DPO TL;DR judge prompt with the summaries in the order shown."""
    return TLDR_PROMPT.format(post=post, a=a, b=b)


def parse_preferred(text: str) -> str | None:
    """'A' or 'B' from the answer's ``Preferred:`` line(s); None if absent or contradictory."""
    letters = {m.group(1).upper() for m in _PREFERRED.finditer(text)}
    return letters.pop() if len(letters) == 1 else None


def is_swapped(seed: int, key: str) -> bool:
    """Whether item ``key`` is shown as (B, A): a fair coin fixed by (seed, key)."""
    return bool(hashlib.sha256(f"{seed}\x00{key}".encode()).digest()[0] & 1)


def sha256_text(text: str) -> str:
    """Hex sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Request:
    swapped: bool
    prompt_sha: str
    key: str  # sha256 of the canonical request payload: the cache key
    payload: dict[str, Any]


@dataclass(frozen=True)
class _Outcome:
    status: str  # ok, http_<code>, timeout, connection_error, malformed
    retryable: bool
    detail: str = ""
    content: str | None = None
    usage: dict[str, Any] | None = None
    http_status: int | None = None
    retry_after: float | None = None


@register_judge("openai")
class OpenAIJudge:
    """Pairwise judge calling ``{base_url}/chat/completions`` (base_url like ``.../v1``)."""

    CONFIG_KEYS = frozenset(CONFIG_KEYS)
    REQUIRED_KEYS = ("base_url", "model", "api_key_env")
    LOCAL = True  # judged where Snakemake runs (outbound network), not on compute nodes
    SECRET_ENV_KEYS = ("api_key_env",)  # the API key: read from this variable, never from the config

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str,
        cache_dir: str | os.PathLike,
        seed: int,
        temperature: float = 0.0,
        max_tokens: int = 256,
        timeout_s: float = 60.0,
        max_retries: int = 6,
        backoff_s: float = 2.0,
        max_backoff_s: float = 60.0,
        concurrency: int = 8,
        system_prompt: str | None = None,
        ledger: str | os.PathLike | None = None,
    ) -> None:
        key = os.environ.get(api_key_env, "")
        if not key:
            raise ValueError(f"judge: environment variable {api_key_env!r} (api_key_env) is unset")
        self._api_key = key
        self.endpoint = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.name = f"openai:{model}"
        self.seed = int(seed)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.concurrency = max(1, int(concurrency))
        self.system_prompt = system_prompt
        self.cache = ResponseCache(Path(cache_dir) / "responses")
        self.ledger = Ledger(ledger if ledger is not None else Path(cache_dir) / "ledger.jsonl")
        self.requests_sent = 0
        self.cache_hits = 0
        self.unparseable = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def from_config(
        cls, cfg: dict[str, Any], *, seed: int, cache_dir: str | os.PathLike | None = None
    ) -> OpenAIJudge:
        """Build from config ``judge`` (type: openai); ``cache_dir`` falls back to cfg's."""
        unknown = set(cfg) - CONFIG_KEYS
        if unknown:
            raise ValueError(f"judge (openai): unknown keys {sorted(unknown)}")
        missing = [k for k in ("base_url", "model", "api_key_env") if not cfg.get(k)]
        if missing:
            raise ValueError(f"judge (openai): missing keys {missing}")
        cache_dir = cache_dir if cache_dir is not None else cfg.get("cache_dir")
        if cache_dir is None:
            raise ValueError("judge (openai): a cache_dir is required (paid requests are cached)")
        opts = {k: cfg[k] for k in CONFIG_KEYS - {"type", "cache_dir"} if k in cfg}
        return cls(**opts, cache_dir=cache_dir, seed=seed)

    def __repr__(self) -> str:
        return f"OpenAIJudge(endpoint={self.endpoint!r}, model={self.model!r}, seed={self.seed})"

    def stats(self) -> dict[str, int]:
        """Counters since construction: HTTP requests sent, cache hits, unparseable answers."""
        return {
            "requests_sent": self.requests_sent,
            "cache_hits": self.cache_hits,
            "unparseable": self.unparseable,
        }

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item; cached answers are reused, missing ones fetched."""
        reqs = [self._request(it) for it in items]
        answers: dict[str, str] = {}
        todo: dict[str, _Request] = {}
        for req in reqs:
            if req.key in answers or req.key in todo:
                continue
            entry = self.cache.get(req.key)
            if entry is not None and isinstance(entry.get("content"), str):
                answers[req.key] = entry["content"]
                self.cache_hits += 1
            else:
                todo[req.key] = req
        if self.concurrency > 1 and len(todo) > 1:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                answers.update(zip(todo, pool.map(self._fetch, todo.values()), strict=True))
        else:
            answers.update((k, self._fetch(r)) for k, r in todo.items())

        verdicts = []
        bad = 0
        for req in reqs:
            raw = answers[req.key]
            letter = parse_preferred(raw)
            if letter is None:
                bad += 1
                verdicts.append(Verdict(0.5, parsed=False, swapped=req.swapped, raw=raw))
            else:
                prob_a = 1.0 if (letter == "A") != req.swapped else 0.0
                verdicts.append(Verdict(prob_a, parsed=True, swapped=req.swapped, raw=raw))
        if bad:
            self.unparseable += bad
            log.warning("%s: %d of %d answers unparseable, counted as ties", self.name, bad, len(reqs))
        return verdicts

    def close(self) -> None:
        """Close this thread's HTTP session (others close when their threads end)."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    # -- internals ------------------------------------------------------------------------

    def _request(self, item: JudgeItem) -> _Request:
        swapped = is_swapped(self.seed, item.key)
        a, b = (item.b, item.a) if swapped else (item.a, item.b)
        prompt = build_prompt(item.post, a, b)
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        payload = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return _Request(swapped, sha256_text(prompt), sha256_text(canonical), payload)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***")

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _fetch(self, req: _Request) -> str:
        """Send ``req`` (with retries), cache and return the answer text."""
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            out = self._post(req.payload)
            with self._count_lock:
                self.requests_sent += 1
            usage = out.usage or {}
            self.ledger.append(
                {
                    "model": self.model,
                    "endpoint": self.endpoint,
                    "prompt_sha": req.prompt_sha,
                    "request_sha": req.key,
                    "attempt": attempt,
                    "status": out.status,
                    "http_status": out.http_status,
                    "prompt_tokens": usage.get("prompt_tokens"),
                    "completion_tokens": usage.get("completion_tokens"),
                    "total_tokens": usage.get("total_tokens"),
                }
            )
            if out.status == "ok" and out.content is not None:
                entry = {
                    "model": self.model,
                    "prompt_sha": req.prompt_sha,
                    "request_sha": req.key,
                    "content": out.content,
                    "usage": out.usage,
                }
                self.cache.put(req.key, entry)
                return out.content
            if not out.retryable:
                raise JudgeAPIError(f"judge endpoint {self.endpoint}: {out.detail} (not retried)")
            if attempt == attempts:
                break
            delay = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
            if out.retry_after is not None:
                delay = min(max(delay, out.retry_after), self.max_backoff_s)
            log.warning(
                "judge endpoint %s: %s (attempt %d/%d); retrying in %.2fs",
                self.endpoint,
                out.detail,
                attempt,
                attempts,
                delay,
            )
            time.sleep(delay)
        raise JudgeAPIError(
            f"judge endpoint {self.endpoint}: gave up after {attempts} attempts; last: {out.detail}"
        )

    def _post(self, payload: dict[str, Any]) -> _Outcome:
        """One HTTP request; classify the result without raising."""
        headers = {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"}
        try:
            resp = self._session().post(self.endpoint, json=payload, headers=headers, timeout=self.timeout_s)
        except requests.Timeout:
            return _Outcome("timeout", True, f"no response within {self.timeout_s:g}s")
        except requests.RequestException as err:
            detail = self._redact(f"{type(err).__name__}: {err}")
            return _Outcome("connection_error", True, detail)
        code = resp.status_code
        if code != 200:
            body = self._redact(resp.text)[:300].strip()  # redact before cutting
            retry_after = _float_or_none(resp.headers.get("Retry-After"))
            retryable = code == 429 or code >= 500
            detail = f"HTTP {code}: {body}"
            return _Outcome(f"http_{code}", retryable, detail, http_status=code, retry_after=retry_after)
        try:
            body = resp.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            content = None
            body = None
        if not isinstance(content, str):
            return _Outcome("malformed", True, "HTTP 200 with a malformed body", http_status=code)
        usage = body.get("usage") if isinstance(body, dict) else None
        usage = usage if isinstance(usage, dict) else None
        return _Outcome("ok", False, content=content, usage=usage, http_status=code)


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
