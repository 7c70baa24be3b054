"""An expected refusal in the report task (16.6): the per-file lines and one reason line in the task
log, no stack trace, no retry; the run fails and the failure mail still names the reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from helpers.resident import deliver, person, resident_csv
from helpers.smtp import Inbox

pytestmark = pytest.mark.airflow


def test_refused_file_logs_lines_not_a_traceback(  # type: ignore[no-untyped-def]
    dagbag, monkeypatch, feed_root: Path, db_url: str, smtp_inbox: Inbox, capfd, caplog
) -> None:
    import logging

    import pendulum

    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv([person("0000000001")]),
        marker=hashlib.sha256(b"other bytes").hexdigest(),
    )
    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", f"file://{feed_root}")
    caplog.set_level(logging.INFO)
    capfd.readouterr()
    run = dagbag.get_dag("resident_diff").test(logical_date=pendulum.parse("2026-04-01", tz="Asia/Tokyo"))
    assert run.state == "failed"
    [report] = [ti for ti in run.get_task_instances() if ti.task_id == "report"]
    assert report.state == "failed" and report.try_number == 1  # no retry of a refusal
    out = capfd.readouterr()
    log = out.out + out.err + caplog.text
    assert "'file': 'JUKI_DIFF_20260401.csv', 'status': 'refused'" in log  # the per-file line
    tasks = log.split("Marking run")[0]  # the tasks' part; the run-level callback comes after
    [exited] = [line for line in tasks.splitlines() if "Task exited" in line]
    assert "JUKI_DIFF_20260401.csv refused: checksum mismatch" in exited  # the one reason line
    assert "Traceback" not in tasks and "FileRefused" not in tasks
    mails = [m for m in smtp_inbox.messages if "resident_diff.report failed" in m["Subject"]]
    assert mails and "JUKI_DIFF_20260401.csv refused: checksum mismatch" in Inbox.text(mails[0])
