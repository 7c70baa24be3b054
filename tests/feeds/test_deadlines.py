"""Issue 16.3: a monthly file that has not arrived by its deadline is reported (feed_deadlines)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vaxreg.feeds import deadlines
from vaxreg.registry import db

from helpers.resident import deliver

D = dt.date


def test_files_are_due_from_their_day_of_the_month() -> None:
    assert deadlines.expected(D(2026, 4, 1)) == []
    assert [m.name for m in deadlines.expected(D(2026, 4, 2))] == ["SEIHO_202604.csv", "TECHO_202604.csv"]
    on_5th = deadlines.expected(D(2026, 1, 5))  # the clinic file covers the previous month
    assert [m.name for m in on_5th] == ["SEIHO_202601.csv", "TECHO_202601.csv", "ISHIKAI_202512.csv"]
    assert {m.due for m in on_5th} == {D(2026, 1, 2), D(2026, 1, 5)}


def test_missing_unless_in_the_manifest_or_complete_in_the_outbox(feed_root: Path, db_url: str) -> None:
    source = f"file://{feed_root}"
    late = deadlines.missing(D(2026, 4, 6), source_url=source, db_url=db_url)
    assert [m.line() for m in late] == [
        "welfare: SEIHO_202604.csv not arrived (due 2026-04-02)",
        "welfare: TECHO_202604.csv not arrived (due 2026-04-02)",
        "clinic: ISHIKAI_202603.csv not arrived (due 2026-04-05)",
    ]
    deliver(feed_root, "SEIHO_202604.csv", b"x", feed="welfare")  # complete, waiting for its run
    deliver(feed_root, "TECHO_202604.csv", b"x", feed="welfare", marker=None)  # no marker yet: late
    with db.transaction(db_url) as conn:  # the clinic file was ingested (even a refusal counts)
        conn.exec_driver_sql(
            "INSERT INTO ingest_manifest (feed, file_name, sha256, size_bytes, status, run_id, recorded_at) "
            "VALUES ('clinic', 'ISHIKAI_202603.csv', 'x', 1, 'refused', 'r', CURRENT_TIMESTAMP)"
        )
    late = deadlines.missing(D(2026, 4, 6), source_url=source, db_url=db_url)
    assert [m.name for m in late] == ["TECHO_202604.csv"]
    assert deadlines.missing(D(2026, 4, 1), source_url=source, db_url=db_url) == []
