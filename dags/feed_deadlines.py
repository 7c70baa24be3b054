"""
### feed_deadlines — monthly files not arrived by their deadline (未着ファイルの検知)

Every morning, checks the monthly feeds' files due so far this month
(`vaxreg.feeds.deadlines.DEADLINES`): the welfare snapshots `SEIHO_YYYYMM.csv` and
`TECHO_YYYYMM.csv` of the month by the 2nd, the clinic records `ISHIKAI_YYYYMM.csv` of the
previous month by the 5th. A file counts as arrived when the registry's manifest knows it
(applied, duplicate or refused) or it is complete in `outbox/<feed>/` (data file and marker,
waiting for its feed's run).

* **check_arrivals**: fails without retries, one line per late file, so the failure mail
  names them; it repeats each morning until the file comes.

Reads the manifest and lists the outbox; writes nothing.
Runbook: `docs/runbook.md#feed_deadlines`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.deadlines import deadline_tasks
from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure


@dag(
    dag_id="feed_deadlines",
    description="Daily check that each monthly feed's file arrived by its deadline; alerts when late",
    dagrun_timeout=dagrun_timeout("feed_deadlines"),
    schedule="0 9 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "monitoring", "daily"],
    doc_md=__doc__,
)
def feed_deadlines() -> None:
    deadline_tasks()


feed_deadlines()
