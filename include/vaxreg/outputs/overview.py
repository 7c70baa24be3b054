"""The registry overview (台帳の概況) the Airflow plugin shows: counts only, read-only, one
grouped query per figure — persons by status, doses by source and month, coverage per routine
vaccine for the current fiscal year, the open review queue by age, and per feed the quarantine
rate of each file over the last 12 months.

Small cells (docs/decisions.md, "Small cells"): the page may be seen by more people than the
prefecture's form, so population counts from 1 to 9 are shown as ``<10``
(:func:`suppress`), and a coverage whose covered or uncovered persons number 1–9 is not shown.
The review queue and the quarantine rates count work items and file rows, not people of a
cohort: they are shown exactly (an on-call engineer needs them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from vaxreg.registry import db
from vaxreg.registry.db import read_table

MONTH = "SUBSTR(CAST(dose_date AS TEXT), 1, 7)"  # YYYY-MM on both databases
SMALL = 10  # population cells below this (and above 0) are not shown on the page
AGE_BUCKETS = ((0, 7, "< 7 days"), (7, 30, "7–29 days"), (30, 90, "30–89 days"), (90, 10**6, "≥ 90 days"))


def suppress(n: int | None) -> str:
    """A population count as the page shows it: exact from 10 on and for 0, else ``<10``."""
    if n is None:
        return ""
    return f"<{SMALL}" if 0 < n < SMALL else str(int(n))


def coverage_shown(covered: int, target: int) -> str:
    """The coverage as a percentage, or ``—`` where it would reveal a cell under 10."""
    if target < SMALL or 0 < covered < SMALL or 0 < target - covered < SMALL:
        return "—"
    return f"{100 * covered / target:.1f}%"


@dataclass
class Overview:
    as_of: dt.date
    fiscal_year: int
    persons_by_status: dict[str, int] = field(default_factory=dict)
    doses_by_source_month: list[dict[str, Any]] = field(default_factory=list)  # source, month, doses
    coverage: list[dict[str, Any]] = field(default_factory=list)  # vaccine, phase, dose_no, target, covered
    review_by_age: list[dict[str, Any]] = field(default_factory=list)  # feed, age, items
    quarantine_rates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # feed -> files


def overview(conn: Connection, as_of: dt.date | None = None) -> Overview:
    """Every figure of the page as of ``as_of`` (default today)."""
    day = as_of or dt.date.today()
    fy = day.year if day.month >= 4 else day.year - 1
    out = Overview(as_of=day, fiscal_year=fy)
    out.persons_by_status = {
        str(s): int(n)
        for s, n in conn.exec_driver_sql(
            "SELECT status, COUNT(*) FROM persons GROUP BY status ORDER BY status"
        )
    }
    m = db.mark(conn)
    since = (day.replace(day=1) - pd.DateOffset(months=11)).date().isoformat()
    out.doses_by_source_month = [
        {"source": str(s), "month": str(mo), "doses": int(n)}
        for s, mo, n in conn.exec_driver_sql(
            f"SELECT source, {MONTH} AS month, COUNT(*) FROM doses "
            f"WHERE dose_date >= {m} AND dose_date <= {m} GROUP BY source, {MONTH} ORDER BY source, month",
            (since, day.isoformat()),
        )
    ]
    out.coverage = _coverage(conn, fy)
    out.review_by_age = _review_by_age(conn, day)
    out.quarantine_rates = _quarantine_rates(conn, day)
    return out


def _coverage(conn: Connection, fy: int) -> list[dict[str, Any]]:
    from vaxreg.outputs.stats import coverage_counts
    from vaxreg.rules.table import default_rules

    cov = coverage_counts(conn, fy, default_rules())
    return [
        {
            "vaccine_code": str(v),
            "phase": str(p),
            "dose_no": int(n),
            "target": int(t),
            "covered": int(c),
        }
        for v, p, n, t, c in cov[
            ["vaccine_code", "phase", "dose_no", "target_persons", "covered"]
        ].itertuples(index=False)
    ]


def _review_by_age(conn: Connection, day: dt.date) -> list[dict[str, Any]]:
    items = read_table(
        conn,
        "SELECT feed, CAST(recorded_at AS TEXT) FROM review_items WHERE status = 'open'",
        ("feed", "recorded_at"),
    ).to_pandas()
    if items.empty:
        return []
    recorded = pd.to_datetime(items["recorded_at"].str.slice(0, 10), format="%Y-%m-%d")
    age = (pd.Timestamp(day) - recorded).dt.days.clip(lower=0)
    labels = pd.cut(
        age,
        bins=[b[0] for b in AGE_BUCKETS] + [AGE_BUCKETS[-1][1]],
        right=False,
        labels=[b[2] for b in AGE_BUCKETS],
    )
    counts = items.assign(age=labels).groupby(["feed", "age"], observed=True).size()
    return [{"feed": f, "age": str(a), "items": int(n)} for (f, a), n in counts.items()]


def _quarantine_rates(conn: Connection, day: dt.date) -> dict[str, list[dict[str, Any]]]:
    """Per feed, its applied files of the last 12 months in order: rows read, quarantined, rate."""
    m = db.mark(conn)
    since = (pd.Timestamp(day) - pd.DateOffset(months=12)).date().isoformat()
    rows = conn.exec_driver_sql(
        "SELECT feed, file_name, rows_read, quarantined, CAST(recorded_at AS TEXT) FROM ingest_manifest "
        f"WHERE status = 'applied' AND recorded_at >= {m} ORDER BY feed, recorded_at, id",
        (since,),
    ).fetchall()
    out: dict[str, list[dict[str, Any]]] = {}
    for feed, name, read, quarantined, at in rows:
        rate = quarantined / read if read else 0.0
        out.setdefault(str(feed), []).append(
            {
                "file": str(name),
                "rows": int(read),
                "quarantined": int(quarantined),
                "rate": rate,
                "at": str(at)[:10],
            }
        )
    return out
