"""
### history_inquiries — history inquiries for move-ins (転入者の接種歴照会)

Writes `inbox/shokai/SHOKAI_YYYYMMDD.csv` (`outputs.md` §5.3): one inquiry, once, per
qualifying move-in (event 10 naming `prev_municipality_code`; under 13, a woman of 13–16, or
65 and over on the move-in date) of a resident holding an integrated number. Columns
`inquiry_no, integrated_no, municipality_code, birth_date` only.

Scheduled whenever `resident_diff` changed persons or `atena_numbers` changed numbers (a
move-in waiting for its number goes once the number arrives); at most one file a day.

* **publish**: exactly once (`outputs/outbound.publish_once`), the inquiries recorded in the
  same transaction as the file's ledger row.
* **report**: move-ins waiting for a number, open inquiries, and the inquiry numbers
  unanswered for more than 60 days (follow them up: runbook).

Replies arrive as the feed `prior` (DAG `prior_records`).

Runbook: `docs/runbook.md#history_inquiries`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.assets import INTEGRATED_NUMBERS, PERSONS
from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.outputs import output_tasks


@dag(
    dag_id="history_inquiries",
    description="History inquiries (接種歴照会) for qualifying move-ins: SHOKAI file to the network",
    schedule=(PERSONS | INTEGRATED_NUMBERS),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout("history_inquiries"),
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "output:shokai", "network"],
    doc_md=__doc__,
)
def history_inquiries() -> None:
    output_tasks("shokai")


history_inquiries()
