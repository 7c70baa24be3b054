"""The tasks of an output DAG (no inbound feed): publish one outbound file exactly once, then a
report of the output's state (e.g. doses waiting for an integrated number). Each calls the same
:mod:`vaxreg.outputs` function as ``vaxreg publish``, with the task's run as the audit actor.
Called while a DAG file is parsed: it imports Airflow only; the domain when a task runs."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import task

from vaxreg.dagtasks import assets

log = logging.getLogger("vaxreg")


def output_tasks(target: str) -> Any:
    """publish → report for the output ``target`` (a key of :data:`vaxreg.outputs.PUBLISHERS`);
    the publish task emits the output's Asset."""

    @task(outlets=[assets.OUTBOUND[target]])
    def publish() -> list[str]:
        """Publish the file of the run's day (catches up what an earlier run left prepared)."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from vaxreg import config, outputs
        from vaxreg.dagtasks.feed import logical_day
        from vaxreg.transport import OutboundConflict, open_source

        ctx = get_current_context()
        try:
            with open_source(config.source_url()) as src:
                names = outputs.publisher(target)(src, _actor(target, ctx), logical_day(ctx))
        except OutboundConflict as exc:  # another file holds the name: a person must look, no retry
            raise AirflowFailException(str(exc)) from exc
        log.info("%s: %s", target, ", ".join(names) or "nothing new")
        return names

    @task
    def report(names: list[str]) -> dict[str, Any]:
        """The output's summary (counts only), logged and returned."""
        from vaxreg import outputs

        summary = {"files": names} | outputs.summary(target)
        log.info("%s summary: %s", target, summary)
        return summary

    names: Any = publish()  # an XComArg: the list arrives when the task runs
    return report(names)


def _actor(target: str, ctx: Any) -> Any:
    from vaxreg import outputs
    from vaxreg.registry.ledger import Actor

    ti = ctx["ti"]
    return Actor(dag_id=ti.dag_id, run_id=ctx["run_id"], task_id=ti.task_id, purpose=outputs.purpose(target))
