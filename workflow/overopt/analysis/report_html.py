"""Markdown to a small self-contained HTML page (for Snakemake's report, which shows HTML)."""

from __future__ import annotations

import html

import markdown

STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.45}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .5em}"
    "code{background:#f3f3f3}"
)


def markdown_to_html(text: str, title: str) -> str:
    """Render ``text`` (with tables) as a standalone HTML document."""
    body = markdown.markdown(text, extensions=["tables", "fenced_code"])
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
