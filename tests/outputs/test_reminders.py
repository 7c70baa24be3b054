"""Reminders (outputs.md §3) on both databases: the exact file, the ledger and the 180-day rule,
the open-review exclusion, and the history-inquiry exclusion consulted (a no-op until §5.3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaxreg.outputs import reminders
from vaxreg.registry import db, ledger

from helpers.db import rows
from helpers.due import Person, publish, seed_doses, seed_persons

LATE, REVIEWED, MOVED = "4000000001", "4000000002", "4000000003"
HEADER = (
    "reminder_no,atena_no,vaccine_code,phase,dose_no,reason,window_end,name_kanji,name_kana,"
    "birth_date,guardian_name,address"
)


def bcg(root: Path, name: str) -> list[list[str]]:
    """The file's rows for BCG (the test persons' other doses are ignored)."""
    data = (root / "inbox" / "reminders" / name).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.endswith(b"\r\n")
    text = data[3:].decode("utf-8").split("\r\n")[:-1]
    assert text[0] == HEADER
    return [r for r in (t.split(",") for t in text[1:]) if r[2] == "09"]


def seed(db_url: str) -> None:
    # Born 2025-08-01: BCG before 12 months closes 2026-07-31; on 2026-05-15 it is CLOSING.
    seed_persons(db_url, [Person(a, "2025-08-01", householder="試験　父") for a in (LATE, REVIEWED, MOVED)])
    # Every other infant series done or not yet, so that BCG is what the test looks at.
    seed_doses(db_url, [(a, "09", "00", 1, "2026-01-10", "outside_age_window") for a in (REVIEWED,)])
    with db.transaction(db_url) as conn:
        ledger.write_review(
            conn,
            feed="clinic",
            file_name="ISHIKAI_202604.csv",
            manifest_id=1,
            row_nos=[1],
            reasons=["ambiguous_person"],
            candidates=[f"{REVIEWED};9999999999"],
            raws=[json.dumps({"予防接種種別コード": "09", "接種期": "00"}, ensure_ascii=False)],
        )


def test_reminders_file_ledger_and_exclusions(
    root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"file://{root}"
    seed(db_url)
    with db.transaction(db_url) as conn:
        assert reminders.awaiting_history(conn, reminders.dt.date(2026, 5, 15), 60) == set()
    consulted: list[tuple[str, int]] = []

    def awaiting(conn, as_of, days):  # type: ignore[no-untyped-def]
        consulted.append((as_of.isoformat(), days))
        return {MOVED}  # what the inquiries of §5.3 will say: MOVED's history is not in yet

    monkeypatch.setattr(reminders, "awaiting_history", awaiting)
    assert publish("reminders", db_url, source, "2026-05-15") == ["REMINDERS_20260515.csv"]
    assert consulted == [("2026-05-15", 60)]
    got = bcg(root, "REMINDERS_20260515.csv")
    assert [r[1:] for r in got] == [
        [LATE, "09", "00", "1", "CLOSING", "2026-07-31", "試験　001", "シケン　001", "2025-08-01", "試験　父",
         "東京都港区芝1丁目1番1号"],
    ]  # fmt: skip
    assert got[0][0].startswith("20260515") and len(got[0][0]) == 14
    sent = (
        "SELECT atena_no, vaccine_code, reason, CAST(sent_on AS TEXT) FROM reminders_sent "
        "WHERE vaccine_code = '09'"
    )
    assert rows(db_url, sent) == [(LATE, "09", "CLOSING", "2026-05-15")]
    audit = "SELECT COUNT(*) FROM audit_log WHERE table_name = 'reminders_sent' AND atena_no = %s"
    assert rows(db_url, audit.replace("%s", f"'{LATE}'")) == [(1,)]
    # The same day again: nothing new. A month later: BCG was reminded within 180 days.
    assert publish("reminders", db_url, source, "2026-05-15") == []
    names = publish("reminders", db_url, source, "2026-06-15")
    assert not names or bcg(root, names[0]) == []
