"""What every vaxreg DAG shares: the start date, the task defaults (owner, retries with back-off,
failure mail and chat) and the DAG-level failure callback."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

from vaxreg.dagtasks.notify import chat_notifier, failure_notifier

START = pendulum.datetime(2026, 4, 1, tz="Asia/Tokyo")
TIMEZONE = "Asia/Tokyo"
# No attempt runs longer than this (a hung SFTP read or lock wait fails, is retried, then mails).
TASK_TIMEOUT = dt.timedelta(hours=2)
# A run still going after this fails as a whole (the run-level mail says "timed_out"): at least
# three task timeouts plus the retries' back-off, below the next scheduled run of a daily DAG.
RUN_TIMEOUTS = {
    "resident_diff": dt.timedelta(hours=8),
    "vrs_import": dt.timedelta(hours=8),
    "welfare_lists": dt.timedelta(hours=8),
    "clinic_records": dt.timedelta(hours=12),
    "otherward_records": dt.timedelta(hours=12),
    "retention_purge": dt.timedelta(hours=12),
    "feed_deadlines": dt.timedelta(hours=3),
    "atena_numbers": dt.timedelta(hours=8),
    "history_inquiries": dt.timedelta(hours=4),
    "prefecture_stats": dt.timedelta(hours=6),
    "prior_records": dt.timedelta(hours=8),
    "provision_copy": dt.timedelta(hours=6),
    "publish_forms": dt.timedelta(hours=6),
    "publish_reminders": dt.timedelta(hours=6),
    "registry_refresh": dt.timedelta(hours=6),
}


def dagrun_timeout(dag_id: str) -> dt.timedelta:
    """The run timeout of ``dag_id`` (every DAG has one: tests/dags/test_structure.py)."""
    return RUN_TIMEOUTS[dag_id]


def default_args() -> dict[str, Any]:
    """Task defaults shared by every DAG: owner, retries with back-off, failure mail (and chat)."""
    return {
        "owner": "vaxreg",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "execution_timeout": TASK_TIMEOUT,
        "on_failure_callback": [failure_notifier(), chat_notifier()],
    }


def on_dag_failure() -> list[Any]:
    """The DAG-level failure callback (a run that failed as a whole)."""
    return [failure_notifier(run_level=True)]
