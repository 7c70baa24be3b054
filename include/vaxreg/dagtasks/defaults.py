"""What every vaxreg DAG shares: the start date, the task defaults (owner, retries with back-off,
failure mail and chat) and the DAG-level failure callback."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

from vaxreg.dagtasks.notify import chat_notifier, failure_notifier

START = pendulum.datetime(2026, 4, 1, tz="Asia/Tokyo")
TIMEZONE = "Asia/Tokyo"


def default_args() -> dict[str, Any]:
    """Task defaults shared by every DAG: owner, retries with back-off, failure mail (and chat)."""
    return {
        "owner": "vaxreg",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "on_failure_callback": [failure_notifier(), chat_notifier()],
    }


def on_dag_failure() -> list[Any]:
    """The DAG-level failure callback (a run that failed as a whole)."""
    return [failure_notifier()]
