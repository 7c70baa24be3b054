"""Real review items for page tests: four residents, then a clinic file whose first three rows
go to review (the feeds run as ``vaxreg run`` does; generated people only)."""

from __future__ import annotations

from pathlib import Path

from helpers.clinic import clinic_csv, rec
from helpers.db import rows, run
from helpers.resident import deliver, person, resident_csv

P1, P2, P3, P4 = "0000000001", "0000000002", "0000000003", "0000000004"


def seed_review(feed_root: Path, db_url: str) -> dict[int, int]:
    """Three open clinic review items; returns row_no -> item id."""
    residents = [
        person(P1, name_kana="タカハシ　レン", birth_date="2026-01-05", sex="1"),
        person(P2, name_kana="サイトウ　ヨウコ", birth_date="2025-07-26", sex="2"),
        person(P3, name_kana="ハヤシ　レン", birth_date="1957-01-31", sex="1"),
        person(P4, name_kana="イトウ　サクラ", birth_date="2024-02-02", sex="2"),
    ]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(residents))
    source = f"file://{feed_root}"
    run("resident", source, db_url)
    data = clinic_csv(
        [
            rec(P2, "ﾔﾏﾀﾞ ﾊﾅｺ", "R080105", "2", "06", "11", "1", "R080313"),  # someone else's number
            rec("", "ﾀｶﾊｼ ﾚﾝ", "H200105", "1", "04", "00", "1", "R080301"),  # no number, birth far off
            rec("", "ｽｽﾞｷ ｲﾁﾛｳ", "S450101", "1", "21", "00", "1", "R080318"),  # no one like this
            rec(P3, "ﾊﾔｼ ﾚﾝ", "S320131", "1", "21", "00", "1", "R080318"),  # attached at once
        ]
    )
    deliver(feed_root, "ISHIKAI_202603.csv", data, feed="clinic")
    run("clinic", source, db_url)
    return dict(rows(db_url, "SELECT row_no, id FROM review_items WHERE feed = 'clinic' ORDER BY id"))
