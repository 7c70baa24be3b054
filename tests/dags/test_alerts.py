"""Alerting: a failing DAG mails the on-call address through a real SMTP server (aiosmtpd), with DAG,
task, run, reason and runbook link; the optional chat webhook; the data-quality alert over a threshold."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaxreg.dagtasks import notify

from helpers.paths import REPO
from helpers.resident import deliver, person, resident_csv
from helpers.smtp import Inbox

pytestmark = pytest.mark.airflow


@pytest.fixture
def chat_hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    """A local HTTP server standing in for a chat incoming webhook (connection ``vaxreg_chat``)."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/vaxreg"
    monkeypatch.setenv(
        "AIRFLOW_CONN_VAXREG_CHAT", json.dumps({"conn_type": "http", "extra": {"webhook_url": url}})
    )
    try:
        yield received
    finally:
        server.shutdown()


def run_resident(dagbag, monkeypatch, db_url: str, root: Path, day: str):  # type: ignore[no-untyped-def]
    import pendulum

    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", f"file://{root}")
    return dagbag.get_dag("resident_diff").test(logical_date=pendulum.parse(day, tz="Asia/Tokyo"))


def test_failing_dag_mails_dag_task_run_reason_and_runbook(
    dagbag, monkeypatch, feed_root: Path, db_url: str, smtp_inbox: Inbox, chat_hook: list[dict]
) -> None:  # type: ignore[no-untyped-def]
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv([person("0000000001")]),
        marker=hashlib.sha256(b"other bytes").hexdigest(),
    )
    run = run_resident(dagbag, monkeypatch, db_url, feed_root, "2026-04-01")
    assert run.state == "failed"

    task_mails = [
        m for m in smtp_inbox.messages if m["Subject"].startswith("[vaxreg] resident_diff.report failed")
    ]
    assert task_mails, [m["Subject"] for m in smtp_inbox.messages]
    mail = task_mails[0]
    assert mail["Subject"] == f"[vaxreg] resident_diff.report failed ({run.run_id})"
    assert mail["To"] == "vaxreg-oncall@localhost"
    body = smtp_inbox.text(mail)
    for needle in (
        "<b>DAG</b> resident_diff",
        "<b>task</b> report",
        f"<b>run</b> {run.run_id}",
        "JUKI_DIFF_20260401.csv refused: checksum mismatch",
        f"{notify.RUNBOOK_URL}#resident_diff",
    ):
        assert needle in body, needle
    assert "シケン" not in body and "試験" not in body  # no personal data in a mail
    # Plain text and HTML alternatives; the reason on one line.
    assert [p.get_content_type() for p in mail.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    plain = mail.get_payload(0).get_payload(decode=True).decode()
    [reason] = [line for line in plain.splitlines() if line.startswith("Reason: ")]
    assert "JUKI_DIFF_20260401.csv refused: checksum mismatch" in reason
    assert f"Runbook: {notify.runbook_url()}#resident_diff" in plain and "Log: http" in plain

    # The run-level mail (the DAG's on_failure_callback) arrives too (issue 16 defect 2).
    [run_mail] = [
        m for m in smtp_inbox.messages if m["Subject"] == f"[vaxreg] resident_diff run failed ({run.run_id})"
    ]
    run_text = smtp_inbox.text(run_mail)
    assert f"{notify.runbook_url()}#resident_diff" in run_text and "/dags/resident_diff/runs/" in run_text

    # The chat webhook got the same facts.
    texts = [r["json"]["text"] for r in chat_hook if "resident_diff.report failed" in r["json"]["text"]]
    assert texts and "checksum mismatch" in texts[0] and f"{notify.RUNBOOK_URL}#resident_diff" in texts[0]
    assert all(r["path"] == "/hooks/vaxreg" for r in chat_hook)


def test_data_quality_over_threshold_alerts_without_failing_the_run(
    dagbag, monkeypatch, feed_root: Path, db_url: str, smtp_inbox: Inbox
) -> None:  # type: ignore[no-untyped-def]
    clean = [person(f"00000001{i:02d}", household_no=f"80000001{i:02d}") for i in range(20)]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(clean))
    run = run_resident(dagbag, monkeypatch, db_url, feed_root, "2026-04-01")
    assert run.state == "success"
    assert not [m for m in smtp_inbox.messages if "data quality" in m["Subject"]]  # 0% quarantined

    # 2 of 20 rows (10%) quarantined: over the 5% default. The run succeeds and mails.
    dirty = [
        person(f"00000002{i:02d}", household_no=f"80000002{i:02d}", sex="x" if i < 2 else "1")
        for i in range(20)
    ]
    deliver(feed_root, "JUKI_DIFF_20260402.csv", resident_csv(dirty))
    run = run_resident(dagbag, monkeypatch, db_url, feed_root, "2026-04-02")
    assert run.state == "success"
    [mail] = [m for m in smtp_inbox.messages if "data quality" in m["Subject"]]
    assert (
        mail["Subject"]
        == f"[vaxreg] resident_diff: data quality, 1 file(s) over 5% quarantined ({run.run_id})"
    )
    body = smtp_inbox.text(mail)
    assert "<td>JUKI_DIFF_20260402.csv</td><td>20</td><td>2</td><td>10.0%</td>" in body
    assert f"{notify.RUNBOOK_URL}#high-quarantine-rate" in body and "<b>task</b> report" in body
    assert "シケン" not in body and "0000000200" not in body

    # The threshold is configurable: at 15% the same share does not alert.
    monkeypatch.setenv("VAXREG_QUARANTINE_ALERT", "0.15")
    assert notify.over_threshold([{"file": "f", "status": "applied", "rows": 20, "quarantined": 2}]) == []


def test_runbook_has_an_entry_for_every_alert() -> None:
    runbook = (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")
    for heading in (
        "## resident_diff",
        "## retention_purge",
        "### High quarantine rate",
        "## The failure mail",
    ):
        assert heading in runbook, heading
    assert "data quality" in runbook.lower() and "vaxreg_chat" in runbook
