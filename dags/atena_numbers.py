"""
### atena_numbers — integrated numbers for the information-provision network (団体内統合宛名番号)

Pulls every complete, not-yet-ingested `TOGO_YYYYMMDD.csv` from `outbox/atena/` (the common
platform's nightly file, UTF-8; `outputs.md` §5.1). Runs nightly at 02:30 JST, before the
provision copy.

* **fetch / parse / validate**: as every feed; GX suite `expectations/atena.json`
  (seq, 10-digit atena_no, 15-digit integrated_no, event `A`/`D`, event date ≤ file date).
* **load**: per file, one transaction, rows in seq order: an assignment opens a number for the
  person, a release closes it (history kept in `integrated_numbers`); quarantine: unknown
  person, number held by another person, person already holding another number, release of a
  number not held.
* **report**: counts add up; emits the `registry.integrated_numbers` asset (the provision copy
  and the history inquiries are scheduled on it).

The integrated number is never used for matching inside the municipality.

Runbook: `docs/runbook.md#atena_numbers`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.feed import feed_tasks


@dag(
    dag_id="atena_numbers",
    description="Nightly integrated numbers (団体内統合宛名番号) from the common platform: validate, store",
    schedule="30 2 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout("atena_numbers"),
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "feed:atena", "daily", "network"],
    doc_md=__doc__,
)
def atena_numbers() -> None:
    feed_tasks("atena", changes=("integrated_numbers",))


atena_numbers()
