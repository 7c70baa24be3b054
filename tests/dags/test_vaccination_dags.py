"""The clinic and other-ward DAGs: schedule, tasks, outlets, and full runs with ``dag.test()``
over the real SFTP server on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.clinic import A, clinic_csv, rec, registry
from helpers.resident import deliver, person, resident_csv

pytestmark = pytest.mark.airflow


@pytest.mark.parametrize(
    ("dag_id", "cron"), [("clinic_records", "0 3 5 * *"), ("otherward_records", "0 3 10 4,10 *")]
)
def test_schedule_tasks_and_outlets(dagbag, dag_id: str, cron: str) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.get_dag(dag_id)
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == (cron, "Asia/Tokyo")
    assert [t.task_id for t in dag.topological_sort()] == [
        "fetch",
        "parse",
        "validate",
        "load",
        "fees",
        "report",
    ]
    assert [a.uri for a in dag.get_task("report").outlets] == ["vaxreg://registry/doses"]
    assert [a.uri for a in dag.get_task("fees").outlets] == ["vaxreg://outbound/fees"]


def test_clinic_and_otherward_end_to_end(
    dagbag, monkeypatch, feed_root: Path, sftp_server, db_url: str
) -> None:  # type: ignore[no-untyped-def]
    import pendulum

    source = sftp_server.url(feed_root)
    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", source)
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv([person("0000000001", name_kana="タカハシ　レン", birth_date="2026-01-05", sex="1")]),
    )
    day = pendulum.parse("2026-04-05T03:00", tz="Asia/Tokyo")
    assert dagbag.get_dag("resident_diff").test(logical_date=day).state == "success"
    deliver(
        feed_root,
        "ISHIKAI_202603.csv",
        clinic_csv([rec(*A, "06", "11", "1", "R080313"), rec("", *A[1:], "02", "11", "1", "R080313")]),
        feed="clinic",
    )
    deliver(
        feed_root,
        "TAKU_202603_131075.csv",
        # No 宛名番号 and a birth date years off: no one to attach it to without a human.
        clinic_csv([rec("", A[1], "H200105", A[3], "04", "00", "1", "R080310", 接種地コード="131075")]),
        feed="otherward",
    )
    assert dagbag.get_dag("clinic_records").test(logical_date=day).state == "success"
    assert dagbag.get_dag("otherward_records").test(logical_date=day).state == "success"
    reg = registry(db_url)
    assert [m[1:] for m in reg["manifest"]] == [
        ("ISHIKAI_202603.csv", "applied", 2, 2, 0, 0, 0),  # row 2 has no 宛名番号: the matcher finds him
        ("TAKU_202603_131075.csv", "applied", 1, 0, 0, 1, 0),
    ]
    assert (feed_root / "inbox" / "fees" / "FEES_202604.csv.done").exists()

    # Again: nothing changes.
    assert dagbag.get_dag("clinic_records").test(logical_date=day).state == "success"
    assert registry(db_url) == reg

    # A corrupt transfer fails the run at `report`, without touching the registry.
    deliver(
        feed_root,
        "ISHIKAI_202604.csv",
        clinic_csv([rec(*A, "02", "11", "2", "R080420")]),
        marker="0" * 64,
        feed="clinic",
    )
    run = dagbag.get_dag("clinic_records").test(logical_date=day)
    assert run.state == "failed"
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["report"] == "failed"
    assert registry(db_url)["doses"] == reg["doses"]
