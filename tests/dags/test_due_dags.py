"""registry_refresh, publish_forms and publish_reminders: schedules, tasks, outlets, and full
runs with ``dag.test()`` on SQLite and PostgreSQL (the Asset events carry the counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.db import rows
from helpers.due import Person, seed_persons

pytestmark = pytest.mark.airflow


def test_schedules_tasks_and_outlets(dagbag: Any) -> None:
    refresh = dagbag.get_dag("registry_refresh")
    inputs = {a.uri for a in refresh.timetable.asset_condition.objects}
    assert inputs == {"vaxreg://registry/persons", "vaxreg://registry/doses", "vaxreg://registry/welfare"}
    assert type(refresh.timetable.asset_condition).__name__ == "AssetAny"  # any one of them
    assert [a.uri for a in refresh.get_task("refresh").outlets] == ["vaxreg://registry/due_doses"]
    for dag_id, cron, target in (
        ("publish_forms", "0 6 1 * *", "forms"),
        ("publish_reminders", "0 6 15 * *", "reminders"),
    ):
        dag = dagbag.get_dag(dag_id)
        assert (dag.timetable.expression, str(dag.timetable.timezone)) == (cron, "Asia/Tokyo")
        assert [t.task_id for t in dag.topological_sort()] == ["refresh", "publish"]
        assert [a.uri for a in dag.get_task("publish").outlets] == [f"vaxreg://outbound/{target}"]
        assert dag.dagrun_timeout is not None


def test_refresh_and_publications_end_to_end(
    dagbag: Any, monkeypatch: Any, tmp_path: Path, db_url: str
) -> None:
    import pendulum

    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", f"file://{root}")
    seed_persons(db_url, [Person("5000000001", "2026-05-20"), Person("5000000002", "2025-08-01")])
    june = pendulum.parse("2026-06-01T06:00", tz="Asia/Tokyo")
    assert dagbag.get_dag("registry_refresh").test(logical_date=june).state == "success"
    assert rows(db_url, "SELECT CAST(as_of AS TEXT) FROM due_refreshes") == [("2026-06-01",)]
    assert dagbag.get_dag("publish_forms").test(logical_date=june).state == "success"
    assert (root / "inbox" / "forms" / "YOSHIN_202606.csv.done").is_file()
    mid = pendulum.parse("2026-06-15T06:00", tz="Asia/Tokyo")
    assert dagbag.get_dag("publish_reminders").test(logical_date=mid).state == "success"
    assert (root / "inbox" / "reminders" / "REMINDERS_20260615.csv.done").is_file()
    assert rows(db_url, "SELECT COUNT(DISTINCT atena_no) FROM reminders_sent") == [(1,)]  # BCG closing
