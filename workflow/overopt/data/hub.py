"""The real data path: TL;DR SFT rows and OpenAI preference pairs, pinned and validated.

A *spec* (from the config) names one split of one dataset, either on the Hugging Face Hub
at a pinned revision or in a local file or directory in that dataset's own columns:

    {"id": "vwxyzjn/summarize_from_feedback_tldr_3_filtered", "revision": "<sha>",
     "split": "train", "format": "tldr_filtered"}
    {"path": "data/comparisons-train.jsonl", "split": "train", "format": "comparisons"}

Keys: ``format`` (a key of ``FORMATS``), either ``id`` + ``revision`` (with optional
``name``, ``data_dir``, ``data_files``, passed to ``datasets.load_dataset``; ``id`` may also be
a local directory laid out like the Hub repository, read by ``datasets`` without the revision)
or ``path`` (a .parquet/.jsonl/.json file, or a directory of them holding one split), ``split``
(default "train"; also used in generated ids) and ``limit`` (keep the first N usable rows).

Rows come back in the synthetic task's schema: SFT rows ``{"id", "prompt", "reference"}``
and preference rows ``{"id", "prompt", "chosen", "rejected"}``; completions start with a
space so that prompt + completion is the training text. Every row is checked before
anything is returned; a bad one raises ``DataFormatError`` naming the source, the row and
the column.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

TLDR_TEMPLATE = "SUBREDDIT: r/{subreddit}\n\nTITLE: {title}\n\nPOST: {post}\n\nTL;DR:"
# Batches of the comparisons data that summarise CNN/Daily Mail articles, not Reddit posts
# (the list TRL's examples/datasets/tldr_preference.py uses); they are skipped.
CNNDM_BATCHES = frozenset({"batch0_cnndm", "cnndm0", "cnndm2"})
SPEC_KEYS = frozenset(
    {"id", "revision", "name", "data_dir", "data_files", "split", "format", "path", "limit"}
)
_LOCAL_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}


class DataFormatError(ValueError):
    """A data row (or file) that does not have the expected format."""

    def __init__(self, source: str, row: int | None, column: str | None, problem: str) -> None:
        self.source, self.row, self.column, self.problem = source, row, column, problem
        where = [f"row {row}"] if row is not None else []
        where += [f"column {column!r}"] if column is not None else []
        super().__init__(f"{source}: {', '.join(where) + ': ' if where else ''}{problem}")


class _Bad(Exception):
    """Raised by a format function; the loader adds the source and row."""

    def __init__(self, column: str, problem: str) -> None:
        super().__init__(column, problem)
        self.column, self.problem = column, problem


def _text(value: Any, column: str) -> str:
    """A non-empty string, or ``_Bad``."""
    if value is None:
        raise _Bad(column, "is null")
    if not isinstance(value, str):
        raise _Bad(column, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise _Bad(column, "is empty")
    return value


def _completion(value: Any, column: str) -> str:
    """A completion with exactly one leading space, so that prompt + completion reads right."""
    return " " + _text(value, column).strip()


def _tldr_prompt(fields: dict[str, Any], prefix: str = "") -> str:
    """The TL;DR prompt of the DPO paper / vwxyzjn pipeline, from subreddit, title and post."""
    parts = {k: _text(fields.get(k), prefix + k) for k in ("subreddit", "title", "post")}
    return TLDR_TEMPLATE.format(**parts)


Row = dict[str, str]
Convert = Callable[[dict[str, Any], str], Row | None]


@dataclass(frozen=True)
class Format:
    """How one dataset's own columns become our rows: ``convert(row, key)`` returns a row,
    or None to skip it, and raises ``_Bad`` for a malformed one; ``key`` is
    ``"{split}-{index:06d}"`` for formats without an id of their own."""

    kind: Literal["sft", "preferences"]
    columns: tuple[str, ...]
    convert: Convert


def _tldr_filtered(row: dict[str, Any], key: str) -> Row:
    """vwxyzjn/summarize_from_feedback_tldr_3_filtered (OpenAI's tldr_3_filtered jsonl)."""
    return {
        "id": _text(row["id"], "id"),
        "prompt": _tldr_prompt(row),
        "reference": _completion(row["summary"], "summary"),
    }


_CARPER_PROMPT = re.compile(
    r"\ASUBREDDIT: r/(?P<subreddit>[^\n]*)\n+TITLE: (?P<title>[^\n]*)\n+POST: (?P<post>.*)"
    r"\n+TL;DR:\s*\Z",
    re.DOTALL,
)


def _carper_tldr(row: dict[str, Any], key: str) -> Row:
    """CarperAI/openai_summarize_tldr: ``prompt`` (single-newline template ending in
    "TL;DR: ") and ``label``; the prompt is re-rendered with our template."""
    match = _CARPER_PROMPT.match(_text(row["prompt"], "prompt"))
    if match is None:
        raise _Bad("prompt", "does not match 'SUBREDDIT: r/...\\nTITLE: ...\\nPOST: ...\\nTL;DR:'")
    return {
        "id": key,
        "prompt": _tldr_prompt(match.groupdict(), "prompt."),
        "reference": _completion(row["label"], "label"),
    }


def _comparisons(row: dict[str, Any], key: str) -> Row | None:
    """openai/summarize_from_feedback, config ``comparisons``; CNN/DM rows are skipped."""
    if row["batch"] in CNNDM_BATCHES:
        return None
    info = row["info"]
    if not isinstance(info, dict):
        raise _Bad("info", "is null" if info is None else "expected a struct")
    summaries, choice = row["summaries"], row["choice"]
    if not isinstance(summaries, list) or len(summaries) != 2:
        raise _Bad("summaries", "expected a list of 2 summaries")
    if isinstance(choice, bool) or choice not in (0, 1):
        raise _Bad("choice", f"expected 0 or 1, got {choice!r}")
    texts = []
    for i, summary in enumerate(summaries):
        if not isinstance(summary, dict):
            raise _Bad(f"summaries[{i}]", "expected a struct with 'text'")
        texts.append(_completion(summary.get("text"), f"summaries[{i}].text"))
    choice = int(choice)
    return {
        "id": f"{_text(info.get('id'), 'info.id')}/{key}",
        "prompt": _tldr_prompt(info, "info."),
        "chosen": texts[choice],
        "rejected": texts[1 - choice],
    }


def _trl_preference(row: dict[str, Any], key: str) -> Row | None:
    """trl-lib/tldr-preference: ready-made ``prompt``/``chosen``/``rejected`` strings. Its
    prompts collapse blank lines inside the post, and its validation split also holds
    CNN/DM rows (prompt "TITLE: ..."), which are skipped."""
    prompt = _text(row["prompt"], "prompt")
    if not prompt.startswith("SUBREDDIT: r/"):
        return None
    return {
        "id": key,
        "prompt": prompt.rstrip(),
        "chosen": _completion(row["chosen"], "chosen"),
        "rejected": _completion(row["rejected"], "rejected"),
    }


FORMATS: dict[str, Format] = {
    "tldr_filtered": Format("sft", ("id", "subreddit", "title", "post", "summary"), _tldr_filtered),
    "carper_tldr": Format("sft", ("prompt", "label"), _carper_tldr),
    "comparisons": Format("preferences", ("info", "summaries", "choice", "batch"), _comparisons),
    "trl_preference": Format("preferences", ("prompt", "chosen", "rejected"), _trl_preference),
}


def load_sft(spec: dict[str, Any], cache_dir: str | Path | None = None) -> list[Row]:
    """SFT rows ``{"id", "prompt", "reference"}`` of a spec, all checked."""
    return _load(spec, "sft", cache_dir)


def load_preferences(spec: dict[str, Any], cache_dir: str | Path | None = None) -> list[Row]:
    """Preference rows ``{"id", "prompt", "chosen", "rejected"}`` of a spec, all checked."""
    return _load(spec, "preferences", cache_dir)


def check_spec(spec: dict[str, Any], kind: str | None = None) -> Format:
    """Check a spec's keys (no I/O) and return its format; ``ValueError`` if it is unusable."""
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise ValueError(f"data spec: unknown keys {sorted(unknown)} (allowed: {sorted(SPEC_KEYS)})")
    if spec.get("format") not in FORMATS:
        raise ValueError(f"data spec: format {spec.get('format')!r} is not one of {sorted(FORMATS)}")
    fmt = FORMATS[spec["format"]]
    if kind is not None and fmt.kind != kind:
        raise ValueError(f"data spec: format {spec['format']!r} gives {fmt.kind}, not {kind}")
    if ("path" in spec) == ("id" in spec):
        raise ValueError("data spec: give exactly one of 'path' (local) and 'id' (Hub)")
    if "id" in spec and not (isinstance(spec.get("revision"), str) and spec["revision"]):
        raise ValueError(f"data spec: Hub dataset {spec['id']!r} needs a pinned 'revision'")
    limit = spec.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"data spec: limit must be a positive integer, got {limit!r}")
    return fmt


def _load(spec: dict[str, Any], kind: str, cache_dir: str | Path | None) -> list[Row]:
    fmt = check_spec(spec, kind)
    split, limit = spec.get("split", "train"), spec.get("limit")
    rows: list[Row] = []
    first_seen: dict[str, tuple[str, int]] = {}
    index = skipped = 0
    for source, table in _tables(spec, cache_dir):
        if limit is not None and len(rows) >= limit:
            break
        missing = [c for c in fmt.columns if c not in table.column_names]
        if missing:
            have = ", ".join(table.column_names)
            raise DataFormatError(source, None, missing[0], f"missing (columns: {have})")
        for i, raw in enumerate(table):
            if limit is not None and len(rows) >= limit:
                break
            try:
                row = fmt.convert(raw, f"{split}-{index:06d}")
            except _Bad as bad:
                raise DataFormatError(source, i, bad.column, bad.problem) from None
            index += 1
            if row is None:
                skipped += 1
                continue
            if row["id"] in first_seen:
                src, j = first_seen[row["id"]]
                raise DataFormatError(source, i, "id", f"duplicate id {row['id']!r} (row {j} of {src})")
            first_seen[row["id"]] = (source, i)
            rows.append(row)
    if not rows:
        raise DataFormatError(_describe(spec), None, None, f"no usable rows ({skipped} skipped)")
    if skipped:
        log.info("%s: skipped %d non-TL;DR rows", _describe(spec), skipped)
    return rows


def _describe(spec: dict[str, Any]) -> str:
    """A source name for messages: the local path, or Hub id@revision with config and split."""
    if "path" in spec:
        return str(spec["path"])
    parts = [f"{k}={spec[k]}" for k in ("name", "data_dir") if spec.get(k)]
    parts.append(f"split={spec.get('split', 'train')}")
    return f"{spec['id']}@{spec['revision']} ({', '.join(parts)})"


def _tables(spec: dict[str, Any], cache_dir: str | Path | None) -> Iterator[tuple[str, Any]]:
    """(source name, ``datasets.Dataset``) pairs: one per local file, or the one Hub split."""
    import datasets  # heavy import, only when data is read

    cache = str(cache_dir) if cache_dir is not None else None
    if "id" in spec:
        yield (
            _describe(spec),
            datasets.load_dataset(
                repository_dir(spec),
                name=spec.get("name"),
                data_dir=spec.get("data_dir"),
                data_files=spec.get("data_files"),
                revision=spec["revision"],
                split=spec.get("split", "train"),
                cache_dir=cache,
            ),
        )
        return
    for file in _local_files(Path(spec["path"])):
        if file.suffix == ".jsonl":
            _check_jsonl(file)
        builder = _LOCAL_BUILDERS[file.suffix]
        try:
            table = datasets.load_dataset(builder, data_files=[str(file)], split="train", cache_dir=cache)
        except Exception as err:  # pyarrow/datasets errors name neither file nor row
            raise DataFormatError(str(file), None, None, f"unreadable as {builder}: {err}") from err
        yield str(file), table


class NotPrefetchedError(FileNotFoundError):
    """A Hub dataset a job needs is not in the Hugging Face cache, and the job may not download."""


def _data_patterns(spec: dict[str, Any]) -> list[str] | None:
    """A Hub dataset's files a job reads: its ``data_files`` or ``data_dir`` only, else the whole
    repository (README.md included: its metadata may name the configurations)."""
    if spec.get("data_files"):
        files = spec["data_files"]
        return [files] if isinstance(files, str) else list(files)
    return [f"{spec['data_dir'].strip('/')}/**"] if spec.get("data_dir") else None


def repository_dir(spec: dict[str, Any], local_only: bool | None = None) -> str:
    """The local directory holding a spec's dataset repository at its pinned revision.

    ``id`` may itself be a directory laid out like the repository. Otherwise the files come from
    the Hugging Face cache (``snapshot_download``, downloading only where ``local_only`` is false;
    by default, where ``HF_HUB_OFFLINE`` is not set, and the workflow sets it for every job:
    ``overopt.pipeline.prefetch`` fetches beforehand). ``datasets`` then reads the snapshot as a
    local repository, the same files in the same order as it would read the Hub's: its own offline
    mode would need an Arrow cache that only an earlier online ``load_dataset`` leaves.
    """
    if Path(spec["id"]).is_dir():
        return str(spec["id"])
    import huggingface_hub.constants
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = huggingface_hub.constants.HF_HUB_OFFLINE if local_only is None else local_only
    try:
        return snapshot_download(
            spec["id"],
            repo_type="dataset",
            revision=spec["revision"],
            allow_patterns=_data_patterns(spec),
            local_files_only=offline,
        )
    except LocalEntryNotFoundError as err:
        raise NotPrefetchedError(
            f"{_describe(spec)}: not in the Hugging Face cache ({huggingface_hub.constants.HF_HUB_CACHE}) "
            "and jobs do not download: run `make prefetch CONFIG=<this config>` where the network is"
        ) from err


def _local_files(path: Path) -> list[Path]:
    """The data files of a local spec: the file itself, or a directory's data files, sorted."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in _LOCAL_BUILDERS)
        if not files:
            raise DataFormatError(str(path), None, None, "no .parquet/.jsonl/.json files")
        return files
    if not path.is_file():
        raise DataFormatError(str(path), None, None, "no such file or directory")
    if path.suffix not in _LOCAL_BUILDERS:
        raise DataFormatError(str(path), None, None, f"unknown file type {path.suffix!r}")
    return [path]


def _check_jsonl(path: Path) -> None:
    """Fail on invalid UTF-8 or JSON with the line, row and (for bad bytes) the column."""
    row = 0
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                json.loads(line.decode("utf-8"))
            except UnicodeDecodeError as err:
                column = _bad_bytes_column(line)
                problem = f"invalid UTF-8 (line {lineno}, byte {err.start} of the line)"
                raise DataFormatError(str(path), row, column, problem) from None
            except json.JSONDecodeError as err:
                problem = f"invalid JSON (line {lineno}: {err.msg})"
                raise DataFormatError(str(path), row, None, problem) from None
            row += 1


def _bad_bytes_column(line: bytes) -> str | None:
    """The (dotted) field of a JSON line whose string holds undecodable bytes, if parseable."""
    try:
        obj = json.loads(line.decode("utf-8", errors="surrogateescape"))
    except json.JSONDecodeError:
        return None

    def find(value: Any, where: str) -> str | None:
        if isinstance(value, str):
            return where if any("\udc80" <= ch <= "\udcff" for ch in value) else None
        if not isinstance(value, dict | list):
            return None
        for k, v in value.items() if isinstance(value, dict) else enumerate(value):
            hit = find(v, f"{where}.{k}" if isinstance(k, str) else f"{where}[{k}]")
            if hit:
                return hit
        return None

    found = find(obj, "")
    return found.lstrip(".") if found else None
