"""
### retention_purge — monthly retention purge with logged deletion (保存期間経過データの消去)

Applies the retention policies of `include/vaxreg/data/retention.yaml` (privacy.md P6),
a reviewed data file: per kind of data, a basis (after the event, after resolution,
after death, after removal) and a period. The cut-off of each policy is the run's
**logical date** (Asia/Tokyo) minus the period, never the clock.

* **purge**: one transaction per policy: select the expired keys, delete exactly
  them, write one `deletion_log` row (run, policy, cut-off, counts, SHA-256 of the
  sorted keys; no personal data; never purged) and one audit record. Landing copies
  and staging folders go by the same policies. A living resident is never purged.
  Afterwards PostgreSQL tables that lost rows are vacuumed. In a dry run the task
  reports the same figures and deletes and writes nothing.
* **certificate**: writes the deletion certificate (消去証明) of the run as HTML and
  CSV under `$VAXREG_HOME/retention/<run_id>/` from the deletion log (every attempt
  of the run), with the state of the audit chain. Nothing in a dry run.

A run **triggered by hand is a dry run** unless its `dry_run` param is unticked; the
monthly scheduled run always purges.

Same functions as `vaxreg purge [--dry-run] [--as-of DATE]`.
Runbook: `docs/runbook.md#retention_purge`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.retention import purge_tasks


@dag(
    dag_id="retention_purge",
    description="Monthly retention purge with a deletion certificate; by hand: a dry run unless unticked",
    dagrun_timeout=dagrun_timeout("retention_purge"),
    schedule="0 4 1 * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    params={
        "dry_run": Param(
            True,
            type="boolean",
            description="runs triggered by hand: report what would be deleted, delete nothing "
            "(untick to purge); scheduled runs always purge",
        )
    },
    tags=["vaxreg", "privacy", "monthly"],
    doc_md=__doc__,
)
def retention_purge() -> None:
    purge_tasks()


retention_purge()
