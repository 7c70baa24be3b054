"""Failure alerting: mail (and an optional chat webhook) to the on-call address, runbook linked.

Settings come from outside the code: the SMTP connection ``vaxreg_smtp`` (host,
port, login) and the environment variables ``VAXREG_ALERT_TO`` / ``VAXREG_ALERT_FROM``
/ ``VAXREG_RUNBOOK_URL``. Imported by DAG files, so it stays light.
"""

from __future__ import annotations

import copy
import os
from typing import Any

SMTP_CONN_ID = "vaxreg_smtp"
CHAT_CONN_ID = "vaxreg_chat"
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

    class FreshSmtpNotifier(SmtpNotifier):
        """Renders each alert on a copy: SmtpNotifier renders its templates in place and caches its
        hook, so a notifier kept by a long-lived process (DAG processor, tests) would resend the first
        run's subject to the first connection's server."""

        def __call__(self, *args: Any) -> None:
            SmtpNotifier.__call__(copy.copy(self), *args)

    return FreshSmtpNotifier(
        smtp_conn_id=SMTP_CONN_ID,
        from_email=os.environ.get("VAXREG_ALERT_FROM", "vaxreg-airflow@localhost"),
        to=os.environ.get("VAXREG_ALERT_TO", "vaxreg-oncall@localhost"),
        subject=_SUBJECT,
        html_content=_BODY.replace("RUNBOOK", RUNBOOK_URL),
    )


def chat_notifier() -> Any:
    """The optional chat webhook (connection ``vaxreg_chat``); does nothing when it is not defined."""
    from airflow.sdk.bases.notifier import BaseNotifier

    class ChatWebhookNotifier(BaseNotifier):
        """POSTs ``{"text": …}`` (Slack/Teams/Mattermost-style incoming webhook) to the connection's URL.

        The URL is the connection's ``extra.webhook_url``, else ``https://host[:port]/<path>`` built
        from host, port and the extra ``path``. No personal data: DAG, task, run, reason, runbook.
        """

        def __init__(self, conn_id: str = CHAT_CONN_ID) -> None:
            super().__init__()
            self.conn_id = conn_id

        def notify(self, context: Any) -> None:
            url = chat_url(self.conn_id)
            if url:
                post_chat(url, failure_text(context))

    return ChatWebhookNotifier()


def chat_url(conn_id: str = CHAT_CONN_ID) -> str | None:
    from vaxreg import config

    conn = config._airflow_connection(conn_id)
    if conn is None:
        return None
    extra = conn.extra_dejson
    if extra.get("webhook_url"):
        return str(extra["webhook_url"])
    if not conn.host:
        return None
    scheme = "http" if extra.get("insecure_http") else "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{conn.host}{port}/{str(extra.get('path', '')).lstrip('/')}"


def post_chat(url: str, text: str) -> None:
    import json
    import urllib.request

    req = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # the URL comes from the connection
        resp.read()


def failure_text(context: Any) -> str:
    ti = context.get("ti")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    return (
        f"[vaxreg] {dag_id}.{task_id} failed ({context.get('run_id')})\n"
        f"Reason: {context.get('exception') or context.get('reason') or 'see the log'}\n"
        f"Runbook: {RUNBOOK_URL}#{dag_id}"
    )


def quarantine_threshold() -> float:
    """Share of a file's rows in quarantine above which the run alerts (``VAXREG_QUARANTINE_ALERT``)."""
    return float(os.environ.get("VAXREG_QUARANTINE_ALERT", "0.05"))


def over_threshold(summaries: list[dict[str, Any]], threshold: float | None = None) -> list[dict[str, Any]]:
    """The applied files whose quarantined rows exceed the threshold (file name and counts only)."""
    limit = quarantine_threshold() if threshold is None else threshold
    return [
        s
        for s in summaries
        if s.get("status") == "applied" and s.get("rows") and int(s["quarantined"]) / int(s["rows"]) > limit
    ]


_QUALITY_SUBJECT = (
    "[vaxreg] {{ ti.dag_id }}: data quality, {{ params_files|length }} file(s) over {{ params_limit }} "
    "quarantined ({{ run_id }})"
)


def quality_alert(context: Any, files: list[dict[str, Any]]) -> None:
    """Mail (and chat) that a run applied files with too many quarantined rows; the run itself succeeds."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    limit = f"{quarantine_threshold():.0%}"
    rows = "".join(
        f"<tr><td>{f['file']}</td><td>{f['rows']}</td><td>{f['quarantined']}</td>"
        f"<td>{int(f['quarantined']) / int(f['rows']):.1%}</td></tr>"
        for f in files
    )
    anchor = "high-quarantine-rate"
    body = f"""
<p><b>DAG</b> {{{{ ti.dag_id }}}} &middot; <b>task</b> {{{{ ti.task_id }}}}
&middot; <b>run</b> {{{{ run_id }}}}</p>
<p><b>Reason</b>: data quality: {len(files)} file(s) with more than {limit} of their rows quarantined.
The files are applied (accepted rows are in the registry); nothing is held.</p>
<table><tr><th>file</th><th>rows</th><th>quarantined</th><th>share</th></tr>{rows}</table>
<p>Runbook: <a href="{RUNBOOK_URL}#{anchor}">{RUNBOOK_URL}#{anchor}</a></p>
"""
    subject = _QUALITY_SUBJECT.replace("{{ params_files|length }}", str(len(files))).replace(
        "{{ params_limit }}", limit
    )
    SmtpNotifier(
        smtp_conn_id=SMTP_CONN_ID,
        from_email=os.environ.get("VAXREG_ALERT_FROM", "vaxreg-airflow@localhost"),
        to=os.environ.get("VAXREG_ALERT_TO", "vaxreg-oncall@localhost"),
        subject=subject,
        html_content=body,
    )(context)
    if url := chat_url():
        ti = context["ti"]
        post_chat(
            url,
            f"[vaxreg] {ti.dag_id}: data quality, {len(files)} file(s) over {limit} quarantined "
            f"({context['run_id']}): "
            + ", ".join(f"{f['file']} {f['quarantined']}/{f['rows']}" for f in files)
            + f"\nRunbook: {RUNBOOK_URL}#{anchor}",
        )
