"""``STATS_FY.html``: the prefecture statistics as one self-contained page (接種率の報告書) —
the table, and a coverage chart per vaccine as inline SVG. No script, no font, no stylesheet and
no image is fetched: municipal networks are closed.

Japanese labels: matplotlib draws them with the IPAex Gothic font that the pinned package
``matplotlib-fontja`` ships, and writes every glyph as an SVG path (``svg.fonttype = "path"``),
so the page needs no font at all where it is opened (docs/decisions.md, "Statistics"). The
bytes are deterministic for the same figures (fixed SVG ids, no dates in the SVG metadata), so a
page prepared again after a crash is the same file.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from functools import cache
from typing import Any

import pyarrow as pa

from vaxreg.rules.table import default_rules

PHASES = {"00": "", "11": "1期初回", "12": "1期追加", "20": "2期", "90": "特例"}


@cache
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401 - registers IPAex Gothic and makes it the default family

    matplotlib.rcParams.update(
        {
            "svg.fonttype": "path",  # glyphs as paths: the page needs no font
            "svg.hashsalt": "vaxreg-stats",  # stable element ids
            "font.family": "IPAexGothic",
            "axes.unicode_minus": False,
        }
    )
    return plt


def vaccine_name(code: str) -> str:
    return str(default_rules().vaccines.get(code, {}).get("name", code))


def _label(phase: str, dose_no: int) -> str:
    p = PHASES.get(phase, phase)
    return f"{p} {dose_no}回目".strip()


def chart_svg(vaccine: str, rows: list[dict[str, Any]]) -> str:
    """A horizontal bar chart of the coverage of one vaccine's doses, as inline ``<svg>``."""
    plt = _pyplot()
    labels = [_label(r["phase"], r["dose_no"]) for r in rows]
    values = [float(r["coverage"]) * 100 if r["coverage"] else 0.0 for r in rows]
    fig, ax = plt.subplots(figsize=(6.0, 0.45 * len(rows) + 1.1))
    bars = ax.barh(range(len(rows)), values, color="#2f6f9f")
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("接種率 (%)")
    ax.set_title(f"{vaccine} {vaccine_name(vaccine)}")
    for bar, r, v in zip(bars, rows, values, strict=True):
        text = f"{v:.1f}%" if r["coverage"] else "—"
        ax.text(min(v, 88) + 1, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: inline in HTML
    return f'<figure class="chart" data-vaccine="{html.escape(vaccine)}">{svg}</figure>'


HEAD = (
    ("vaccine_code", "ワクチン"),
    ("phase", "期"),
    ("dose_no", "回"),
    ("doses_routine", "定期接種数"),
    ("doses_off_schedule", "定期外"),
    ("target_persons", "対象者数"),
    ("coverage", "接種率"),
)


def render(table: pa.Table, fy: int, *, csv_name: str, issued: dt.date, reason: str | None = None) -> bytes:
    """The page of the figures in ``table`` (the CSV's columns)."""
    rows = table.to_pylist()
    body = []
    for r in rows:
        cells = [
            f"{html.escape(r['vaccine_code'])} {html.escape(vaccine_name(r['vaccine_code']))}",
            html.escape(PHASES.get(r["phase"], r["phase"]) or "—"),
            str(r["dose_no"]),
            str(r["doses_routine"]),
            str(r["doses_off_schedule"]),
            "" if r["target_persons"] is None else str(r["target_persons"]),
            "" if r["coverage"] is None else f"{float(r['coverage']) * 100:.2f}%",
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    charts = []
    for code in sorted({r["vaccine_code"] for r in rows if r["target_persons"] is not None}):
        charts.append(chart_svg(code, [r for r in rows if r["vaccine_code"] == code]))
    note = f"<p class='reissue'>再発行: {html.escape(reason)}</p>" if reason else ""
    head = "".join(f"<th>{h}</th>" for _, h in HEAD)
    page = (
        "<!doctype html><html lang='ja'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>予防接種統計 {fy}年度</title><style>"
        "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:.2em .6em}td:nth-child(n+3){text-align:right}"
        ".charts{display:flex;flex-wrap:wrap;gap:1em}figure.chart{margin:0}"
        "figure.chart svg{width:480px;height:auto}</style></head><body>"
        f"<h1>予防接種統計 {fy}年度 (FY{fy})</h1>"
        f"<p>{html.escape(csv_name)} — 発行日 {issued.isoformat()}。件数のみ、個人情報なし。"
        f"対象者数: {fy}年10月1日の住民で接種期間が年度に重なる者。</p>{note}"
        f"<h2>集計表</h2><table id='figures'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
        f"<h2>ワクチン別接種率</h2><div class='charts'>{''.join(charts)}</div></body></html>\n"
    )
    return page.encode("utf-8")
