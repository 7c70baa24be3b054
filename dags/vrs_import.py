"""
### vrs_import — VRS subjects and records (ワクチン接種記録システム), and the VRS flags

Checks `outbox/vrs/` every day at 04:30 JST (after the resident diff) and on manual
trigger for complete, not-yet-ingested `VRS_SUBJECTS_YYYYMMDD.csv` and
`VRS_RECORDS_YYYYMMDD.csv` (UTF-8 with BOM; `vrs.md`, `feeds.md` §6). The subjects file
of a date is applied before its records file.

* **fetch / parse**: `.done` marker, SHA-256, landing copy; the records file's wide
  layout (one group of eight columns per dose, any number of groups numbered without
  gaps — a gap refuses the file) is unpivoted to one row per dose.
* **validate**: GX suites `expectations/vrs_subjects.json`, `vrs_records.json`
  (voucher: 10 digits or the 18-digit line whose municipality code must agree;
  registration timestamps; dose dates from 2021-02-17 to the file date).
* **load**: per file, one transaction. Subjects: vouchers with history. Records: the
  person of each row (個別宛名番号, else our vouchers, all agreeing; other
  municipalities' vouchers follow the row); unresolvable rows to review with their doses
  intact; doses as vaccine 31 with maker and lot; duplicates add nothing, changed doses
  are corrections with history.
* **flags**: `inbox/vrs/VRS_FLAGS_YYYYMMDD.csv` (+ `.done`) with the move-outs and
  deaths of voucher holders not sent before (a move-out cancelled before is not sent).
* **report**: counts add up (unit: the dose); a refused file fails the run without
  retries; emits the `registry.doses` asset.

Runbook: `docs/runbook.md#vrs_import`.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag

from vaxreg.dagtasks.assets import PERSONS
from vaxreg.dagtasks.defaults import START, TIMEZONE, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.feed import feed_tasks


@dag(
    dag_id="vrs_import",
    description="VRS records and subjects (ワクチン接種記録システム): import, match, flags file back",
    dagrun_timeout=dagrun_timeout("vrs_import"),
    # Daily for files VRS drops ad hoc, and whenever the resident diff changed persons (the flags).
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("30 4 * * *", timezone=TIMEZONE), assets=[PERSONS]
    ),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "feed:vrs", "daily"],
    doc_md=__doc__,
)
def vrs_import() -> None:
    feed_tasks("vrs", changes=("doses",), after_apply=("vrs_flags",))


vrs_import()
