"""Delivery faults over a real SFTP server, on SQLite and PostgreSQL (feeds.md §1).

Every test checks the registry itself, not only what the pipeline says.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vaxreg import pipeline
from vaxreg.registry import db

from helpers.db import owner_url, snapshot
from helpers.resident import deliver, person, resident_csv

ACTOR = pipeline.make_actor("resident", run_id="fault-test", task_id="test")
from helpers.db import TABLES  # noqa: E402

FILE_1 = resident_csv([person("0000000001", kojin_no="123456789018"), person("0000000002", sex="7")])
FILE_2 = resident_csv(
    [person("0000000001", event_code="30", event_date="2026-04-02", address="東京都港区芝5丁目5番5号")]
)


def run(source: str, db_url: str) -> list[dict]:
    return pipeline.report(pipeline.run_feed("resident", ACTOR, source_url=source, db_url=db_url))


@pytest.fixture
def source(feed_root: Path, sftp_server) -> str:  # type: ignore[no-untyped-def]
    return sftp_server.url(feed_root)


def test_file_without_marker_is_ignored_until_complete(feed_root: Path, source: str, db_url: str) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1, marker=None)
    assert run(source, db_url) == []
    assert snapshot(db_url)["persons"] == []
    (feed_root / "outbox/resident/JUKI_DIFF_20260401.csv.done").write_text("")
    [s] = run(source, db_url)
    assert (s["accepted"], s["quarantined"]) == (1, 1)


def test_checksum_mismatch_is_refused_and_holds_later_files(
    feed_root: Path, source: str, db_url: str
) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1, marker=hashlib.sha256(b"other bytes").hexdigest())
    deliver(feed_root, "JUKI_DIFF_20260402.csv", FILE_2)
    with pytest.raises(
        pipeline.FeedRefused, match=r"JUKI_DIFF_20260401.csv refused: checksum mismatch.*1 later"
    ):
        run(source, db_url)
    assert snapshot(db_url) == {t: [] for t in (*TABLES, "applied")}
    with db.transaction(db_url) as conn:
        assert conn.exec_driver_sql("SELECT file_name, status FROM ingest_manifest").fetchall() == [
            ("JUKI_DIFF_20260401.csv", "refused")
        ]
    # The sender fixes the marker: both files apply, in order.
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1)
    assert [s["file"] for s in run(source, db_url)] == ["JUKI_DIFF_20260401.csv", "JUKI_DIFF_20260402.csv"]
    assert snapshot(db_url)["persons"][0][3] is not None


def test_same_content_twice_applies_once(feed_root: Path, source: str, db_url: str) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1)
    run(source, db_url)
    before = snapshot(db_url)
    # Delivered again under another name, and again under the same name with an empty marker.
    deliver(feed_root, "JUKI_DIFF_20260405.csv", FILE_1)
    [s] = run(source, db_url)
    assert (s["status"], s["rows"], s["accepted"], s["duplicates"]) == ("duplicate", 2, 0, 2)
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1, marker="empty")
    assert run(source, db_url) == []
    after = snapshot(db_url)
    assert {k: v for k, v in after.items() if k != "applied"} == {
        k: v for k, v in before.items() if k != "applied"
    }


def test_same_content_twice_in_one_run(feed_root: Path, source: str, db_url: str) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1)
    deliver(feed_root, "JUKI_DIFF_20260402.csv", FILE_1)
    a, b = run(source, db_url)
    assert (a["status"], b["status"], b["duplicates"]) == ("applied", "duplicate", 2)
    assert len(snapshot(db_url)["persons"]) == 1 and snapshot(db_url)["person_history"] == []


def test_same_name_different_bytes_is_refused(feed_root: Path, source: str, db_url: str) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1)
    run(source, db_url)
    before = snapshot(db_url)
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_2)
    with pytest.raises(pipeline.FeedRefused, match="conflict"):
        run(source, db_url)
    assert snapshot(db_url) == before


def test_rerun_changes_nothing(feed_root: Path, source: str, db_url: str) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1)
    deliver(feed_root, "JUKI_DIFF_20260402.csv", FILE_2)
    run(source, db_url)
    before = snapshot(db_url)
    assert run(source, db_url) == []
    assert snapshot(db_url) == before


def test_file_level_error_changes_nothing(feed_root: Path, source: str, db_url: str) -> None:
    data = FILE_1.replace(b"householder_name", b"householder")
    deliver(feed_root, "JUKI_DIFF_20260401.csv", data)
    with pytest.raises(pipeline.FeedRefused) as err:
        run(source, db_url)
    assert str(err.value) == (
        "JUKI_DIFF_20260401.csv refused: JUKI_DIFF_20260401.csv: missing column(s) householder_name; "
        "unknown column(s) householder"
    )
    assert snapshot(db_url) == {t: [] for t in (*TABLES, "applied")}


def test_duplicate_seq_refuses_the_file(feed_root: Path, source: str, db_url: str) -> None:
    rows = [person("0000000001", seq="1"), person("0000000002", seq="1")]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(rows))
    with pytest.raises(pipeline.FeedRefused, match="seq_not_unique"):
        run(source, db_url)
    assert snapshot(db_url)["persons"] == []


def _install_crash(db_url: str) -> None:
    """A database trigger that aborts the apply transaction after persons and history were written
    (created by the owner login: the pipeline's may not)."""
    with db.transaction(owner_url(db_url)) as conn:
        if db.is_postgres(conn):
            conn.exec_driver_sql(
                "CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected crash'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER crash BEFORE INSERT ON audit_log FOR EACH ROW "
                "WHEN (NEW.action = 'ingest') EXECUTE FUNCTION crash()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER crash BEFORE INSERT ON audit_log WHEN NEW.action = 'ingest' "
                "BEGIN SELECT RAISE(ABORT, 'injected crash'); END"
            )


def test_crash_during_apply_leaves_nothing_and_rerun_applies_once(
    feed_root: Path, source: str, db_url: str, tmp_path: Path
) -> None:
    deliver(feed_root, "JUKI_DIFF_20260401.csv", FILE_1)
    _install_crash(db_url)
    with pytest.raises(Exception, match="injected crash"):
        run(source, db_url)
    assert snapshot(db_url) == {t: [] for t in (*TABLES, "applied")}
    with db.transaction(owner_url(db_url)) as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM audit_log").scalar_one() == 0
        conn.exec_driver_sql("DROP TRIGGER crash" + (" ON audit_log" if db.is_postgres(conn) else ""))
    [s] = run(source, db_url)
    assert (s["accepted"], s["quarantined"]) == (1, 1)
    after = snapshot(db_url)
    assert len(after["persons"]) == 1 and len(after["quarantine"]) == 1 and after["person_history"] == []
    assert after["applied"] == [("JUKI_DIFF_20260401.csv", "applied", 2, 1, 1, 0)]
