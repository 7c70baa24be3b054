"""The integrated numbers (TOGO) and the provision copy (FUKUHON), on both databases: the first
file holds every valid routine dose of a person with a number as A; a correction, a move to
another person, a deletion and a purge each produce exactly their U/D/A rows in the next file."""

from __future__ import annotations

from pathlib import Path

from vaxreg.registry import db

from helpers.db import rows
from helpers.exchange import (
    DAY1,
    DAY2,
    DAY3,
    number,
    publish,
    read_out,
    run,
    seed_doses,
    seed_persons,
    togo_csv,
)

A, B, C, D = "2000000001", "2000000002", "2000000003", "2000000004"


def test_togo_assigns_releases_and_quarantines(db_url: str, feed_root: Path) -> None:
    seed_persons(db_url, {A: ("2025-05-01", "1"), B: ("2025-05-02", "2"), C: ("2025-05-03", "1")})
    [s] = run(
        "atena",
        feed_root,
        db_url,
        "TOGO_20260601.csv",
        togo_csv(
            [
                (A, number(A), "A", "2026-05-30"),
                (B, number(B), "A", "2026-05-30"),
                (C, number(A), "A", "2026-05-30"),  # A's number: in use
                ("2999999999", number(C), "A", "2026-05-30"),  # unknown person
                (B, number(C), "D", "2026-05-31"),  # not B's number
                (B, number(B), "D", "2026-05-31"),  # released
                (A, number(A), "A", "2026-05-31"),  # restated
            ]
        ),
    )
    assert (s["rows"], s["accepted"], s["quarantined"], s["duplicates"]) == (7, 3, 3, 1)
    assert sorted(r[0] for r in rows(db_url, "SELECT reasons FROM quarantine WHERE feed = 'atena'")) == [
        "atena_no_unknown",
        "integrated_no_in_use",
        "integrated_no_not_assigned",
    ]
    held = rows(
        db_url,
        "SELECT atena_no, integrated_no, CAST(released_date AS TEXT) FROM integrated_numbers "
        "ORDER BY atena_no",
    )
    assert held == [(A, number(A), None), (B, number(B), "2026-05-31")]


def test_provision_copy_truth(db_url: str, feed_root: Path) -> None:
    seed_persons(db_url, {p: ("2025-01-15", "1") for p in (A, B, C, D)})
    seed_doses(
        db_url,
        [
            (A, "01", "11", 1, "2025-03-20", None),
            (A, "04", "00", 1, "2025-03-20", None),  # product name sent for rota
            (A, "02", "11", 1, "2025-03-01", "too_early"),  # off-schedule: never sent
            (A, "31", "00", 1, "2025-03-20", None),  # VRS special campaign: never sent
            (B, "01", "11", 1, "2025-03-20", None),
            (C, "01", "11", 1, "2025-03-20", None),  # C has no number: waits
        ],
    )
    run(
        "atena",
        feed_root,
        db_url,
        "TOGO_20260601.csv",
        togo_csv([(p, number(p), "A", "2026-06-01") for p in (A, B, D)]),
    )
    assert publish("fukuhon", feed_root, db_url, DAY1) == ["FUKUHON_20260601.csv"]
    first = read_out(feed_root, "fukuhon", "FUKUHON_20260601.csv")
    assert sorted(tuple(r.values()) for r in first) == [
        ("A", number(A), "01", "2025-03-20", ""),
        ("A", number(A), "04", "2025-03-20", "製品"),
        ("A", number(B), "01", "2025-03-20", ""),
    ]
    assert list(first[0]) == ["op", "integrated_no", "vaccine_code", "dose_date", "product_name"]
    from vaxreg import outputs

    assert outputs.summary("fukuhon", db_url=db_url) == {"waiting": 1, "held": 3}
    assert publish("fukuhon", feed_root, db_url, DAY1) == []  # the day's file exists: nothing new
    assert publish("fukuhon", feed_root, db_url, DAY2) == []  # nothing changed: no file

    dose = {r[0]: int(r[1]) for r in rows(db_url, "SELECT vaccine_code || atena_no, id FROM doses")}
    with db.transaction(db_url) as conn:  # a correction (new version), a move to D, a deletion
        conn.exec_driver_sql(f"UPDATE doses SET lot_no = 'L2', version = 2 WHERE id = {dose['04' + A]}")
        conn.exec_driver_sql(f"UPDATE doses SET atena_no = '{D}' WHERE id = {dose['01' + B]}")
        conn.exec_driver_sql(f"DELETE FROM doses WHERE id = {dose['01' + A]}")
    publish("fukuhon", feed_root, db_url, DAY2)
    second = read_out(feed_root, "fukuhon", "FUKUHON_20260602.csv")
    assert sorted(tuple(r.values()) for r in second) == [
        ("A", number(D), "01", "2025-03-20", ""),
        ("D", number(A), "01", "2025-03-20", ""),
        ("D", number(B), "01", "2025-03-20", ""),
        ("U", number(A), "04", "2025-03-20", "製品"),
    ]
    assert [r["op"] for r in second] == ["D", "D", "U", "A"]  # deletions first
    # C's number arrives: its waiting dose goes as A; D's person is purged: D
    run("atena", feed_root, db_url, "TOGO_20260602.csv", togo_csv([(C, number(C), "A", "2026-06-02")]))
    with db.transaction(db_url) as conn:
        conn.exec_driver_sql(f"DELETE FROM doses WHERE atena_no = '{D}'")
    publish("fukuhon", feed_root, db_url, DAY3)
    third = read_out(feed_root, "fukuhon", "FUKUHON_20260603.csv")
    assert sorted(tuple(r.values()) for r in third) == [
        ("A", number(C), "01", "2025-03-20", ""),
        ("D", number(D), "01", "2025-03-20", ""),
    ]
    audit = rows(
        db_url, "SELECT COUNT(*) FROM audit_log WHERE table_name = 'provision_sent' AND action = 'export'"
    )
    assert audit == [(3 + 4 + 2,)]
