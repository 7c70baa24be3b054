"""Glue between Airflow tasks and the pipeline steps: actor from the task context,
data errors that must not be retried, the asset event's summary."""

from __future__ import annotations

from typing import Any

from vaxreg import pipeline


def _actor(feed: str) -> Any:
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    ti = ctx["ti"]
    return pipeline.make_actor(feed, dag_id=ti.dag_id, run_id=ctx["run_id"], task_id=ti.task_id)


def fetch(feed: str) -> pipeline.Works:
    return pipeline.fetch(feed, _actor(feed))


def parse(feed: str, works: pipeline.Works) -> pipeline.Works:
    return pipeline.parse(works, _actor(feed))


def validate(feed: str, works: pipeline.Works) -> pipeline.Works:
    return pipeline.validate(works, _actor(feed))


def apply(feed: str, works: pipeline.Works) -> pipeline.Works:
    return pipeline.apply(works, _actor(feed))


def report(feed: str, works: pipeline.Works, outlet: Any) -> list[dict[str, Any]]:
    """Log one line per file, attach the totals to the asset event, fail on a refused file.

    A refused file is a data problem, not a transient one: it fails without retries.
    """
    import logging

    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    log = logging.getLogger("vaxreg")
    try:
        summaries = pipeline.report(works)
    except pipeline.FeedRefused as exc:
        raise AirflowFailException(str(exc)) from None
    for s in summaries:
        log.info("%s", s)
    totals = {
        k: sum(int(s[k]) for s in summaries)
        for k in ("rows", "accepted", "quarantined", "review", "duplicates")
    }
    extra: dict[str, Any] = {"feed": feed, "files": len(summaries), **totals}
    get_current_context()["outlet_events"][outlet].extra = extra
    return summaries
