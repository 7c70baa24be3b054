"""The tasks of the retention purge DAG: purge (or a dry run), then the deletion certificate."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task


def purge_tasks() -> Any:
    @task(multiple_outputs=False)
    def purge(**context: Any) -> dict[str, Any]:
        from vaxreg import config
        from vaxreg.registry import ledger
        from vaxreg.retention import purge as retention

        ti = context["ti"]
        actor = ledger.Actor(
            dag_id=ti.dag_id, run_id=context["run_id"], task_id=ti.task_id, purpose=retention.PURPOSE
        )
        result = retention.purge(
            retention.logical_day(context),
            dry_run=retention.run_is_dry(context["params"]["dry_run"], context["dag_run"].run_type),
            run_id=context["run_id"],
            actor=actor,
            certificate=False,  # the next task writes it, from every attempt of the run
            db_url=config.maintenance_database_url(),  # the owner: vault rows, old audit, VACUUM
        )
        for line in retention.format_result(result).splitlines():
            print(line)
        return {
            "dry_run": result.dry_run,
            "as_of": result.as_of,
            "deleted": sum(p.deleted for p in result.policies),
        }

    @task
    def certificate(summary: dict[str, Any], **context: Any) -> list[str]:
        from vaxreg.retention.certificate import write_certificate

        if summary["dry_run"]:
            print("dry run: no deletion certificate")
            return []
        from vaxreg import config

        paths = write_certificate(context["run_id"], db_url=config.maintenance_database_url())
        print(f"deletion certificate: {', '.join(str(p) for p in paths)}")
        return [str(p) for p in paths]

    summary: Any = purge()  # an XComArg: the dict arrives when the task runs
    return certificate(summary)
