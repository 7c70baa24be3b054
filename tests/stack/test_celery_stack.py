"""The distributed engine (issue 16.2): the same DAGs on Celery workers, as docker-compose.yaml runs
them. Starts api-server, scheduler, dag-processor, triggerer and one Celery worker natively (Redis
broker, PostgreSQL metadata), triggers ``resident_diff`` through the REST API, checks the registry,
then a failing run that must deliver the task mail and the run-level mail to a local SMTP sink."""

from __future__ import annotations

import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url

from vaxreg.registry import db

from helpers.airflow_stack import Stack, stack_env
from helpers.db import APP, OWNER, login_url, pg_schema_url
from helpers.paths import REPO, SAMPLES
from helpers.smtp import Inbox, free_port

REDIS_DB = 13  # this test's own Redis database (the broker's queues), flushed before and after


def _flush_redis() -> None:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()


@pytest.fixture
def metadata_db(pg_url: str) -> Iterator[str]:
    name = f"opsstack_af_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def registry(pg_logins: str) -> Iterator[str]:
    for url in pg_schema_url(pg_logins, owner=OWNER):
        db.upgrade(login_url(url, OWNER))
        yield login_url(url, APP)


@pytest.mark.airflow
@pytest.mark.timeout(420)
def test_resident_diff_on_celery_then_a_failure_mails_task_and_run(
    tmp_path: Path, metadata_db: str, registry: str, _smtp_server: Inbox
) -> None:
    _smtp_server.messages.clear()
    root = tmp_path / "sftp"
    shutil.copytree(SAMPLES / "resident", root / "outbox" / "resident")
    port = free_port()
    home = tmp_path / "airflow"
    home.mkdir()
    extra = {
        "VAXREG_DATABASE_URL": registry,
        "VAXREG_SOURCE_URL": f"file://{root}",
        "VAXREG_HOME": str(tmp_path / "var"),
        "VAXREG_STAGING_DIR": str(tmp_path / "staging"),
        "VAXREG_ALERT_TO": "oncall@example.invalid",
    }
    stack = Stack(home, stack_env(home, metadata_db, REDIS_DB, port, extra), port)
    _flush_redis()
    started = time.monotonic()
    try:
        stack.start()
        stack.login()
        # 1. A run on the Celery worker applies both sample files.
        print(f"stack up in {time.monotonic() - started:.0f} s")
        run_id = stack.trigger("resident_diff")
        state = stack.wait_run("resident_diff", run_id)
        print(f"first run {state} at {time.monotonic() - started:.0f} s")
        assert state == "success", stack.task_states("resident_diff", run_id) | {"logs": stack.logs()}
        with db.transaction(registry) as conn:
            applied = conn.exec_driver_sql(
                "SELECT file_name FROM ingest_manifest WHERE status = 'applied' ORDER BY 1"
            ).scalars()
            assert list(applied) == ["JUKI_DIFF_20260401.csv", "JUKI_DIFF_20260402.csv"]
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM persons").scalar_one() > 0

        # 2. A file whose marker does not match: refused, the run fails, two mails arrive.
        folder = root / "outbox" / "resident"
        (folder / "JUKI_DIFF_20260403.csv").write_bytes((folder / "JUKI_DIFF_20260402.csv").read_bytes())
        (folder / "JUKI_DIFF_20260403.csv.done").write_text("0" * 64 + "\n")
        run_id = stack.trigger("resident_diff")
        assert stack.wait_run("resident_diff", run_id) == "failed"
        assert stack.task_states("resident_diff", run_id)["report"] == "failed"
        print(f"failing run at {time.monotonic() - started:.0f} s")

        def both_mails() -> list[str] | None:
            subjects = [str(m["Subject"]) for m in _smtp_server.messages if run_id in str(m["Subject"])]
            task = [s for s in subjects if "resident_diff.report failed" in s]
            dag_run = [s for s in subjects if "resident_diff run failed" in s]
            return subjects if task and dag_run else None

        subjects = stack.wait_until("the task mail and the run-level mail", both_mails, 90)
        mails = {
            str(m["Subject"]): Inbox.text(m) for m in _smtp_server.messages if str(m["Subject"]) in subjects
        }
        for subject, text in mails.items():
            reason = next(line for line in text.splitlines() if line.startswith("Reason: "))
            if ".report failed" in subject:  # the task's error, on one line
                assert "JUKI_DIFF_20260403.csv refused: checksum mismatch" in reason, text
            else:  # the run names the task that failed it
                assert "at task report" in reason, text
            assert f"Runbook: {stack.url}/vaxreg/runbook#resident_diff" in text, text
        # The runbook link works: the plugin serves docs/runbook.md with the DAG's anchor.
        with urllib.request.urlopen(f"{stack.url}/vaxreg/runbook", timeout=30) as page:
            assert 'id="resident_diff"' in page.read().decode()
        with db.transaction(registry) as conn:
            refused = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM ingest_manifest WHERE file_name = 'JUKI_DIFF_20260403.csv' "
                "AND status = 'applied'"
            ).scalar_one()
            assert refused == 0
    finally:
        stack.stop()
        stack.keep_logs(REPO / "var" / "stack-test")  # git-ignored; generated people only
        _flush_redis()
        db.engine(registry).dispose()
    assert all(p.poll() is not None for p in stack.procs.values())  # every process it started ended
    print(f"stack test {time.monotonic() - started:.0f} s")  # about 3 minutes on a quiet machine
