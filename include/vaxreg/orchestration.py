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
    """The feed's accepted review items, then every validated file (as ``vaxreg run`` does)."""
    return pipeline.apply(works, _actor(feed), feed=feed)


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
    _quality_alert(summaries, log)
    return summaries


def _quality_alert(summaries: list[dict[str, Any]], log: Any) -> None:
    """Files over the quarantine threshold alert by mail; the run still succeeds (decisions.md §16)."""
    from airflow.sdk import get_current_context

    from vaxreg import alerts

    if files := alerts.over_threshold(summaries):
        log.warning(
            "data quality: %s", ", ".join(f"{f['file']} {f['quarantined']}/{f['rows']}" for f in files)
        )
        try:
            alerts.quality_alert(get_current_context(), files)
        except Exception as exc:  # a mail that cannot go out must not fail a run whose data is applied
            log.error("data-quality alert could not be sent: %s", exc)


def fees(feed: str, works: pipeline.Works) -> pipeline.Works:
    """Publish the commission-fee statements not yet published (clinic and other-ward DAGs)."""
    return pipeline.fees(works, _actor(feed))


def vrs_flags(feed: str, works: pipeline.Works) -> pipeline.Works:
    """Publish VRS_FLAGS_YYYYMMDD.csv for the run's logical date (Asia/Tokyo), if anything is new."""
    import pendulum
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    when = ctx.get("logical_date") or ctx["dag_run"].run_after  # a manual run may have no logical date
    day = pendulum.instance(when).in_timezone("Asia/Tokyo").date().isoformat()
    return pipeline.vrs_flags(works, _actor(feed), date=day)
