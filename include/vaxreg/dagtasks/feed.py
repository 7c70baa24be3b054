"""The tasks of a feed DAG: fetch → parse → validate → load → (publish the feed's outputs) → report.

:func:`feed_tasks` wires them for any feed of :mod:`vaxreg.feeds`; the DAG file keeps what is its
own (schedule, docs, tags). Each task calls the same :mod:`vaxreg.pipeline` step as ``vaxreg run``,
with the task's run as the audit actor. Called while a DAG file is parsed, so it imports Airflow
only; the domain is imported when a task runs.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import task
from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryRule

from vaxreg.dagtasks import assets

Works = list[dict[str, Any]]
log = logging.getLogger("vaxreg")


class FileRefused(SystemExit):
    """A refused file ends the report task: an expected data problem, not a defect of the code.

    Airflow's task runner logs a ``SystemExit`` as one line (``Task exited exit_code=<reason>``),
    where any other exception gets a stack trace; :data:`NO_RETRY_ON_REFUSAL` fails it at once
    (a retry would refuse the same bytes). ``str()`` is the reason, for the failure mail."""

    def __str__(self) -> str:
        return str(self.code)


NO_RETRY_ON_REFUSAL = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception="vaxreg.dagtasks.feed.FileRefused",
            action=RetryAction.FAIL,
            reason="a refused file is a data problem: no retry",
        )
    ]
)


def actor(feed: str) -> Any:
    """The audit actor of the running task (privacy.md P4): DAG, run and task ids, the feed's purpose."""
    from airflow.sdk import get_current_context

    from vaxreg import pipeline

    ctx = get_current_context()
    ti = ctx["ti"]
    return pipeline.make_actor(feed, dag_id=ti.dag_id, run_id=ctx["run_id"], task_id=ti.task_id)


def logical_day(context: Any) -> Any:
    """The run's date in Asia/Tokyo: the logical date, or when a manual run was queued."""
    import pendulum

    when = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(when).in_timezone("Asia/Tokyo").date()


def feed_tasks(feed: str, *, changes: tuple[str, ...], after_apply: tuple[str, ...] = ()) -> Any:
    """The tasks of ``feed``. ``changes`` (the feed's registry areas) are the report task's outlets;
    ``after_apply`` names the outputs published between load and report, each a task with its
    Asset (the DAG file states both, so that parsing it imports no domain module)."""

    @task
    def fetch() -> Works:
        from vaxreg import failures, pipeline

        with failures.task_failure():  # an expected failure: one line in the task log
            return pipeline.fetch(feed, actor(feed))

    @task
    def parse(works: Works) -> Works:
        from vaxreg import failures, pipeline

        with failures.task_failure():  # an expected failure: one line in the task log
            return pipeline.parse(works, actor(feed))

    @task
    def validate(works: Works) -> Works:
        from vaxreg import failures, pipeline

        with failures.task_failure():  # an expected failure: one line in the task log
            return pipeline.validate(works, actor(feed))

    @task(task_id="apply" if feed == "resident" else "load")
    def load(works: Works) -> Works:
        """The feed's accepted review items (even when no file arrived), then every validated file,
        each in one transaction."""
        from vaxreg import failures, pipeline

        with failures.task_failure():  # an expected failure: one line in the task log
            return pipeline.apply(works, actor(feed), feed=feed)

    fetched: Any = fetch()  # XComArgs: the lists arrive when the tasks run
    parsed: Any = parse(fetched)
    validated: Any = validate(parsed)
    works: Any = load(validated)
    for target in after_apply:
        works = _publish_task(feed, target)(works)
    return _report_task(feed, [assets.REGISTRY[a] for a in changes])(works)


def _publish_task(feed: str, target: str) -> Any:
    @task(
        task_id={"fees": "fees", "vrs_flags": "flags"}.get(target, target), outlets=[assets.OUTBOUND[target]]
    )
    def publish(works: Works, **context: Any) -> Works:
        """Publish the output not yet published (it catches up what an earlier run could not)."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from vaxreg import config, outputs
        from vaxreg.transport import OutboundConflict, open_source

        day = logical_day(get_current_context())
        try:
            with open_source(config.source_url()) as src:
                names = outputs.publisher(target)(src, actor(feed), day)
        except OutboundConflict as exc:  # another file holds the name: a person must look, no retry
            raise AirflowFailException(str(exc)) from exc
        log.info("%s: %s", target, ", ".join(names) or "nothing new")
        return works

    return publish


def _report_task(feed: str, outlets: list[Any]) -> Any:
    @task(outlets=outlets, retry_policy=NO_RETRY_ON_REFUSAL)
    def report(works: Works) -> list[dict[str, Any]]:
        """Log one line per file, attach the totals to the asset events, fail on a refused file.

        A refused file is a data problem, not a transient one: the per-file lines, then one
        reason line, no stack trace, no retry (:class:`FileRefused`)."""
        from airflow.sdk import get_current_context

        from vaxreg import pipeline

        try:
            summaries = pipeline.report(works)
        except pipeline.FeedRefused as exc:
            for s in pipeline.file_summaries(works):
                log.info("%s", s)
            raise FileRefused(str(exc)) from None
        for s in summaries:
            log.info("%s", s)
        totals = {
            k: sum(int(s[k]) for s in summaries)
            for k in ("rows", "accepted", "quarantined", "review", "duplicates")
        }
        events = get_current_context()["outlet_events"]
        for outlet in outlets:
            events[outlet].extra = {"feed": feed, "files": len(summaries), **totals}
        _quality_alert(summaries)
        return summaries

    return report


def _quality_alert(summaries: list[dict[str, Any]]) -> None:
    """Files over the quarantine threshold alert by mail; the run still succeeds (docs/decisions.md)."""
    from airflow.sdk import get_current_context

    from vaxreg.dagtasks import notify

    if files := notify.over_threshold(summaries):
        log.warning(
            "data quality: %s", ", ".join(f"{f['file']} {f['quarantined']}/{f['rows']}" for f in files)
        )
        try:
            notify.quality_alert(get_current_context(), files)
        except Exception as exc:  # a mail that cannot go out must not fail a run whose data is applied
            log.error("data-quality alert could not be sent: %s", exc)
