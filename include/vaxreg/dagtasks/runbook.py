"""The on-call runbook as a page: ``docs/runbook.md`` rendered to HTML with GitHub-style heading
anchors (``#resident_diff``, ``#high-quarantine-rate``), served by the plugin at
``/vaxreg/runbook`` so that the mails' and the UI's links work in every deployment."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from vaxreg import config


def runbook_file() -> Path:
    """``VAXREG_RUNBOOK_FILE``, else ``docs/runbook.md`` of the installation."""
    return Path(os.environ.get("VAXREG_RUNBOOK_FILE", config.REPO_ROOT / "docs" / "runbook.md"))


def slug(title: str) -> str:
    """GitHub's anchor of a heading: lower case, spaces to ``-``, punctuation dropped."""
    text = re.sub(r"<[^>]+>", "", html.unescape(title)).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def render(markdown: str) -> str:
    """The runbook page: Markdown (markdown-it, CommonMark + tables) with heading anchors."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    body = re.sub(
        r"<h([1-6])>(.*?)</h\1>",
        lambda m: f'<h{m[1]} id="{slug(m[2])}">{m[2]}</h{m[1]}>',
        body,
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>vaxreg runbook</title>'
        "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto;line-height:1.45}"
        "pre,code{background:#f4f4f4}pre{padding:.5em;overflow:auto}"
        "td,th{border:1px solid #ccc;padding:.2em .5em}</style></head><body>"
        f"{body}</body></html>"
    )
