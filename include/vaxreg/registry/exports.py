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
}
PERSONAL = frozenset({"persons"})  # exports of personal data are audited (privacy.md P4)


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
        "audit_records": int(conn.exec_driver_sql("SELECT COUNT(*) FROM audit_log").scalar_one()),
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
    return "\n".join(lines)
