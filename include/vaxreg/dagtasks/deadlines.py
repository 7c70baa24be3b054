"""The task of the feed_deadlines DAG: fail, with one line per file, when a monthly file is late."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task


def deadline_tasks() -> Any:
    @task(retries=0)
    def check_arrivals(**context: Any) -> list[str]:
        import pendulum
        from airflow.exceptions import AirflowFailException

        from vaxreg.dagtasks.defaults import TIMEZONE
        from vaxreg.feeds import deadlines

        when = context.get("logical_date") or context["dag_run"].run_after
        day = pendulum.instance(when).in_timezone(TIMEZONE).date()
        late = deadlines.missing(day)
        for m in late:
            print(m.line())
        if late:
            raise AirflowFailException(
                f"{len(late)} monthly file(s) not arrived: " + "; ".join(m.line() for m in late)
            )
        print(f"{day}: every monthly file due so far has arrived")
        return [m.name for m in deadlines.expected(day)]

    return check_arrivals()
