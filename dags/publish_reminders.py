"""
### publish_reminders — reminders to the unvaccinated (未接種者勧奨, outputs.md §3)

Monthly on the 15th at 06:00 JST, and on manual trigger.

* **refresh**: the due doses on the logical date (as `registry_refresh`).
* **publish**: `inbox/reminders/REMINDERS_YYYYMMDD.csv` (+ `.done`), UTF-8 with BOM, CRLF,
  exactly once: residents with an `overdue` dose (`OVERDUE` past the standard age, `CLOSING`
  within 90 days of the window's end), except a reminder for the same dose within 180 days,
  a candidate of an open review item for that vaccine, and a recent move-in whose history
  inquiry is unanswered; recorded in `reminders_sent` with one audit record per person.
  Emits `outbound.reminders` with the file name and rows as the event's extra.

Same functions as `vaxreg publish reminders --source URL --date DATE`.
Runbook: `docs/runbook.md#publish_reminders`.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, dag

from vaxreg.dagtasks.defaults import START, TIMEZONE, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.due import publish_task, refresh_task


@dag(
    dag_id="publish_reminders",
    description="Monthly reminders to the unvaccinated (未接種者勧奨): refresh, then publish once",
    schedule=CronTriggerTimetable("0 6 15 * *", timezone=TIMEZONE),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout("publish_reminders"),
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "output:reminders", "monthly"],
    doc_md=__doc__,
)
def publish_reminders() -> None:
    publish_task("reminders", refresh_task())


publish_reminders()
