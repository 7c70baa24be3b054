"""
### prior_records — replies to the history inquiries (接種歴照会への回答)

Pulls every complete, not-yet-ingested `KAITO_YYYYMMDD.csv` from `outbox/prior/`
(`outputs.md` §5.3): the doses the previous municipality holds for a move-in we asked about.
Runs daily at 05:00 JST.

* **fetch / parse / validate**: as every feed; GX suite `expectations/prior.json`.
* **load**: per file, one transaction: an unknown inquiry, an integrated number that is not the
  inquiry's person's (or released since) or another municipality than the one asked is
  quarantined; every other row closes its inquiry; its dose is checked like a clinic row
  against the person's whole history (invalid → quarantine; off-schedule kept with its codes)
  and stored with `source=prior`, no fee. A dose already on record is a duplicate.
* **report**: counts add up; emits the `registry.doses` asset (the provision copy follows).

Runbook: `docs/runbook.md#prior_records`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.feed import feed_tasks


@dag(
    dag_id="prior_records",
    description="Replies to history inquiries (KAITO): checked like clinic rows, stored, inquiry closed",
    schedule="0 5 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout("prior_records"),
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "feed:prior", "daily", "network"],
    doc_md=__doc__,
)
def prior_records() -> None:
    feed_tasks("prior", changes=("doses",))


prior_records()
