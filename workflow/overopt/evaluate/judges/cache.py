"""On-disk judgement cache (one JSON file per request hash) and an append-only request ledger."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from overopt.core.io import read_json, write_json

JUDGE_CACHE = "cache/judge"  # where the judge jobs keep paid verdicts (API judges); DVC versions it


class ResponseCache:
    """Maps a request hash to a stored response, one JSON file per key.

    Writes are atomic (temporary file + rename), so two processes writing the same key both
    leave a complete file; an unreadable file counts as a miss and is overwritten.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry for ``key``, or None."""
        path = self._path(key)
        try:
            entry = read_json(path)
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` under ``key`` atomically."""
        write_json(self._path(key), entry)


class Ledger:
    """Append-only JSONL record of requests sent; safe across threads and processes (flock)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, row: dict[str, Any]) -> None:
        """Append one compact, key-sorted JSON line."""
        line = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.write(line)
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
