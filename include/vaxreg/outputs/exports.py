"""Registry exports (cli.md): fixed headers, streamed in chunks, never My Number."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection

# name -> (CSV header, query whose columns follow the header)
QUERIES: dict[str, tuple[tuple[str, ...], str]] = {
    "persons": (
        ("atena_no", "status", "name_kana", "birth_date", "sex", "removed_date"),
        "SELECT atena_no, status, name_kana, CAST(birth_date AS TEXT), sex, CAST(removed_date AS TEXT) "
        "FROM persons ORDER BY atena_no",
    ),
    "quarantine": (
        ("feed", "file", "row_no", "reasons"),
        "SELECT feed, file_name, row_no, reasons FROM quarantine ORDER BY feed, file_name, row_no",
    ),
    "doses": (
        ("atena_no", "vaccine_code", "phase", "dose_no", "dose_date", "source", "off_schedule"),
        "SELECT atena_no, vaccine_code, phase, dose_no, CAST(dose_date AS TEXT), source, off_schedule "
        "FROM doses ORDER BY atena_no, vaccine_code, phase, dose_no, dose_date",
    ),
    "review": (
        ("item_id", "feed", "file", "row_no", "candidates"),
        "SELECT id, feed, file_name, row_no, candidates FROM review_items WHERE status = 'open' "
        "ORDER BY feed, file_name, row_no",
    ),
    "due": (
        ("atena_no", "vaccine_code", "phase", "dose_no", "state", "window_start", "window_end"),
        "SELECT atena_no, vaccine_code, phase, dose_no, state, CAST(window_start AS TEXT), "
        "CAST(window_end AS TEXT) FROM due_doses ORDER BY atena_no, vaccine_code, phase, dose_no, cycle",
    ),
}
PERSONAL = frozenset(
    {"persons", "doses", "review", "due"}
)  # exports of personal data are audited (privacy.md P4)


def stream(conn: Connection, query: str, chunk: int = 50_000) -> Iterator[list[tuple[object, ...]]]:
    result = conn.exec_driver_sql(query)
    while rows := result.fetchmany(chunk):
        yield [tuple("" if v is None else v for v in r) for r in rows]


def summary(conn: Connection) -> dict[str, object]:
    """Counts only (no personal data): files by status, rows by outcome, persons by status."""
    files = conn.exec_driver_sql(
        "SELECT feed, status, COUNT(*), SUM(rows_read), SUM(accepted), SUM(quarantined), SUM(review), "
        "SUM(duplicates) FROM ingest_manifest GROUP BY feed, status ORDER BY feed, status"
    ).fetchall()
    persons = conn.exec_driver_sql(
        "SELECT status, COUNT(*) FROM persons GROUP BY status ORDER BY status"
    ).fetchall()
    reasons = conn.exec_driver_sql(
        "SELECT reasons, COUNT(*) FROM quarantine GROUP BY reasons ORDER BY COUNT(*) DESC, reasons"
    ).fetchall()
    keys = ("files", "rows", "accepted", "quarantined", "review", "duplicates")
    return {
        "files": [
            {"feed": f, "status": s} | dict(zip(keys, map(int, rest), strict=True)) for f, s, *rest in files
        ],
        "persons": {s: int(n) for s, n in persons},
        "quarantine_reasons": {r: int(n) for r, n in reasons},
        "history_rows": int(conn.exec_driver_sql("SELECT COUNT(*) FROM person_history").scalar_one()),
        "vaccinations": _vaccination_summary(conn),
        "vrs_welfare": _vrs_welfare_summary(conn),
        "audit_records": int(conn.exec_driver_sql("SELECT COUNT(*) FROM audit_log").scalar_one()),
        "outbound": _outbound_summary(conn),
        "due": _due_summary(conn),
    }


def _due_summary(conn: Connection) -> dict[str, object]:
    """The last refresh's counts by state, and the forms and reminders files published (rows)."""
    from vaxreg.outputs.due import last_refresh

    files = conn.exec_driver_sql(
        "SELECT kind, file_name, rows FROM outbound_files WHERE kind IN ('forms', 'reminders') "
        "AND state = 'published' ORDER BY id"
    ).fetchall()
    return {
        "refresh": last_refresh(conn),
        "files": [{"kind": k, "file": f, "rows": int(n)} for k, f, n in files],
    }


def _outbound_summary(conn: Connection) -> dict[str, object]:
    """Outbound files published, and those left prepared (to be finished; runbook)."""
    from vaxreg.outputs import outbound

    published = conn.exec_driver_sql("SELECT COUNT(*) FROM outbound_files WHERE state = 'published'")
    return {"published": int(published.scalar_one()), "prepared": outbound.pending(conn)}


def _vaccination_summary(conn: Connection) -> dict[str, int]:
    """Clinic and other-ward records: accepted / off-schedule / quarantined / review, and fees."""

    def one(sql: str) -> int:
        return int(conn.exec_driver_sql(sql).scalar_one() or 0)

    feeds = "('clinic', 'otherward')"
    return {
        "accepted": one(
            f"SELECT SUM(accepted) FROM ingest_manifest WHERE feed IN {feeds} AND status = 'applied'"
        ),
        "doses": one(f"SELECT COUNT(*) FROM doses WHERE source IN {feeds}"),
        "off_schedule": one(
            f"SELECT COUNT(*) FROM doses WHERE source IN {feeds} AND off_schedule IS NOT NULL"
        ),
        "preliminary_only": one(f"SELECT COUNT(*) FROM preliminary_exams WHERE source IN {feeds}"),
        "quarantined": one(f"SELECT COUNT(*) FROM quarantine WHERE feed IN {feeds}"),
        "review_open": one(f"SELECT COUNT(*) FROM review_items WHERE feed IN {feeds} AND status = 'open'"),
        # How the stored doses of these feeds were put on their person (decided_by, decisions.md §33).
        "matched_deterministic": one(
            f"SELECT COUNT(*) FROM doses WHERE source IN {feeds} AND decided_by LIKE '%%(deterministic)%%'"
        ),
        "matched_probabilistic": one(
            f"SELECT COUNT(*) FROM doses WHERE source IN {feeds} AND decided_by LIKE '%%(match weight%%'"
        ),
        "matched_by_review": one(
            f"SELECT COUNT(*) FROM doses WHERE source IN {feeds} AND decided_by LIKE '%%(review decision)%%'"
        ),
        "corrections": one(f"SELECT COUNT(*) FROM dose_history WHERE source IN {feeds}"),
        "fee_records": one("SELECT COUNT(*) FROM fee_details WHERE fee > 0"),
        "fee_total_yen": one("SELECT SUM(fee) FROM fee_details"),
        "fee_statements": one("SELECT COUNT(*) FROM fee_statements"),
    }


def _vrs_welfare_summary(conn: Connection) -> dict[str, int]:
    """VRS doses, vouchers, review, flags sent; welfare periods open and snapshots (counts only)."""

    def one(sql: str) -> int:
        return int(conn.exec_driver_sql(sql).scalar_one() or 0)

    return {
        "vrs_vouchers": one("SELECT COUNT(*) FROM vrs_subjects"),
        "vrs_doses": one("SELECT COUNT(*) FROM doses WHERE source = 'vrs'"),
        "vrs_persons": one("SELECT COUNT(DISTINCT atena_no) FROM doses WHERE source = 'vrs'"),
        "vrs_corrections": one("SELECT COUNT(*) FROM dose_history WHERE source = 'vrs'"),
        "vrs_review_open": one("SELECT COUNT(*) FROM review_items WHERE feed = 'vrs' AND status = 'open'"),
        "vrs_flags_sent": one("SELECT COUNT(*) FROM vrs_flags"),
        "vrs_flag_files": one("SELECT COUNT(*) FROM vrs_flag_files"),
        "welfare_snapshots": one("SELECT COUNT(*) FROM welfare_snapshots"),
        "seiho_open": one("SELECT COUNT(*) FROM welfare_seiho_periods WHERE closed_month IS NULL"),
        "seiho_closed": one("SELECT COUNT(*) FROM welfare_seiho_periods WHERE closed_month IS NOT NULL"),
        "techo_open": one("SELECT COUNT(*) FROM welfare_techo_periods WHERE closed_month IS NULL"),
        "b_class_60_64_holders": one(
            "SELECT COUNT(DISTINCT atena_no) FROM welfare_techo_periods WHERE closed_month IS NULL "
            "AND techo_type = '1' AND grade = '1' AND part IN ('H', 'K', 'R', 'I')"
        ),
    }


def format_summary(s: dict[str, object]) -> str:
    lines = [
        "Files ingested",
        f"  {'feed':<10} {'status':<10} {'files':>5} {'rows':>9} {'accepted':>9} "
        f"{'quarant.':>9} {'review':>7} {'dupl.':>7}",
    ]
    for f in s["files"]:  # type: ignore[attr-defined]
        lines.append(
            f"  {f['feed']:<10} {f['status']:<10} {f['files']:>5} {f['rows']:>9,} {f['accepted']:>9,} "
            f"{f['quarantined']:>9,} {f['review']:>7,} {f['duplicates']:>7,}"
        )
    lines.append("Persons by status")
    lines += [f"  {k:<10} {v:>9,}" for k, v in s["persons"].items()]  # type: ignore[attr-defined]
    lines.append("Quarantine reasons (top 10)")
    lines += [f"  {v:>7,}  {k}" for k, v in list(s["quarantine_reasons"].items())[:10]]  # type: ignore[attr-defined]
    lines.append(f"History rows {s['history_rows']:,}; audit records {s['audit_records']:,}")
    v = s.get("vaccinations")
    if isinstance(v, dict):
        lines.append("Vaccination records (clinic + other wards)")
        lines.append(
            f"  rows accepted {v['accepted']:,}: doses stored {v['doses']:,} "
            f"(off-schedule {v['off_schedule']:,}), examinations only (予診のみ) {v['preliminary_only']:,}; "
            f"doses corrected {v['corrections']:,}"
        )
        lines.append(f"  rows quarantined {v['quarantined']:,}; review items open {v['review_open']:,}")
        lines.append(
            f"  doses put on their person by 宛名番号 {v['matched_deterministic']:,}, "
            f"by the matcher {v['matched_probabilistic']:,}, by a reviewer {v['matched_by_review']:,}"
        )
        lines.append(
            f"  commission fees: {v['fee_records']:,} paying record(s), total ¥{v['fee_total_yen']:,} "
            f"(placeholder fee table); statements published {v['fee_statements']:,}"
        )
    w = s.get("vrs_welfare")
    if isinstance(w, dict):
        lines.append("VRS (COVID-19 special campaign, vaccine 31)")
        lines.append(
            f"  vouchers {w['vrs_vouchers']:,}; doses {w['vrs_doses']:,} of {w['vrs_persons']:,} persons "
            f"(corrected {w['vrs_corrections']:,}); review items open {w['vrs_review_open']:,}; "
            f"flags sent {w['vrs_flags_sent']:,} in {w['vrs_flag_files']:,} file(s)"
        )
        lines.append("Welfare lists")
        lines.append(
            f"  snapshots {w['welfare_snapshots']:,}; 生活保護 periods open {w['seiho_open']:,}, "
            f"closed {w['seiho_closed']:,}; 手帳 periods open {w['techo_open']:,} "
            f"(grade-1 身体 H/K/R/I holders {w['b_class_60_64_holders']:,})"
        )
    d = s.get("due")
    if isinstance(d, dict) and d.get("refresh"):
        r = d["refresh"]
        lines.append(f"Due doses (as of {r['as_of']}): {r['rows']:,} rows")
        lines.append("  " + ", ".join(f"{k} {v:,}" for k, v in r["counts"].items()))
        lines += [f"  published {f['file']}: {f['rows']:,} rows" for f in d["files"]]
    o = s.get("outbound")
    if isinstance(o, dict):
        lines.append(f"Outbound files published {o['published']:,}; left prepared {len(o['prepared']):,}")
        lines += [
            f"  PREPARED {p['file']} (inbox/{p['target']}, since {p['prepared_at']}, run {p['run_id']})"
            + (f": {p['last_error']}" if p["last_error"] else "")
            for p in o["prepared"]
        ]
    return "\n".join(lines)
