"""The prefecture_stats DAG: schedule, params, and one full run with ``dag.test()`` per database."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import municipality as town

pytestmark = pytest.mark.airflow


def test_schedule_task_and_outlet(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.get_dag("prefecture_stats")
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 6 10 4 *", "Asia/Tokyo")
    assert [t.task_id for t in dag.topological_sort()] == ["publish"]
    assert [a.uri for a in dag.get_task("publish").outlets] == ["vaxreg://outbound/stats"]
    assert set(dag.params) == {"fiscal_year", "reissue_reason"}


def test_stats_run(dagbag, monkeypatch, tmp_path: Path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    import pendulum

    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", root.as_uri())
    persons, doses = town.generate(seed=3, n=40)
    town.seed(db_url, persons, doses)
    day = pendulum.parse("2026-04-10T06:00", tz="Asia/Tokyo")
    assert dagbag.get_dag("prefecture_stats").test(logical_date=day).state == "success"
    out = root / "inbox" / "stats"
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".done")) == [
        "STATS_2025.csv",
        "STATS_2025.html",
    ]
    assert (out / "STATS_2025.csv").read_text(encoding="utf-8").startswith("fiscal_year,vaccine_code,")
