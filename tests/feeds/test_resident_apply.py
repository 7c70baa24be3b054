"""Resident events applied to a real registry, on SQLite and PostgreSQL (feeds.md §2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxreg import pipeline
from vaxreg.identity.validators import my_number_check_digit
from vaxreg.registry import db, vault

from helpers.db import vault_url
from helpers.resident import deliver, person, resident_csv

ACTOR = pipeline.make_actor("resident", run_id="test-run", task_id="test")


def run(root: Path, db_url: str) -> list[dict]:
    works = pipeline.run_feed("resident", ACTOR, source_url=f"file://{root}", db_url=db_url)
    return pipeline.report(works)


def q(db_url: str, sql: str) -> list[tuple]:
    with db.transaction(db_url) as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


def valid_my_number(body: str) -> str:
    return body + str(my_number_check_digit(body))


def test_events_in_seq_order_build_history(feed_root: Path, db_url: str) -> None:
    rows = [
        person("0000000001"),
        person(
            "0000000001",
            event_code="30",
            event_date="2026-04-01",
            address="東京都港区芝浦2丁目2番2号",
            address_date="2026-04-01",
        ),
        person("0000000002", event_code="11", birth_date="2026-03-30", name_kana="ｼｹﾝ ﾊﾅｺ", sex="2"),
    ]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(rows, bom=True, crlf=True))
    [s] = run(feed_root, db_url)
    assert (s["rows"], s["accepted"], s["quarantined"], s["duplicates"]) == (3, 3, 0, 0)

    assert q(db_url, "SELECT atena_no, status, address, version, event_code FROM persons ORDER BY 1") == [
        ("0000000001", "resident", "東京都港区芝浦2丁目2番2号", 2, "30"),
        ("0000000002", "resident", "東京都港区芝1丁目1番1号", 1, "11"),
    ]
    # The superseded version is history; the current one lives in persons only.
    hist = q(
        db_url,
        "SELECT version, event_code, address, CAST(valid_from AS TEXT), CAST(valid_to AS TEXT) "
        "FROM person_history WHERE atena_no = '0000000001' ORDER BY version",
    )
    assert hist == [(1, "10", "東京都港区芝1丁目1番1号", "2026-04-01", "2026-04-01")]
    # Received form is stored as received (half-width kana stays half-width).
    assert q(db_url, "SELECT name_kana FROM persons WHERE atena_no = '0000000002'") == [("ｼｹﾝ ﾊﾅｺ",)]
    audit = q(
        db_url, "SELECT atena_no, fields_changed FROM audit_log WHERE table_name = 'persons' ORDER BY id"
    )
    assert audit == [("0000000001", "*"), ("0000000001", "address,address_date"), ("0000000002", "*")]


def test_move_out_death_and_cancellation_across_files(feed_root: Path, db_url: str) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person("0000000001"), person("0000000002")]))
    deliver(
        feed_root,
        "JUKI_DIFF_20260402.csv",
        resident_csv(
            [
                person("0000000001", event_code="20", event_date="2026-04-02", removed_date="2026-04-02"),
                person("0000000002", event_code="21", event_date="2026-04-02", removed_date="2026-04-02"),
            ]
        ),
    )
    run(feed_root, db_url)
    assert q(db_url, "SELECT atena_no, status, CAST(removed_date AS TEXT) FROM persons ORDER BY 1") == [
        ("0000000001", "moved_out", "2026-04-02"),
        ("0000000002", "deceased", "2026-04-02"),
    ]
    deliver(
        feed_root,
        "JUKI_DIFF_20260403.csv",
        resident_csv(
            [
                person("0000000001", event_code="40", event_date="2026-04-03"),
                person("0000000002", event_code="30", event_date="2026-04-03"),  # deceased: refused
                person(
                    "0000000002", event_code="33", event_date="2026-04-03", name_kanji="試験　花子"
                ),  # correction ok
            ]
        ),
    )
    [s] = run(feed_root, db_url)
    assert (s["accepted"], s["quarantined"]) == (2, 1)
    assert q(
        db_url, "SELECT atena_no, status, CAST(removed_date AS TEXT), name_kanji FROM persons ORDER BY 1"
    ) == [
        ("0000000001", "resident", None, "試験　太郎"),
        (
            "0000000002",
            "deceased",
            "2026-04-02",
            "試験　花子",
        ),  # a blank 消除日 on 33 keeps the one on record
    ]
    assert q(db_url, "SELECT row_no, reasons FROM quarantine") == [(2, "person_deceased")]
    # Versions are contiguous and their validity periods chain: each ends where the next begins.
    versions = q(
        db_url,
        "SELECT version, event_code, status, CAST(valid_from AS TEXT), CAST(valid_to AS TEXT) "
        "FROM person_history WHERE atena_no = '0000000001' UNION ALL "
        "SELECT version, event_code, status, CAST(valid_from AS TEXT), NULL FROM persons "
        "WHERE atena_no = '0000000001' ORDER BY 1",
    )
    assert versions == [
        (1, "10", "resident", "2026-04-01", "2026-04-02"),
        (2, "20", "moved_out", "2026-04-02", "2026-04-03"),
        (3, "40", "resident", "2026-04-03", None),
    ]


@pytest.mark.parametrize(
    ("prior_events", "event", "reason"),
    [
        ([], {"event_code": "30"}, "unknown_person"),
        ([], {"event_code": "20", "removed_date": "2026-04-02"}, "unknown_person"),
        ([{}], {"event_code": "40"}, "not_moved_out"),
        (
            [{}, {"event_code": "20", "removed_date": "2026-04-02"}],
            {"event_code": "30"},
            "person_not_resident",
        ),
        ([{}, {"event_code": "21", "removed_date": "2026-04-02"}], {"event_code": "10"}, "person_deceased"),
    ],
)
def test_state_rules_quarantine(
    feed_root: Path, db_url: str, prior_events: list, event: dict, reason: str
) -> None:
    rows = [person("0000000009", event_date="2026-04-02", **e) for e in prior_events]
    rows.append(person("0000000009", event_date="2026-04-02", notified_date="2026-04-02", **event))
    deliver(feed_root, "JUKI_DIFF_20260402.csv", resident_csv(rows))
    [s] = run(feed_root, db_url)
    assert s["quarantined"] == 1 and s["accepted"] == len(prior_events)
    assert q(db_url, "SELECT row_no, reasons FROM quarantine") == [(len(rows), reason)]


def test_unknown_person_may_enter_by_nationality_event(feed_root: Path, db_url: str) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person("0000000003", event_code="13")]))
    [s] = run(feed_root, db_url)
    assert s["accepted"] == 1


def test_duplicates_within_and_across_files_count_once(feed_root: Path, db_url: str) -> None:
    p = person("0000000001")
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv([p, p]))
    [s] = run(feed_root, db_url)
    assert (s["rows"], s["accepted"], s["duplicates"]) == (2, 1, 1)
    # The registry re-sends yesterday's event: nothing changes, it counts as a duplicate.
    deliver(feed_root, "JUKI_DIFF_20260402.csv", resident_csv([p]))
    [s] = run(feed_root, db_url)
    assert (s["accepted"], s["duplicates"]) == (0, 1)
    assert q(db_url, "SELECT COUNT(*), MAX(version) FROM persons") == [(1, 1)]
    assert q(db_url, "SELECT COUNT(*) FROM person_history") == [(0,)]


def test_my_number_only_in_its_own_table(feed_root: Path, db_url: str) -> None:
    good = valid_my_number("12345678901")
    bad = good[:11] + str((int(good[11]) + 1) % 10)
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv(
            [
                person("0000000001", kojin_no=good),
                person("0000000002", kojin_no=bad),
                person("0000000003", kojin_no="12345"),
            ]
        ),
    )
    [s] = run(feed_root, db_url)
    assert (s["accepted"], s["quarantined"]) == (1, 2)
    with db.transaction(vault_url(db_url)) as conn:  # the vault login reads it, the pipeline's cannot
        assert vault.read_all(conn) == {"0000000001": good}  # encrypted in the vault (privacy.md P1)
    assert q(db_url, "SELECT row_no, reasons FROM quarantine ORDER BY 1") == [
        (2, "kojin_no_check_digit"),
        (3, "kojin_no_format"),
    ]
    # Neither number is anywhere else in the registry.
    for table in ("persons", "person_history", "quarantine", "audit_log", "ingest_manifest"):
        dump = repr(q(db_url, f"SELECT * FROM {table}"))
        assert good not in dump and bad not in dump, table


def test_row_level_reasons(feed_root: Path, db_url: str) -> None:
    rows = [
        person("00000001"),
        person("0000000002", event_date="2026-02-30"),
        person("0000000003", event_date="2026-03-31", birth_date="2026-04-01"),
        person("0000000004", sex="9"),
        person("0000000005", event_code="99"),
        person("0000000006", name_kana="試験"),
        person("0000000007", address=""),
        person("0000000008", event_date="2026-04-09"),
        person("0000000009", address_date="2037-08-06"),
        person("0000000010", event_code="20", removed_date=""),
        person("0000000011", name_alpha="SMITH JOHN"),
    ]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(rows))
    [s] = run(feed_root, db_url)
    assert (s["accepted"], s["quarantined"]) == (0, 11)
    got = dict(q(db_url, "SELECT row_no, reasons FROM quarantine"))
    assert got == {
        1: "atena_no_format",
        2: "event_date_invalid",
        3: "birth_date_after_event",
        4: "sex_invalid",
        5: "event_code_unknown",
        6: "name_kana_not_katakana",
        7: "address_missing",
        8: "event_date_after_file_date",
        9: "address_date_after_file_date",
        10: "removed_date_missing",
        11: "name_alpha_not_foreign",
    }
