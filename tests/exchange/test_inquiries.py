"""History inquiries for move-ins and their replies (outputs.md §5.3), on both databases: a
move-in under 13 produces one inquiry once; a reply closes it and its doses pass the schedule
check; the same reply twice, an unknown inquiry and a reply for a released number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vaxreg.outputs import inquiries
from vaxreg.registry import db

from helpers.db import rows
from helpers.exchange import DAY1, DAY2, kaito_csv, number, publish, read_out, run, togo_csv
from helpers.resident import person, resident_csv

KID, ADULT, LATE = "3000000001", "3000000002", "3000000003"
PREV = "011002"  # Sapporo (check digit valid)


def _move_ins(db_url: str, root: Path) -> None:
    rows_ = [
        person(KID, birth_date="2025-01-10", event_date="2026-05-20", prev_municipality_code=PREV),
        person(ADULT, birth_date="1990-01-10", event_date="2026-05-20", prev_municipality_code=PREV),
        person(LATE, birth_date="2024-02-10", event_date="2026-05-21", prev_municipality_code=PREV),
        person(
            "3000000004", birth_date="2024-02-10", event_date="2026-05-21", prev_municipality_code="011001"
        ),
    ]
    [s] = run("resident", root, db_url, "JUKI_DIFF_20260522.csv", resident_csv(rows_))
    assert (s["accepted"], s["quarantined"]) == (3, 1)  # a wrong check digit
    run(
        "atena",
        root,
        db_url,
        "TOGO_20260522.csv",
        togo_csv([(p, number(p), "A", "2026-05-22") for p in (KID, ADULT)]),
    )


def test_move_in_inquiry_once_and_reply(db_url: str, feed_root: Path) -> None:
    _move_ins(db_url, feed_root)
    assert publish("shokai", feed_root, db_url, DAY1) == ["SHOKAI_20260601.csv"]
    sent = read_out(feed_root, "shokai", "SHOKAI_20260601.csv")
    assert [tuple(r.values()) for r in sent] == [("20260601000001", number(KID), PREV, "2025-01-10")]
    assert publish("shokai", feed_root, db_url, DAY2) == []  # once: LATE still waits for its number
    with db.transaction(db_url) as conn:
        assert inquiries.state(conn, dt.date(2026, 6, 2))["waiting"] == 1
        assert inquiries.unanswered_move_ins(conn, dt.date(2026, 6, 2)) == {KID, ADULT, LATE}
        assert inquiries.unanswered(conn, dt.date(2026, 8, 1)) == ["20260601000001"]
    base = dict(
        inquiry_no="20260601000001", integrated_no=number(KID), municipality_code=PREV, vaccine_code="01"
    )
    reply = [
        {**base, "phase": "11", "dose_no": "1", "dose_date": "2025-03-12", "product_name": "製品"},
        {**base, "phase": "11", "dose_no": "2", "dose_date": "2025-03-20", "product_name": "製品"},  # 8 days
        {
            **base,
            "phase": "20",
            "dose_no": "1",
            "dose_date": "2025-04-20",
            "product_name": "製品",
        },  # no phase 2
        {**base, "phase": "11", "dose_no": "3", "dose_date": "2025-05-20", "inquiry_no": "20260601999999"},
        {**base, "phase": "11", "dose_no": "1", "dose_date": "2025-03-12", "integrated_no": number(ADULT)},
    ]
    [s] = run("prior", feed_root, db_url, "KAITO_20260605.csv", kaito_csv(reply))
    assert (s["rows"], s["accepted"], s["quarantined"], s["duplicates"]) == (5, 2, 3, 0)
    reasons = sorted(r[0] for r in rows(db_url, "SELECT reasons FROM quarantine WHERE feed = 'prior'"))
    assert reasons == ["inquiry_unknown", "integrated_no_mismatch", "phase_not_for_vaccine"]
    stored = rows(
        db_url, "SELECT atena_no, vaccine_code, dose_no, source, off_schedule FROM doses ORDER BY dose_no"
    )
    assert [r[:4] for r in stored] == [(KID, "01", 1, "prior"), (KID, "01", 2, "prior")]
    assert stored[0][4] is None and stored[1][4]  # checked against the whole history: off-schedule
    assert rows(db_url, "SELECT COUNT(*) FROM fee_details") == [(0,)]
    with db.transaction(db_url) as conn:
        assert inquiries.unanswered(conn, dt.date(2026, 8, 1)) == []
        assert inquiries.unanswered_move_ins(conn, dt.date(2026, 6, 2)) == {ADULT, LATE}
    # the same reply again under another name: nothing new
    [again] = run("prior", feed_root, db_url, "KAITO_20260606.csv", kaito_csv(reply[:1]))
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    # a reply for a released number
    run("atena", feed_root, db_url, "TOGO_20260606.csv", togo_csv([(KID, number(KID), "D", "2026-06-06")]))
    [late] = run(
        "prior",
        feed_root,
        db_url,
        "KAITO_20260607.csv",
        kaito_csv([{**reply[0], "dose_no": "2", "dose_date": "2025-05-20"}]),
    )
    assert (late["accepted"], late["quarantined"]) == (0, 1)
    assert rows(db_url, "SELECT reasons FROM quarantine WHERE file_name = 'KAITO_20260607.csv'") == [
        ("integrated_no_released",)
    ]
