"""The vrs_import and welfare_lists DAGs: schedule, tasks, outlets, and full runs with ``dag.test()``
over the real SFTP server on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.db import rows
from helpers.resident import deliver, person, resident_csv
from helpers.vrs import dose, records_csv, seiho_csv, subjects_csv, techo_csv

pytestmark = pytest.mark.airflow


def test_schedules_tasks_and_outlets(dagbag) -> None:  # type: ignore[no-untyped-def]
    vrs = dagbag.get_dag("vrs_import")
    # Daily at 04:30 for the files VRS drops, and after every resident diff that changed persons.
    cron = vrs.timetable.timetable
    assert (cron.expression, str(cron.timezone)) == ("30 4 * * *", "Asia/Tokyo")
    assert [a.uri for a in vrs.timetable.asset_condition.objects] == ["vaxreg://registry/persons"]
    assert [t.task_id for t in vrs.topological_sort()] == [
        "fetch",
        "parse",
        "validate",
        "load",
        "flags",
        "report",
    ]
    assert [a.uri for a in vrs.get_task("flags").outlets] == ["vaxreg://outbound/vrs_flags"]
    welfare = dagbag.get_dag("welfare_lists")
    assert (welfare.timetable.expression, str(welfare.timetable.timezone)) == ("0 3 2 * *", "Asia/Tokyo")
    assert [t.task_id for t in welfare.topological_sort()] == ["fetch", "parse", "validate", "load", "report"]
    assert [a.uri for a in welfare.get_task("report").outlets] == ["vaxreg://registry/welfare"]


def test_vrs_and_welfare_end_to_end(dagbag, monkeypatch, feed_root: Path, sftp_server, db_url: str) -> None:  # type: ignore[no-untyped-def]
    import pendulum

    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", sftp_server.url(feed_root))
    people = [person(f"300000000{i}", birth_date="1963-06-01") for i in range(1, 7)]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(people))
    day = pendulum.parse("2026-05-02T03:00", tz="Asia/Tokyo")
    assert dagbag.get_dag("resident_diff").test(logical_date=day).state == "success"

    big = [(f"300000000{i}", f"C{i}", "R050101", "") for i in range(1, 7)]
    deliver(feed_root, "SEIHO_202604.csv", seiho_csv(big), feed="welfare")
    deliver(
        feed_root,
        "TECHO_202604.csv",
        techo_csv([("3000000001", "1", "1", "I", "R050101", "")]),
        feed="welfare",
    )
    assert dagbag.get_dag("welfare_lists").test(logical_date=day).state == "success"
    deliver(
        feed_root,
        "VRS_SUBJECTS_20260401.csv",
        subjects_csv([("5000000001", "3000000001", "19630601")]),
        feed="vrs",
    )
    deliver(
        feed_root,
        "VRS_RECORDS_20260401.csv",
        records_csv([("", [dose("20210611", "5000000001")])]),
        feed="vrs",
    )
    gone = person(
        "3000000001",
        event_code="21",
        event_date="2026-05-01",
        removed_date="2026-05-01",
        birth_date="1963-06-01",
    )
    deliver(feed_root, "JUKI_DIFF_20260501.csv", resident_csv([gone]))
    assert dagbag.get_dag("resident_diff").test(logical_date=day).state == "success"
    assert dagbag.get_dag("vrs_import").test(logical_date=day).state == "success"
    manifest = (
        "SELECT file_name, status, rows_read, accepted, quarantined, review, duplicates FROM ingest_manifest "
    )
    got = rows(db_url, manifest + "WHERE feed IN ('vrs', 'welfare') ORDER BY file_name")
    assert got == [
        ("SEIHO_202604.csv", "applied", 6, 6, 0, 0, 0),
        ("TECHO_202604.csv", "applied", 1, 1, 0, 0, 0),
        ("VRS_RECORDS_20260401.csv", "applied", 1, 1, 0, 0, 0),
        ("VRS_SUBJECTS_20260401.csv", "applied", 1, 1, 0, 0, 0),
    ]
    flags = feed_root / "inbox" / "vrs" / "VRS_FLAGS_20260502.csv"
    assert flags.read_text().splitlines() == [
        "voucher_no,municipality_code,flag,date",
        "5000000001,131032,DECEASED,2026-05-01",
    ]
    assert (feed_root / "inbox" / "vrs" / "VRS_FLAGS_20260502.csv.done").exists()

    # Again: nothing changes, no second flags file.
    assert dagbag.get_dag("vrs_import").test(logical_date=day.add(days=1)).state == "success"
    assert rows(db_url, manifest + "WHERE feed IN ('vrs', 'welfare') ORDER BY file_name") == got
    assert sorted(p.name for p in flags.parent.iterdir()) == [
        "VRS_FLAGS_20260502.csv",
        "VRS_FLAGS_20260502.csv.done",
    ]

    # A shrunken snapshot fails the run at report and changes nothing.
    deliver(feed_root, "SEIHO_202605.csv", seiho_csv(big[:2]), feed="welfare")
    run = dagbag.get_dag("welfare_lists").test(logical_date=day)
    assert run.state == "failed"
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["report"] == "failed"
    assert rows(db_url, "SELECT COUNT(*) FROM welfare_seiho_periods WHERE closed_month IS NOT NULL") == [(0,)]
