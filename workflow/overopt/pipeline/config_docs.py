"""``config/README.md``: every config key, written from the schema's own descriptions.

The schema (``workflow/schemas/config.schema.yaml``) is what Snakemake validates a config against,
so the page cannot list a key the workflow would reject or miss one it accepts. Shared blocks
(``$defs``: the training options, a dataset reference) get a section of their own, which the keys
that use them point to. ``python -m overopt.pipeline.config_docs`` prints the page, ``--write``
writes it, ``--check`` exits 1 when the file differs (``make lint`` and ``tests/test_config.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from overopt.core.config import SCHEMA

PAGE = Path(__file__).resolve().parents[3] / "config" / "README.md"
SHARED = {  # $defs with a section of their own: name -> its title
    "train_opts": "Training options",
    "hub_ref": "Dataset references",
}
HEADER = """# Configuration keys

Generated from `workflow/schemas/config.schema.yaml` by `python -m overopt.pipeline.config_docs
--write` (`make lint` and `tests/test_config.py` check that it is current): edit the schema's
descriptions, not this page. Snakemake validates every config against the schema before any job
runs. The configs: `config.yaml` (the default study), `smoke.yaml` (tests and CI), `pilot.yaml`
(a testbed design's pilot, judged by the gates) and `paper.yaml` (Pythia on Reddit TL;DR). A path
such as `models.<size>.daa` names a key under each entry of a mapping whose names you choose.
"""


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/$defs/") else None


def _kind(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short statement of what a key accepts."""
    name = _ref_name(node)
    if name in SHARED:
        return f"see {SHARED[name]}"
    if name:
        node = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    bounds = []
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            bounds.append(f"{sign} {node[key]}")
    if kind == "array" and "items" in node:
        kind = f"list of {_kind(node['items'], defs)}"
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _text(value: str | None) -> str:
    return " ".join((value or "").split()).replace("|", "\\|")


def _rows(node: dict[str, Any], path: str, defs: dict[str, Any], required: set[str]) -> list[str]:
    """Table rows for ``node``'s properties (and a mapping's entries), depth first."""
    rows = []
    for key, child in node.get("properties", {}).items():
        rows.extend(_entry(child, f"{path}.{key}" if path else key, defs, key in required))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        placeholder = {"models": "<size>", "objectives": "<name>"}.get(path.rsplit(".", 1)[-1], "<name>")
        rows.extend(_entry(extra, f"{path}.{placeholder}", defs, False))
    return rows


def _entry(node: dict[str, Any], path: str, defs: dict[str, Any], required: bool) -> list[str]:
    default = f"`{node['default']}`" if "default" in node else ""
    mark = " (required)" if required else ""
    row = f"| `{path}`{mark} | {_kind(node, defs)} | {default} | {_text(node.get('description'))} |"
    nested = node.get("properties") or isinstance(node.get("additionalProperties"), dict)
    return [row, *(_rows(node, path, defs, set(node.get("required", []))) if nested else [])]


def _table(rows: list[str]) -> str:
    return "\n".join(["| key | accepts | default | meaning |", "| --- | --- | --- | --- |", *rows])


def render(schema_path: Path = SCHEMA) -> str:
    """The page's Markdown."""
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    defs = schema.get("$defs", {})
    parts, top = [HEADER], []
    required = set(schema.get("required", []))
    for key, child in schema["properties"].items():
        body = _entry(child, key, defs, key in required)
        if len(body) == 1 and _ref_name(child) not in SHARED:  # a plain value: the top-level table
            top.extend(body)
        else:
            parts.append(f"## `{key}`\n\n{_table(body)}\n")
    parts.insert(1, f"## Top level\n\n{_table(top)}\n")
    for name, title in SHARED.items():
        node = defs[name]
        intro = _text(node.get("description"))
        parts.append(
            f"## {title}\n\n{intro}\n\n{_table(_rows(node, '', defs, set(node.get('required', []))))}\n"
        )
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    page = render()
    if "--write" in argv:
        PAGE.write_text(page, encoding="utf-8")
        return 0
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != page:
            print(f"{PAGE.name} is not current: run python -m overopt.pipeline.config_docs --write")
            return 1
        return 0
    print(page, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
