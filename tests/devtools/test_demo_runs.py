"""``make demo``'s runs in the UI (16.6): after ``dag.test()`` (what ``airflow dags test`` runs) the run
gets its real start, and Airflow's own log reader finds each task's log."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
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
    airflow_home: Path, feed_root: Path, db_url: str, monkeypatch
) -> None:
    import pendulum
    from airflow.models.dagrun import DagRun
    from airflow.utils.log.log_reader import TaskLogReader
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from helpers.db import owner_url
    from helpers.paths import REPO

    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_MAINTENANCE_DATABASE_URL", owner_url(db_url))  # the purge's login
    began = dt.datetime.now(dt.UTC)
    logical = pendulum.datetime(2026, 4, 8, tz="Asia/Tokyo").add(seconds=int(began.timestamp()) % 86400)
    # as make demo runs it: `airflow dags test` in its own process, its output captured
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "retention_purge", logical.isoformat()],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = adopt_run("retention_purge", began, dt.datetime.now(dt.UTC), done.stdout + done.stderr)
    assert len(written) == 2  # purge, certificate

    with create_session() as session:
        dr = session.scalars(
            select(DagRun).where(DagRun.dag_id == "retention_purge").order_by(DagRun.id.desc()).limit(1)
        ).one()
        assert dr.start_date >= began and (dr.end_date - dr.start_date) < dt.timedelta(minutes=10)
        reader = TaskLogReader()
        for ti in dr.get_task_instances(session=session):
            stream, _ = reader.read_log_chunks(ti, ti.try_number, {})
            text = "\n".join(str(getattr(m, "event", m)) for m in stream)
            assert "not found" not in text.lower(), ti.task_id
            if ti.task_id == "certificate":
                assert "dry run: no deletion certificate" in text  # a manual run is a dry run
