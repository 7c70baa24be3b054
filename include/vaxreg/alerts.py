"""Failure alerting: every task of every DAG mails the on-call address (runbook linked).

Settings come from outside the code: the SMTP connection ``vaxreg_smtp`` (host,
port, login) and the environment variables ``VAXREG_ALERT_TO`` / ``VAXREG_ALERT_FROM``
/ ``VAXREG_RUNBOOK_URL``. Imported by DAG files, so it stays light.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

SMTP_CONN_ID = "vaxreg_smtp"
RUNBOOK_URL = os.environ.get(
    "VAXREG_RUNBOOK_URL", "https://git.example.invalid/vaxreg/blob/main/docs/runbook.md"
)

_SUBJECT = "[vaxreg] {{ ti.dag_id }}.{{ ti.task_id }} failed ({{ run_id }})"
_BODY = """
<p><b>DAG</b> {{ ti.dag_id }} &middot; <b>task</b> {{ ti.task_id }} &middot; <b>run</b> {{ run_id }}
&middot; <b>try</b> {{ ti.try_number }}</p>
<p><b>Reason</b>: {{ exception }}</p>
<p>Log: <a href="{{ ti.log_url }}">{{ ti.log_url }}</a></p>
<p>Runbook: <a href="RUNBOOK#{{ ti.dag_id }}">RUNBOOK#{{ ti.dag_id }}</a></p>
"""


def failure_notifier() -> Any:
    """Airflow's SmtpNotifier addressed to the on-call mailbox."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return SmtpNotifier(
        smtp_conn_id=SMTP_CONN_ID,
        from_email=os.environ.get("VAXREG_ALERT_FROM", "vaxreg-airflow@localhost"),
        to=os.environ.get("VAXREG_ALERT_TO", "vaxreg-oncall@localhost"),
        subject=_SUBJECT,
        html_content=_BODY.replace("RUNBOOK", RUNBOOK_URL),
    )


def default_args() -> dict[str, Any]:
    """Task defaults shared by every DAG: owner, retries with back-off, failure mail."""
    return {
        "owner": "vaxreg",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "on_failure_callback": [failure_notifier()],
    }
