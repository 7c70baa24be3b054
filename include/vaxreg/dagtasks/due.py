"""The tasks of the due-doses DAGs (``registry_refresh``, ``publish_forms``, ``publish_reminders``):
refresh the due doses on the run's logical date, then publish an output drawn from them. Each
task calls the same function as ``vaxreg refresh`` / ``vaxreg publish``, with the task's run as
the audit actor; its Asset event carries the counts an operator looks at (no personal data)."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import task

from vaxreg.dagtasks import assets
from vaxreg.dagtasks.feed import logical_day

log = logging.getLogger("vaxreg")


def _actor(purpose: str) -> Any:
    from airflow.sdk import get_current_context

    from vaxreg.registry import ledger

    ctx = get_current_context()
    ti = ctx["ti"]
    return ledger.Actor(dag_id=ti.dag_id, run_id=ctx["run_id"], task_id=ti.task_id, purpose=purpose)


def refresh_task() -> Any:
    @task(task_id="refresh", outlets=[assets.DUE])
    def refresh() -> dict[str, Any]:
        """Rebuild the due doses for the logical date; a failed checkpoint fails without retries."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from vaxreg.outputs import due

        ctx = get_current_context()
        try:
            result = due.refresh(_actor("registry refresh (outputs.md §1)"), logical_day(ctx))
        except due.DueCheckFailed as exc:
            raise AirflowFailException(str(exc)) from exc
        summary: Any = result.as_dict()
        ctx["outlet_events"][assets.DUE].extra = summary
        log.info("due doses: %s", summary)
        return summary

    return refresh()


def publish_task(target: str, upstream: Any) -> Any:
    @task(task_id="publish", outlets=[assets.OUTBOUND[target]])
    def publish(refreshed: dict[str, Any]) -> list[dict[str, Any]]:
        """Publish the output once (a crash is finished by the next run); a name held by another
        file fails without retries (runbook: outbound file conflict)."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from vaxreg import config, outputs
        from vaxreg.registry import db
        from vaxreg.transport import OutboundConflict, open_source

        ctx = get_current_context()
        try:
            with open_source(config.source_url()) as src:
                names = outputs.publisher(target)(src, _actor(f"publish {target}"), logical_day(ctx))
        except OutboundConflict as exc:
            raise AirflowFailException(str(exc)) from exc
        with db.transaction() as conn:
            m = db.mark(conn)
            sql = f"SELECT rows FROM outbound_files WHERE file_name = {m}"
            files: Any = [
                {"file": n, "rows": int(conn.exec_driver_sql(sql, (n,)).scalar() or 0)} for n in names
            ]
        ctx["outlet_events"][assets.OUTBOUND[target]].extra = {"files": files, "as_of": refreshed["as_of"]}
        log.info("%s: %s", target, files or "nothing new")
        return files

    return publish(upstream)
