"""The tasks every feed DAG shares: fetch → parse → validate, load, report.

Called while a DAG file is parsed, so it imports Airflow only; each task imports
the pipeline when it runs. A DAG file keeps what is its own: schedule, docs,
assets and any feed-specific step (fees, VRS flags) between load and report.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

Works = list[dict[str, Any]]


def fetch_parse_validate(feed: str) -> Any:
    """The first three tasks of a feed; returns validate's output (the file work list)."""

    @task
    def fetch() -> Works:
        from vaxreg import orchestration

        return orchestration.fetch(feed)

    @task
    def parse(works: Works) -> Works:
        from vaxreg import orchestration

        return orchestration.parse(feed, works)

    @task
    def validate(works: Works) -> Works:
        from vaxreg import orchestration

        return orchestration.validate(feed, works)

    fetched: Any = fetch()  # an XComArg: the list arrives when the task runs
    parsed: Any = parse(fetched)
    return validate(parsed)


def load(feed: str, works: Any, task_id: str = "load") -> Any:
    """Apply the feed's accepted review items (even when no file arrived), then every validated
    file, each in one transaction: ``pipeline.apply`` with the feed, as ``vaxreg run`` calls it."""

    @task(task_id=task_id)
    def apply(works: Works) -> Works:
        from vaxreg import orchestration

        return orchestration.apply(feed, works)

    return apply(works)


def report(feed: str, works: Any, outlet: Any) -> Any:
    """Summaries that add up, the asset event with the totals; fails (no retry) on a refused file."""

    @task(outlets=[outlet])
    def report(works: Works) -> Works:
        from vaxreg import orchestration

        return orchestration.report(feed, works, outlet)

    return report(works)
