"""``make demo``'s runs in the UI (16.6): after ``dag.test()`` (what ``airflow dags test`` runs) the run
gets its real start, and Airflow's own log reader finds each task's log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from vaxreg_devtools.demo_runs import adopt_run, task_segments

pytestmark = pytest.mark.airflow


def test_task_segments_split_the_output_by_task() -> None:
    out = (
        "x [DAG TEST] starting task_id=a map_index=-1 y\none\ntwo\n"
        "x [DAG TEST] end task task_id=a map_index=-1\n"
        "between\nx [DAG TEST] starting task_id=b map_index=-1\nthree\n"
    )
    assert task_segments(out) == {("a", -1): ["one", "two"], ("b", -1): ["three"]}


def test_demo_run_shows_real_dates_and_its_logs(  # type: ignore[no-untyped-def]
    airflow_home: Path, feed_root: Path, db_url: str, monkeypatch, capfd
) -> None:
    import pendulum
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.log.log_reader import TaskLogReader
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from helpers.paths import REPO

    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    dag = DagBag(dag_folder=str(REPO / "dags" / "retention_purge.py")).get_dag("retention_purge")
    began = dt.datetime.now(dt.UTC)
    capfd.readouterr()
    logical = pendulum.datetime(2026, 4, 8, tz="Asia/Tokyo").add(seconds=int(began.timestamp()) % 86400)
    run = dag.test(logical_date=logical)
    assert run.state == "success"
    out = capfd.readouterr()
    written = adopt_run("retention_purge", began, dt.datetime.now(dt.UTC), out.out + out.err)
    assert len(written) == 2  # purge, certificate

    with create_session() as session:
        dr = session.scalars(select(DagRun).where(DagRun.run_id == run.run_id)).one()
        assert dr.start_date >= began and (dr.end_date - dr.start_date) < dt.timedelta(minutes=10)
        reader = TaskLogReader()
        for ti in dr.get_task_instances(session=session):
            stream, _ = reader.read_log_chunks(ti, ti.try_number, {})
            text = "\n".join(str(getattr(m, "event", m)) for m in stream)
            assert "not found" not in text.lower(), ti.task_id
            if ti.task_id == "certificate":
                assert "dry run: no deletion certificate" in text  # a manual run is a dry run
