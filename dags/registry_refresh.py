"""
### registry_refresh — due doses (接種対象者の抽出, outputs.md §1)

Runs whenever a feed changed persons, doses or welfare periods (the Assets
`registry.persons`, `registry.doses`, `registry.welfare`), and on manual trigger.

* **refresh**: rebuilds `due_doses` for the run's logical date (Asia/Tokyo) from the one
  rule table (`include/vaxreg/data/schedule_rules.toml`), set-based, in one transaction;
  the counts by state pass the Great Expectations checkpoint `expectations/due_doses.json`
  (no `due` for a non-resident, no `done` without a valid dose, every resident child has
  every routine series) or the refresh is rolled back and the task fails without retries.
  Emits `registry.due_doses` with the as-of date and the counts by state as the event's extra.

Same function as `vaxreg refresh [--as-of DATE]`.
Runbook: `docs/runbook.md#registry_refresh`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.assets import DOSES, PERSONS, WELFARE
from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.due import refresh_task


@dag(
    dag_id="registry_refresh",
    description="Due doses per resident (接種対象者), recomputed when persons, doses or welfare change",
    schedule=(PERSONS | DOSES | WELFARE),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout("registry_refresh"),
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "registry", "due"],
    doc_md=__doc__,
)
def registry_refresh() -> None:
    refresh_task()


registry_refresh()
