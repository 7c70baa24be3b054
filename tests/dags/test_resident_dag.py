"""The real DAGs: integrity of every DAG file, and full runs with ``dag.test()``
over the real SFTP server on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from helpers.db import snapshot
from helpers.resident import deliver, person, resident_csv

pytestmark = pytest.mark.airflow


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert dagbag.dag_ids, "no DAG found"


NO_RETRY = {("feed_deadlines", "check_arrivals")}


def test_every_dag_is_operable(dagbag) -> None:  # type: ignore[no-untyped-def]
    def mails(callbacks) -> bool:  # type: ignore[no-untyped-def]  # dagtasks.notify.failure_notifier
        return any(type(cb).__name__ == "FailureMailNotifier" for cb in callbacks or [])

    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).stem == dag_id, "DAG file named after its DAG"
        assert dag.tags and "vaxreg" in dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert str(dag.timezone) == "Asia/Tokyo", dag_id
        assert mails(dag.on_failure_callback), dag_id
        for t in dag.tasks:
            assert t.owner == "vaxreg", (dag_id, t.task_id)
            # a late-file check fails at once, one line per late file (dags/feed_deadlines.py)
            assert t.retries >= 2 or (dag_id, t.task_id) in NO_RETRY, (dag_id, t.task_id)
            assert mails(t.on_failure_callback), (dag_id, t.task_id)


def test_resident_diff_schedule_and_outlet(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.get_dag("resident_diff")
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 2 * * *", "Asia/Tokyo")
    assert [t.task_id for t in dag.topological_sort()] == ["fetch", "parse", "validate", "apply", "report"]
    assert [a.uri for a in dag.get_task("report").outlets] == ["vaxreg://registry/persons"]


def _dag_test(dagbag, monkeypatch, db_url: str, source: str, day: str):  # type: ignore[no-untyped-def]
    import pendulum

    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", source)
    dag = dagbag.get_dag("resident_diff")
    return dag.test(logical_date=pendulum.parse(day, tz="Asia/Tokyo"))


def test_resident_diff_end_to_end(dagbag, monkeypatch, feed_root: Path, sftp_server, db_url: str) -> None:  # type: ignore[no-untyped-def]
    source = sftp_server.url(feed_root)
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv([person("0000000001"), person("0000000002", sex="x")]),
    )
    deliver(
        feed_root,
        "JUKI_DIFF_20260402.csv",
        resident_csv(
            [person("0000000001", event_code="20", event_date="2026-04-02", removed_date="2026-04-02")]
        ),
    )
    run = _dag_test(dagbag, monkeypatch, db_url, source, "2026-04-02")
    assert run.state == "success"
    snap = snapshot(db_url)
    assert snap["applied"] == [
        ("JUKI_DIFF_20260401.csv", "applied", 2, 1, 1, 0),
        ("JUKI_DIFF_20260402.csv", "applied", 1, 1, 0, 0),
    ]
    assert [(p[0], p[1]) for p in snap["persons"]] == [("0000000001", "moved_out")]

    # The same run again: the registry does not change.
    run = _dag_test(dagbag, monkeypatch, db_url, source, "2026-04-02")
    assert run.state == "success"
    assert snapshot(db_url) == snap

    # A corrupt transfer fails the run at `report`, without touching the registry.
    deliver(
        feed_root,
        "JUKI_DIFF_20260403.csv",
        resident_csv([person("0000000003")]),
        marker=hashlib.sha256(b"x").hexdigest(),
    )
    run = _dag_test(dagbag, monkeypatch, db_url, source, "2026-04-03")
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {
        "fetch": "success",
        "parse": "success",
        "validate": "success",
        "apply": "success",
        "report": "failed",
    }
    assert snapshot(db_url)["persons"] == snap["persons"]
