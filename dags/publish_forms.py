"""
### publish_forms — pre-examination forms (予診票, outputs.md §2)

Monthly on the 1st at 06:00 JST, and on manual trigger.

* **refresh**: the due doses on the logical date (as `registry_refresh`).
* **publish**: `inbox/forms/YOSHIN_YYYYMM.csv` (+ `.done`), UTF-8 with BOM, CRLF, exactly
  once: the forms whose window opens within the month plus the vaccine's lead time (the
  infant series at birth registration, B class in April), every open window never sent
  (move-ins), the reissues staff asked for (`vaxreg forms reissue`); recorded in the form
  ledger `forms_issued` with one audit record per person. Emits `outbound.forms` with the
  file name and rows as the event's extra. A second run of the month writes nothing new.

Same functions as `vaxreg publish forms --source URL --date DATE`.
Runbook: `docs/runbook.md#publish_forms`.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, dag

from vaxreg.dagtasks.defaults import START, TIMEZONE, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.due import publish_task, refresh_task


@dag(
    dag_id="publish_forms",
    description="Monthly pre-examination forms (予診票) for the due doses: refresh, then publish once",
    schedule=CronTriggerTimetable("0 6 1 * *", timezone=TIMEZONE),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout("publish_forms"),
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "output:forms", "monthly"],
    doc_md=__doc__,
)
def publish_forms() -> None:
    publish_task("forms", refresh_task())


publish_forms()
