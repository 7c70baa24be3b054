"""Retention of the form and reminder ledgers (privacy.md P6): rows older than 5 years go, newer
stay; a removed person's due doses and ledger rows go with them; on both databases."""

from __future__ import annotations

import datetime as dt

from vaxreg.registry import db
from vaxreg.retention import purge as retention

from helpers.db import owner_url, rows
from helpers.due import Person, seed_persons

OLD, NEW, GONE = "6000000001", "6000000002", "6000000003"


def ledger_row(atena: str, n: int, at: str) -> tuple:
    return (f"2019010{n:05d}", atena, "09", "00", 1, 0, "YOSHIN_201901.csv", "2019-01-01", "r", at)


def test_ledgers_purged_by_policy_and_with_the_person(db_url: str) -> None:
    seed_persons(
        db_url,
        [
            Person(OLD, "2019-01-01"),
            Person(NEW, "2025-01-01"),
            Person(GONE, "1990-01-01", status="moved_out", valid_from="2000-01-01", event_code="20"),
        ],
    )
    old, new = "2020-01-01 00:00:00.000000+00:00", "2026-01-01 00:00:00.000000+00:00"
    with db.transaction(db_url) as conn:
        m = db.mark(conn)
        conn.exec_driver_sql(
            "INSERT INTO forms_issued (form_no, atena_no, vaccine_code, phase, dose_no, cycle, file_name, "
            f"issued_on, run_id, recorded_at) VALUES ({', '.join([m] * 10)})",
            [ledger_row(OLD, 1, old), ledger_row(NEW, 2, new), ledger_row(GONE, 3, new)],
        )
        conn.exec_driver_sql(
            "INSERT INTO reminders_sent (reminder_no, atena_no, vaccine_code, phase, dose_no, cycle, "
            f"file_name, sent_on, reason, run_id, recorded_at) VALUES ({', '.join([m] * 11)})",
            [
                (r[0], *r[1:7], r[7], "OVERDUE", r[8], r[9])
                for r in (ledger_row(OLD, 1, old), ledger_row(NEW, 2, new))
            ],
        )
        conn.exec_driver_sql(
            "INSERT INTO due_doses (atena_no, vaccine_code, phase, dose_no, cycle, state) "
            f"VALUES ({m}, '09', '00', 1, 0, 'closed')",
            [(GONE,), (NEW,)],
        )
    result = retention.purge(
        dt.date(2026, 5, 1), dry_run=False, run_id="t", db_url=owner_url(db_url), certificate=False
    )
    by = {p.policy: p for p in result.policies}
    assert by["forms_issued"].counts == {"forms_issued": 1} and by["reminders_sent"].counts == {
        "reminders_sent": 1
    }
    assert rows(db_url, "SELECT atena_no FROM forms_issued") == [(NEW,)]  # GONE's went with the person
    assert rows(db_url, "SELECT atena_no FROM reminders_sent") == [(NEW,)]
    assert rows(db_url, "SELECT atena_no FROM due_doses") == [(NEW,)]
    assert (
        by["removed_persons"].counts["forms_issued"] == 1 and by["removed_persons"].counts["due_doses"] == 1
    )
