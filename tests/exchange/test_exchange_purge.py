"""Purge coverage of the exchange tables (privacy.md P6), on both databases: a person removed
long ago goes with their integrated number, move-in and inquiry; their doses, sent before, go out
as D in the next provision copy; the closed sent rows follow their own policy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vaxreg.registry import db, ledger
from vaxreg.retention import purge as retention

from helpers.db import owner_url, rows
from helpers.exchange import DAY1, DAY2, number, publish, read_out, seed_doses, seed_persons

GONE, STAYS = "5000000001", "5000000002"


def test_purged_person_goes_out_as_d(db_url: str, feed_root: Path) -> None:
    seed_persons(db_url, {GONE: ("2000-01-15", "1")}, status="removed")
    seed_persons(db_url, {STAYS: ("2025-01-15", "1")})
    seed_doses(
        db_url, [(GONE, "10", "11", 1, "2001-02-01", None), (STAYS, "01", "11", 1, "2025-03-20", None)]
    )
    now = ledger.now_text()
    with db.transaction(db_url) as conn:
        conn.exec_driver_sql(f"UPDATE persons SET removed_date = '2002-01-01' WHERE atena_no = '{GONE}'")
        for i, p in enumerate((GONE, STAYS), start=1):
            conn.exec_driver_sql(
                "INSERT INTO integrated_numbers (atena_no, integrated_no, assigned_date, assigned_by, "
                f"recorded_at) VALUES ('{p}', '{number(p)}', '2001-01-01', 0, '{now}')"
            )
            conn.exec_driver_sql(
                "INSERT INTO move_ins (atena_no, move_in_date, prev_municipality_code, manifest_id, seq, "
                f"recorded_at) VALUES ('{p}', '2001-01-01', '011002', 0, {i}, '{now}')"
            )
            conn.exec_driver_sql(
                "INSERT INTO history_inquiries (inquiry_no, move_in_id, atena_no, integrated_no, "
                "municipality_code, birth_date, file_name, sent_at) "
                f"VALUES ('2001010200000{i}', {i}, '{p}', '{number(p)}', '011002', "
                f"'2000-01-15', 'SHOKAI_20010102.csv', '{now}')"
            )
    publish("fukuhon", feed_root, db_url, DAY1)
    assert len(read_out(feed_root, "fukuhon", "FUKUHON_20260601.csv")) == 2

    retention.purge(
        dt.date(2026, 6, 2),
        dry_run=False,
        run_id="purge",
        db_url=owner_url(db_url),
        certificate_dir=feed_root / "c",
    )
    for table in ("integrated_numbers", "move_ins", "history_inquiries", "doses", "persons"):
        assert rows(db_url, f"SELECT DISTINCT atena_no FROM {table}") == [(STAYS,)], table
    publish("fukuhon", feed_root, db_url, DAY2)
    assert [tuple(r.values()) for r in read_out(feed_root, "fukuhon", "FUKUHON_20260602.csv")] == [
        ("D", number(GONE), "10", "2001-02-01", "")
    ]
    # the closed sent rows of the purged dose go 7 years after its D was sent (the clock: now)
    retention.purge(
        dt.date(2034, 6, 3),
        dry_run=False,
        run_id="later",
        db_url=owner_url(db_url),
        certificate_dir=feed_root / "d",
    )
    assert rows(db_url, "SELECT DISTINCT integrated_no FROM provision_sent") == [(number(STAYS),)]
