"""
### provision_copy — the provision copy (副本) for the intermediate server

Writes `inbox/fukuhon/FUKUHON_YYYYMMDD.csv` (`outputs.md` §5.2): the changes of the valid
routine doses (vaccine codes 01–25, not off-schedule; VRS code 31 never) since the last file,
one row per change: `A` a new dose, `U` a correction, `D` a dose removed, moved to another
person, purged, or whose person's number was released. Columns `op, integrated_no,
vaccine_code, dose_date, product_name` only.

Scheduled whenever doses or integrated numbers changed (the dose feeds and `atena_numbers`
emit those assets); at most one file a day (the file of a date is written once).

* **publish**: exactly once (`outputs/outbound.publish_once`): the sent state per dose and
  version is recorded in the same transaction as the file's ledger row; a file left prepared by
  a crash is completed first.
* **report**: doses waiting for their person's integrated number, copies held.

Runbook: `docs/runbook.md#provision_copy`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.assets import DOSES, INTEGRATED_NUMBERS
from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.outputs import output_tasks


@dag(
    dag_id="provision_copy",
    description="Provision copy (副本) of routine doses for the network: the day's A/U/D changes",
    schedule=(DOSES | INTEGRATED_NUMBERS),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout("provision_copy"),
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "output:fukuhon", "network"],
    doc_md=__doc__,
)
def provision_copy() -> None:
    output_tasks("fukuhon")


provision_copy()
