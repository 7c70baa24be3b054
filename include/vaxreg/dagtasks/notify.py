"""Failure alerting: mail (and an optional chat webhook) to the on-call address, runbook linked.

Settings come from outside the code: the SMTP connection ``vaxreg_smtp`` (host,
port, login) and the environment variables ``VAXREG_ALERT_TO`` / ``VAXREG_ALERT_FROM``
/ ``VAXREG_RUNBOOK_URL``. Imported by DAG files, so it stays light.
"""

from __future__ import annotations

import os
from typing import Any

SMTP_CONN_ID = "vaxreg_smtp"
CHAT_CONN_ID = "vaxreg_chat"
RUNBOOK_PATH = "/vaxreg/runbook"  # served by the plugin from docs/runbook.md


def _api_base_url() -> str:
    """The Airflow UI's address (``[api] base_url``), as the mails link to it."""
    base = os.environ.get("AIRFLOW__API__BASE_URL", "")
    if not base:
        try:
            from airflow.configuration import conf

            base = conf.get("api", "base_url", fallback="") or ""
        except Exception:  # outside Airflow
            base = ""
    return (base or "http://localhost:8080").rstrip("/")


def runbook_url() -> str:
    """``VAXREG_RUNBOOK_URL`` when set, else the runbook the plugin serves on this deployment's UI."""
    return os.environ.get("VAXREG_RUNBOOK_URL") or f"{_api_base_url()}{RUNBOOK_PATH}"


RUNBOOK_URL = runbook_url()


def _one_line(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alert_facts(context: Any, *, run_level: bool = False) -> dict[str, str]:
    """What an alert says, from a task's or a DAG run's failure context (no personal data):
    DAG, task (or ``-`` for a run), run, try, the reason in one line, the log link, the runbook.
    A run's context may hold the last failed task instance: its error becomes the run's reason."""
    from urllib.parse import quote

    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = (
        getattr(ti, "dag_id", None)
        or getattr(context.get("dag"), "dag_id", None)
        or getattr(dag_run, "dag_id", None)
        or "?"
    )
    run_id = str(context.get("run_id") or getattr(dag_run, "run_id", "?"))
    run_url = f"{_api_base_url()}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
    if not run_level and ti is not None and getattr(ti, "task_id", None):
        reason = context.get("exception") or "see the log"
        log_url = getattr(ti, "log_url", None) or run_url
        subject = f"[vaxreg] {dag_id}.{ti.task_id} failed ({run_id})"
        task, attempt = str(ti.task_id), str(getattr(ti, "try_number", ""))
    else:
        failed = getattr(ti, "task_id", None)
        cause = context.get("exception") or context.get("reason") or "a task failed"
        reason = f"the run failed{f' at task {failed}' if failed else ''}: {cause}"
        log_url, subject, task, attempt = run_url, f"[vaxreg] {dag_id} run failed ({run_id})", "-", ""
    return {
        "subject": subject,
        "dag_id": str(dag_id),
        "task_id": task,
        "run_id": run_id,
        "try": attempt,
        "reason": _one_line(reason),
        "log_url": str(log_url),
        "runbook": f"{runbook_url()}#{dag_id}",
    }


def alert_text(f: dict[str, str]) -> str:
    return (
        f"{f['subject']}\n\nReason: {f['reason']}\n\n"
        f"DAG {f['dag_id']} · task {f['task_id']} · run {f['run_id']}"
        + (f" · try {f['try']}" if f["try"] else "")
        + f"\nLog: {f['log_url']}\nRunbook: {f['runbook']}\n"
    )


def alert_html(f: dict[str, str]) -> str:
    from html import escape

    e = {k: escape(v) for k, v in f.items()}
    attempt = f" &middot; <b>try</b> {e['try']}" if f["try"] else ""
    return (
        f"<p><b>Reason</b>: {e['reason']}</p>\n"
        f"<p><b>DAG</b> {e['dag_id']} &middot; <b>task</b> {e['task_id']} &middot; <b>run</b> {e['run_id']}"
        f"{attempt}</p>\n"
        f'<p>Log: <a href="{e["log_url"]}">{e["log_url"]}</a></p>\n'
        f'<p>Runbook: <a href="{e["runbook"]}">{e["runbook"]}</a></p>\n'
    )


def send_alert(subject: str, text: str, html: str) -> None:
    """One mail, plain text and HTML alternatives, through the connection ``vaxreg_smtp``."""
    from email import policy
    from email.message import EmailMessage

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    msg = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))  # subject on one line
    msg["Subject"] = subject
    msg["To"] = os.environ.get("VAXREG_ALERT_TO", "vaxreg-oncall@localhost")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
        msg["From"] = os.environ.get("VAXREG_ALERT_FROM") or hook.from_email or "vaxreg-airflow@localhost"
        client = hook._smtp_client
        assert client is not None
        client.send_message(msg)


def failure_notifier(*, run_level: bool = False) -> Any:
    """The failure mail of a task, or of a whole run (``run_level``: the DAG's on_failure_callback)."""
    from airflow.sdk.bases.notifier import BaseNotifier

    class FailureMailNotifier(BaseNotifier):
        """Plain text + HTML: the reason in one line, the log link and the runbook link. Computed from
        the context, no template: a DAG run's context has no ``ti`` nor ``exception``."""

        template_fields = ()

        def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
            """Nothing to render; and a run's callback gets a SerializedDAG without a template env."""

        def notify(self, context: Any) -> None:
            facts = alert_facts(context, run_level=run_level)
            send_alert(facts["subject"], alert_text(facts), alert_html(facts))

    return FailureMailNotifier()


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
        f"Runbook: {runbook_url()}#{dag_id}"
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
