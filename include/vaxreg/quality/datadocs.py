"""Great Expectations Data Docs of every validation (データ品質レポート): one page per validated file,
rendered by GX's own ``ValidationResultsPageRenderer`` and ``DefaultJinjaPageView``, kept as a static
site under :func:`vaxreg.config.data_docs_dir` (default ``<staging>/data-docs``) with an index.

Privacy (P3): GX's results carry the failing values (``unexpected_list``,
``partial_unexpected_list``, ``partial_unexpected_counts``, ``unexpected_index_query``): they are
dropped before anything is rendered; a page keeps per expectation only counts and percentages, the
expectation itself (suite text, reviewed like code) and the file name. The frame GX saw never held
My Number (``kojin_no__status`` only). Pages link no external asset (closed networks): GX's CDN
stylesheets and scripts are replaced by a small inline style.

The site is served to signed-in users by the Airflow plugin under ``/vaxreg/data-docs/``.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from pathlib import Path
from typing import Any

from vaxreg import config

INDEX = "index.html"
UI_PREFIX = "vaxreg/data-docs"  # the plugin's path, relative to the Airflow base URL
KEEP = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
    "missing_count",
    "missing_percent",
)
_EXTERNAL = re.compile(
    r"<(?:script|link)\b[^>]*(?:src|href)=\"https?://[^\"]*\"[^>]*>(?:\s*</script>)?|"
    r"<img\b[^>]*src=\"https?://[^\"]*\"[^>]*>",
    re.I,
)
_EXTERNAL_ANCHOR = re.compile(r"href=\"https?://[^\"]*\"", re.I)
STYLE = (
    "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top}.collapse{display:block}"
    ".text-danger{color:#b00}.text-success{color:#070}.fa-check-circle::before{content:'\\2714'}"
    ".fa-times::before{content:'\\2718'}footer{display:none}</style>"
)


def counts_only(result: Any) -> Any:
    """An ``ExpectationValidationResult`` with only counts: no failing values, no row indexes."""
    from great_expectations.core import ExpectationValidationResult

    kept = {k: v for k, v in (result.result or {}).items() if k in KEEP}
    observed = (result.result or {}).get("observed_value")
    if isinstance(observed, (int, float)) and not isinstance(observed, bool):
        kept["observed_value"] = observed  # table-level: row count, column count
    return ExpectationValidationResult(
        success=result.success,
        expectation_config=result.expectation_config,
        result=kept,
        exception_info=None,
    )


def merge(first: list[Any], more: list[Any]) -> None:
    """Add the counts of ``more`` (the same expectations on the next slice of rows) to ``first``."""
    for a, b in zip(first, more, strict=True):
        for key in ("element_count", "unexpected_count", "missing_count"):
            if key in b.result:
                a.result[key] = a.result.get(key, 0) + b.result[key]
        n = a.result.get("element_count") or 0
        if n and "unexpected_count" in a.result:
            a.result["unexpected_percent"] = 100.0 * a.result["unexpected_count"] / n
            a.result["unexpected_percent_total"] = a.result["unexpected_percent"]
        a.success = bool(a.success and b.success)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "file"


def write_page(feed: str, file_name: str, sha256: str, suite: str, results: list[Any], run_id: str) -> Path:
    """Render the (counts-only) results of one file's validation; rewrite the index; the page path."""
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.render.renderer.page_renderer import ValidationResultsPageRenderer
    from great_expectations.render.view.view import DefaultJinjaPageView

    root = config.data_docs_dir()
    evaluated = len(results)
    passed = sum(bool(r.success) for r in results)
    validation = ExpectationSuiteValidationResult(
        success=passed == evaluated,
        results=results,
        suite_name=suite,
        statistics={
            "evaluated_expectations": evaluated,
            "successful_expectations": passed,
            "unsuccessful_expectations": evaluated - passed,
            "success_percent": 100.0 * passed / evaluated if evaluated else None,
        },
        meta={
            "run_id": {"run_name": run_id, "run_time": dt.datetime.now(dt.UTC).isoformat()},
            "batch_spec": {"feed": feed, "file": file_name, "sha256": sha256[:16]},
        },
    )
    page = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(validation))
    page = _EXTERNAL_ANCHOR.sub('href="#"', _EXTERNAL.sub("", page)).replace("</head>", STYLE + "</head>", 1)
    path = root / _slug(feed) / f"{_slug(file_name)}.{sha256[:12]}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    write_index(root)
    return path


def write_index(root: Path) -> None:
    """The site's index: every page, newest first, by feed."""
    pages = sorted(root.glob("*/*.html"), key=lambda p: p.stat().st_mtime, reverse=True)
    rows = "".join(
        f"<tr><td>{html.escape(p.parent.name)}</td><td><a href='{html.escape(p.parent.name)}/"
        f"{html.escape(p.name)}'>{html.escape(p.name)}</a></td><td>"
        f"{dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC).isoformat(timespec='seconds')}</td></tr>"
        for p in pages
    )
    text = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>vaxreg Data Docs</title>"
        f"{STYLE}</head><body><h1>Data Docs: validations of received files</h1>"
        "<p>One page per validated file (Great Expectations results, counts only).</p>"
        f"<table><thead><tr><th>feed</th><th>file</th><th>validated (UTC)</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>"
    )
    tmp = root / (INDEX + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(root / INDEX)


def ui_path(page: Path) -> str:
    """Where the plugin serves the page: ``<base>/vaxreg/data-docs/...`` with the UI's base URL
    (``VAXREG_UI_BASE_URL``, else Airflow's ``AIRFLOW__API__BASE_URL``), else the path under it."""
    path = f"{UI_PREFIX}/{page.relative_to(config.data_docs_dir()).as_posix()}"
    base = os.environ.get("VAXREG_UI_BASE_URL") or os.environ.get("AIRFLOW__API__BASE_URL") or ""
    return f"{base.rstrip('/')}/{path}" if base else path
