"""The registry overview as one HTML page (served by the Airflow plugin at ``/vaxreg/overview``):
the figures of :func:`vaxreg.outputs.overview.overview`, small cells suppressed, and per feed a
chart of the quarantine rate of each file over the last 12 months (inline SVG drawn here: no
script, font or request leaves the page, and no plotting library is imported by the API server).
"""

from __future__ import annotations

import html
from typing import Any

from vaxreg.outputs.overview import Overview, coverage_shown, suppress
from vaxreg.rules.table import default_rules


def vaccine_name(code: str) -> str:
    return str(default_rules().vaccines.get(code, {}).get("name", ""))


CSS = (
    "body{font-family:sans-serif;margin:1em;color:#222}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}td.n{text-align:right}"
    ".feeds{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0}figcaption{font-weight:bold}"
)


def _table(head: tuple[str, ...], rows: list[tuple[Any, ...]], table_id: str) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='n'>{html.escape(str(c))}</td>" if i else f"<td>{html.escape(str(c))}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    if not rows:
        body = f"<tr><td colspan='{len(head)}'>none</td></tr>"
    return f"<table id='{table_id}'><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def rate_chart(feed: str, files: list[dict[str, Any]], width: int = 420, height: int = 160) -> str:
    """Bars of the quarantine rate (0–100 %) of each file of ``feed``, oldest left; the worst
    file's rate labelled, so that a feed going bad is seen at a glance."""
    pad_l, pad_b, pad_t = 36, 18, 10
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    top = max(0.05, max((f["rate"] for f in files), default=0.0))
    top = min(1.0, top * 1.15)
    step = plot_w / max(1, len(files))
    bars = []
    for i, f in enumerate(files):
        h = plot_h * f["rate"] / top
        bar_w = min(step * 0.8, 24.0)
        x, y = pad_l + i * step + (step - bar_w) / 2, pad_t + plot_h - h
        colour = "#c0392b" if f["rate"] >= 0.05 else "#2f6f9f"
        title = html.escape(f"{f['file']}: {f['quarantined']} of {f['rows']} rows ({100 * f['rate']:.1f}%)")
        bars.append(
            f"<rect class='bar' x='{x:.1f}' y='{y:.1f}' width='{max(1.0, bar_w):.1f}' height='{h:.1f}' "
            f"fill='{colour}'><title>{title}</title></rect>"
        )
    axis = (
        f"<line x1='{pad_l}' y1='{pad_t + plot_h}' x2='{width - 8}' y2='{pad_t + plot_h}' stroke='#555'/>"
        f"<line x1='{pad_l}' y1='{pad_t}' x2='{pad_l}' y2='{pad_t + plot_h}' stroke='#555'/>"
        f"<text x='{pad_l - 4}' y='{pad_t + 8}' font-size='10' text-anchor='end'>{100 * top:.0f}%</text>"
        f"<text x='{pad_l - 4}' y='{pad_t + plot_h}' font-size='10' text-anchor='end'>0%</text>"
        f"<text x='{pad_l}' y='{height - 4}' font-size='10'>{len(files)} file(s), oldest left</text>"
    )
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='quarantine rate per file of {html.escape(feed)}'>"
        f"{axis}{''.join(bars)}</svg>"
    )
    name = html.escape(feed)
    return f"<figure class='rate-chart' data-feed='{name}'><figcaption>{name}</figcaption>{svg}</figure>"


def render(o: Overview) -> str:
    status = _table(
        ("status", "persons"),
        [(s, suppress(n)) for s, n in sorted(o.persons_by_status.items())],
        "persons-by-status",
    )
    doses = _table(
        ("source", "month", "doses"),
        [(d["source"], d["month"], suppress(d["doses"])) for d in o.doses_by_source_month],
        "doses-by-source-month",
    )
    coverage = _table(
        ("vaccine", "phase", "dose", "target persons", "covered", "coverage"),
        [
            (
                f"{c['vaccine_code']} {vaccine_name(c['vaccine_code'])}",
                c["phase"],
                c["dose_no"],
                suppress(c["target"]),
                suppress(c["covered"]),
                coverage_shown(c["covered"], c["target"]),
            )
            for c in o.coverage
        ],
        "coverage",
    )
    review = _table(
        ("feed", "age", "open items"),
        [(r["feed"], r["age"], r["items"]) for r in o.review_by_age],
        "review-by-age",
    )
    charts = "".join(rate_chart(feed, files) for feed, files in sorted(o.quarantine_rates.items()))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>vaxreg registry overview</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Registry overview</h1><p>As of {o.as_of.isoformat()}; counts only, read-only. "
        f"Population cells from 1 to 9 are shown as &lt;10.</p>"
        f"<h2>Persons by status</h2>{status}"
        f"<h2>Doses by source and month (last 12 months)</h2>{doses}"
        f"<h2>Coverage per routine vaccine, FY{o.fiscal_year}</h2>{coverage}"
        f"<h2>Open review items by age</h2>{review}"
        f"<h2>Quarantine rate per file, last 12 months</h2>"
        f"<div class='feeds'>{charts or '<p>No files applied in the last 12 months.</p>'}</div>"
        "</body></html>"
    )
