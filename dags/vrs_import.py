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

import pendulum
from airflow.sdk import Asset, dag, task

from vaxreg import dagkit
from vaxreg.alerts import default_args, failure_notifier

FEED = "vrs"
DOSES = Asset(name="registry.doses", uri="vaxreg://registry/doses", group="vaxreg")
FLAGS = Asset(name="outbound.vrs_flags", uri="vaxreg://outbound/vrs_flags", group="vaxreg")


@dag(
    dag_id="vrs_import",
    schedule="30 4 * * *",
    start_date=pendulum.datetime(2026, 4, 1, tz="Asia/Tokyo"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=[failure_notifier()],
    tags=["vaxreg", "feed:vrs", "daily"],
    doc_md=__doc__,
)
def vrs_import() -> None:
    @task(outlets=[FLAGS])
    def flags(works: list[dict]) -> list[dict]:
        from vaxreg import orchestration

        return orchestration.vrs_flags(FEED, works)

    works = dagkit.fetch_parse_validate(FEED)
    dagkit.report(FEED, flags(dagkit.load(FEED, works)), DOSES)


vrs_import()
