"""The yearly statistics for the prefecture (国などへ報告する数値, outputs.md §4):
``inbox/stats/STATS_FY.csv`` and, beside it, the same figures as a readable page
``STATS_FY.html`` (:mod:`vaxreg.outputs.stats_report`). Counts only (privacy.md P7).

One row per vaccine code, phase and dose number: the doses of the rules in force in the fiscal
year (:func:`vaxreg.rules.cohort.routine_rows`) and any other (vaccine, phase, dose) given in the
year. The figures, set-based from the registry:

* ``doses_routine``: valid doses (no off-schedule reason) dated in the year whose person was
  resident on the dose date — the version of the person (``persons`` / ``person_history``,
  ``[valid_from, valid_to)``) in force that day has status ``resident``. A person who moved out
  after the dose counts; a dose before the person became resident does not.
* ``doses_off_schedule``: doses dated in the year stored with off-schedule reasons.
* ``target_persons``: residents on 1 October of the year whose window of the rule
  (:func:`vaxreg.rules.cohort.windows`) overlaps the year; for the vaccines given once per
  fiscal year (flu, COVID-19) that is the count of eligible residents.
* ``coverage``: of those, the persons with a valid dose of that vaccine, phase and dose number
  in their window (up to the year's end; within the year for once-a-year vaccines), 4 decimals.

A Great Expectations suite (``expectations/stats_figures.json``) checks the figures before
anything is recorded: no negative counts, coverage within [0, 1], every routine vaccine in force
present. Published exactly once through :func:`vaxreg.outputs.outbound.publish_once`; the page is
a second ledger row of the same unit (written by the same completion step). A re-issue for a
year already published is ``STATS_FY_vN.csv`` (and ``.html``), N = 2, 3, …, asked for with a
reason (``vaxreg publish stats --reissue --reason TEXT`` or the DAG's params), never a rewrite.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.outputs import outbound
from vaxreg.registry import db, ledger
from vaxreg.registry.db import read_table
from vaxreg.rules import cohort
from vaxreg.rules.table import Rules, default_rules
from vaxreg.transport import Source

log = logging.getLogger(__name__)

COLUMNS = (
    "fiscal_year",
    "vaccine_code",
    "phase",
    "dose_no",
    "doses_routine",
    "doses_off_schedule",
    "target_persons",
    "coverage",
)
TARGET = "stats"
outbound.register("stats", outbound.OutboundLayout(TARGET, "STATS_{fy}.csv", COLUMNS))
outbound.register("stats_reissue", outbound.OutboundLayout(TARGET, "STATS_{fy}_v{n}.csv", COLUMNS))
# The pages: no columns (not CSV); their ledger rows are added by this module's ``record``.
HTML_NAMES = {"stats": "STATS_{fy}.html", "stats_reissue": "STATS_{fy}_v{n}.html"}
HTML_KIND = "stats_html"
SUITE = "stats_figures"
PURPOSE = "prefecture statistics (counts only)"


class StatsError(outbound.OutboundError):
    """The figures cannot be published as they are (one line, counts only)."""


def fiscal_year_ended(day: dt.date) -> int:
    """The fiscal year (April–March) that ended last on or before ``day``."""
    return day.year - 1 if day.month >= 4 else day.year - 2


# --- the figures ----------------------------------------------------------------------------------


def _residents_on(conn: Connection, day: dt.date) -> pd.DataFrame:
    """atena_no, birth_date, sex of the persons whose version in force on ``day`` is resident."""
    m = db.mark(conn)
    sql = (
        "SELECT atena_no, CAST(birth_date AS TEXT), sex FROM persons "
        f"WHERE status = 'resident' AND valid_from <= {m} "
        "UNION ALL SELECT atena_no, CAST(birth_date AS TEXT), sex FROM person_history "
        f"WHERE status = 'resident' AND valid_from <= {m} AND valid_to > {m}"
    )
    d = day.isoformat()
    t = read_table(conn, sql, ("atena_no", "birth_date", "sex"), (d, d, d))
    return t.to_pandas().drop_duplicates("atena_no")


_RESIDENT_ON_DOSE_DATE = (
    "(EXISTS (SELECT 1 FROM persons p WHERE p.atena_no = d.atena_no AND p.status = 'resident' "
    "AND p.valid_from <= d.dose_date) OR EXISTS (SELECT 1 FROM person_history h "
    "WHERE h.atena_no = d.atena_no AND h.status = 'resident' AND h.valid_from <= d.dose_date "
    "AND h.valid_to > d.dose_date))"
)
# The current version is in force from valid_from on; a superseded one until valid_to (excluded).
# Exactly one version is in force on a day after the first: the EXISTS pair finds it.


def dose_counts(conn: Connection, fy: int) -> pd.DataFrame:
    """vaccine_code, phase, dose_no, doses_routine, doses_off_schedule of the year (one GROUP BY)."""
    m = db.mark(conn)
    start, end = (d.isoformat() for d in cohort.fy_bounds(fy))
    sql = (
        "SELECT d.vaccine_code, d.phase, d.dose_no, "
        f"SUM(CASE WHEN d.off_schedule IS NULL AND {_RESIDENT_ON_DOSE_DATE} THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN d.off_schedule IS NOT NULL THEN 1 ELSE 0 END) "
        f"FROM doses d WHERE d.dose_date >= {m} AND d.dose_date <= {m} "
        "GROUP BY d.vaccine_code, d.phase, d.dose_no"
    )
    rows = conn.exec_driver_sql(sql, (start, end)).fetchall()
    out = pd.DataFrame(
        rows, columns=["vaccine_code", "phase", "dose_no", "doses_routine", "doses_off_schedule"]
    )
    return out.astype({"dose_no": "int64", "doses_routine": "int64", "doses_off_schedule": "int64"})


def coverage_counts(conn: Connection, fy: int, rules: Rules) -> pd.DataFrame:
    """vaccine_code, phase, dose_no, target_persons, covered of the year's routine rows."""
    start, end = cohort.fy_bounds(fy)
    residents = _residents_on(conn, dt.date(fy, 10, 1))
    win = cohort.windows(rules, residents, fy)
    targets = win.groupby(["vaccine_code", "phase"], as_index=False).agg(target_persons=("atena_no", "size"))
    m = db.mark(conn)
    valid = read_table(
        conn,
        "SELECT atena_no, vaccine_code, phase, dose_no, CAST(dose_date AS TEXT) FROM doses "
        f"WHERE off_schedule IS NULL AND dose_date <= {m}",
        ("atena_no", "vaccine_code", "phase", "dose_no", "dose_date"),
        (end.isoformat(),),
        types={"dose_no": pa.int64()},
    ).to_pandas()
    hit = win.merge(valid, on=["atena_no", "vaccine_code", "phase"], how="inner")
    when = hit["dose_date"].to_numpy(dtype="datetime64[D]")
    lo = hit["win_start"].to_numpy(dtype="datetime64[D]")
    lo = np.where(hit["per_fiscal_year"].to_numpy(dtype=bool), np.maximum(lo, np.datetime64(start)), lo)
    hi = np.minimum(hit["win_end"].to_numpy(dtype="datetime64[D]"), np.datetime64(end))
    hit = hit[(when >= lo) & (when <= hi)]
    covered = hit.groupby(["vaccine_code", "phase", "dose_no"], as_index=False).agg(
        covered=("atena_no", "nunique")
    )
    rows = cohort.routine_rows(rules, fy).merge(targets, on=["vaccine_code", "phase"], how="left")
    rows = rows.merge(covered, on=["vaccine_code", "phase", "dose_no"], how="left")
    rows["target_persons"] = rows["target_persons"].fillna(0).astype("int64")
    rows["covered"] = rows["covered"].fillna(0).astype("int64")
    return rows


def figures(conn: Connection, fy: int, rules: Rules | None = None) -> pd.DataFrame:
    """The year's figures as numbers (coverage a float, NaN where there is no target)."""
    rules = rules or default_rules()
    cov = coverage_counts(conn, fy, rules)
    doses = dose_counts(conn, fy)
    out = cov.merge(doses, on=["vaccine_code", "phase", "dose_no"], how="outer")
    for col in ("doses_routine", "doses_off_schedule"):
        out[col] = out[col].fillna(0).astype("int64")
    out["target_persons"] = out["target_persons"].astype("Int64")
    out["covered"] = out["covered"].astype("Int64")
    tp = out["target_persons"].astype("float64")
    out["coverage"] = np.where(tp > 0, out["covered"].astype("float64") / tp.where(tp > 0, 1.0), np.nan)
    out.insert(0, "fiscal_year", fy)
    return out.sort_values(["vaccine_code", "phase", "dose_no"]).reset_index(drop=True)


def to_table(fig: pd.DataFrame) -> pa.Table:
    """The CSV's columns: counts as integers, coverage as text with 4 decimals, empty where none."""
    cov = [None if pd.isna(c) else f"{c:.4f}" for c in fig["coverage"]]
    tp = [None if pd.isna(t) else int(t) for t in fig["target_persons"]]
    return pa.table(
        {
            "fiscal_year": pa.array(fig["fiscal_year"].astype("int64"), pa.int64()),
            "vaccine_code": pa.array(fig["vaccine_code"].astype(str), pa.string()),
            "phase": pa.array(fig["phase"].astype(str), pa.string()),
            "dose_no": pa.array(fig["dose_no"].astype("int64"), pa.int64()),
            "doses_routine": pa.array(fig["doses_routine"], pa.int64()),
            "doses_off_schedule": pa.array(fig["doses_off_schedule"], pa.int64()),
            "target_persons": pa.array(tp, pa.int64()),
            "coverage": pa.array(cov, pa.string()),
        }
    )


def check(fig: pd.DataFrame, fy: int, rules: Rules | None = None) -> None:
    """The GX suite on the figures; raises :class:`StatsError` naming the failed checks."""
    from vaxreg.quality.suites import run_suite

    rules = rules or default_rules()
    frame = fig[list(COLUMNS)].copy()
    frame["target_persons"] = frame["target_persons"].astype("float64")
    frame["coverage"] = frame["coverage"].astype("float64")
    # "every routine vaccine present": the routine vaccines in force this year, per row, must be
    # among the vaccine codes of the figures (the year decides which: zoster only from FY2025).
    expected = set(cohort.rules_in_force(rules, fy)["vaccine"])
    present = set(frame["vaccine_code"])
    frame["routine_vaccines_missing"] = len(expected - present)
    result = run_suite(frame, SUITE)
    failed = sorted({s["reason"] for s in result.summary if s["failed"]})
    if failed:
        raise StatsError(f"STATS_{fy}: the figures fail their checks: {', '.join(failed)}")


# --- publication ----------------------------------------------------------------------------------


def publish(
    source: Source,
    actor: ledger.Actor,
    day: dt.date,
    *,
    db_url: str | None = None,
    fiscal_year: int | None = None,
    reissue_reason: str | None = None,
) -> list[str]:
    """``STATS_FY.csv`` and ``STATS_FY.html`` of the fiscal year ended on ``day`` (or
    ``fiscal_year``); nothing new when that year's file exists. With ``reissue_reason`` a
    re-issue ``STATS_FY_vN.csv`` (+ ``.html``) of a year already published."""
    fy = fiscal_year if fiscal_year is not None else fiscal_year_ended(day)
    if dt.date(fy + 1, 3, 31) >= day:
        raise StatsError(f"fiscal year {fy} has not ended on {day.isoformat()}")
    done = [
        f.name
        for f in outbound.complete_pending(
            source, actor, ("stats", "stats_reissue", HTML_KIND), db_url=db_url
        )
    ]
    kind, parts = "stats", {"fy": str(fy)}
    if reissue_reason is not None:
        if not reissue_reason.strip():
            raise StatsError("a re-issue needs a reason")
        kind, parts = "stats_reissue", {"fy": str(fy), "n": str(_next_version(fy, db_url))}

    built: dict[str, pa.Table] = {}

    def build(conn: Connection) -> pa.Table:
        fig = figures(conn, fy)
        check(fig, fy)  # the GX suite: nothing is recorded when it fails
        built["table"] = to_table(fig)
        return built["table"]

    def record(conn: Connection, files: dict[str, outbound.OutboundFile]) -> None:
        from vaxreg.outputs import stats_report

        f = files[kind]
        page = stats_report.render(built["table"], fy, csv_name=f.name, issued=day, reason=reissue_reason)
        _prepare_page(conn, source, actor, HTML_NAMES[kind].format(**parts), page)
        detail = {"file": f.name, "rows": f.rows, "fiscal_year": fy, "reissue_reason": reissue_reason}
        ledger.audit_event(conn, actor, "export", "stats", detail)

    published = outbound.publish_once(source, actor, kind, parts, build, record, db_url=db_url)
    pages = outbound.complete_pending(source, actor, (HTML_KIND,), db_url=db_url)
    names = done + [f.name for f in published] + [p.name for p in pages]
    log.info("stats %s: %s", fy, ", ".join(names) or "nothing new")
    return names


def _prepare_page(conn: Connection, source: Source, actor: ledger.Actor, name: str, page: bytes) -> None:
    """The page as a second ``prepared`` ledger row of the publication (same transaction)."""
    import hashlib

    digest = hashlib.sha256(page).hexdigest()
    source.check_outbound(TARGET, name, digest)
    f = outbound.OutboundFile(HTML_KIND, TARGET, name, digest, 0, len(page))
    outbound._insert_prepared(conn, actor, f, page)


def _next_version(fy: int, db_url: str | None) -> int:
    """2 for the first re-issue, then 3, …; refuses when the year was never published."""
    with db.transaction(db_url) as conn:
        m = db.mark(conn)
        names = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT file_name FROM outbound_files "
                f"WHERE target = {m} AND kind IN ('stats', 'stats_reissue')",
                (TARGET,),
            )
        ]
    if f"STATS_{fy}.csv" not in names:
        raise StatsError(f"STATS_{fy}.csv was never published: publish it, not a re-issue")
    versions = [int(v) for n in names if (v := _version_of(n, fy))]
    return max(versions, default=1) + 1


def _version_of(name: str, fy: int) -> str | None:
    match = re.fullmatch(rf"STATS_{fy}_v(\d+)\.csv", name)
    return match.group(1) if match else None


def published(conn: Connection) -> list[dict[str, Any]]:
    """The statistics files in the outbound ledger (for the overview and the runbook)."""
    rows = conn.exec_driver_sql(
        "SELECT kind, file_name, state, CAST(published_at AS TEXT) FROM outbound_files "
        f"WHERE target = '{TARGET}' ORDER BY id"
    ).fetchall()
    return [dict(zip(("kind", "file", "state", "published_at"), r, strict=True)) for r in rows]
