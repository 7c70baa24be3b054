"""The feed_deadlines DAG: late monthly files fail the check and reach the on-call mailbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.resident import deliver
from helpers.smtp import Inbox

pytestmark = pytest.mark.airflow


def test_late_monthly_files_are_mailed(  # type: ignore[no-untyped-def]
    dagbag, monkeypatch: pytest.MonkeyPatch, feed_root: Path, db_url: str, smtp_inbox: Inbox
) -> None:
    import pendulum

    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", f"file://{feed_root}")
    deliver(feed_root, "SEIHO_202604.csv", b"x", feed="welfare")
    deliver(feed_root, "TECHO_202604.csv", b"x", feed="welfare")
    # A second of 2026-04-06 09:00 JST of its own: the metadata database outlives the test.
    at = pendulum.parse("2026-04-06T09:00:00", tz="Asia/Tokyo").add(microseconds=pendulum.now().microsecond)
    run = dagbag.get_dag("feed_deadlines").test(logical_date=at)
    assert run.state == "failed"
    [mail] = [
        m for m in smtp_inbox.messages if m["Subject"].startswith("[vaxreg] feed_deadlines.check_arrivals")
    ]
    reason = next(line for line in Inbox.text(mail).splitlines() if line.startswith("Reason: "))
    assert "1 monthly file(s) not arrived: clinic: ISHIKAI_202603.csv not arrived (due 2026-04-05)" in reason
    assert "#feed_deadlines" in Inbox.text(mail)
