"""
### prefecture_stats — the yearly statistics for the prefecture (国などへ報告する数値)

Runs on 10 April (JST), after the fiscal year (April–March) has ended and late March files
have arrived, and on demand for any past year (param `fiscal_year`).

* **publish**: `inbox/stats/STATS_FY.csv` (outputs.md §4: per vaccine, phase and dose — doses
  given to residents, off-schedule doses, target persons on 1 October, coverage) and, beside it,
  `STATS_FY.html` (the table and a coverage chart per vaccine, self-contained). Counts only.
  The GX suite `expectations/stats_figures.json` checks the figures first (no negative count,
  coverage within [0, 1], every routine vaccine present): a failure publishes nothing.
  Exactly once: a year already published writes nothing new. A **re-issue** is
  `STATS_FY_vN.csv` (+ `.html`), asked for by triggering with `fiscal_year` and a
  `reissue_reason` (recorded in the audit log and on the page).

Same function as `vaxreg publish stats --source URL --date D [--fiscal-year Y] [--reissue --reason TEXT]`.
Runbook: `docs/runbook.md#prefecture_stats`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.stats import stats_tasks


@dag(
    dag_id="prefecture_stats",
    description="Yearly statistics for the prefecture (STATS_FY): GX-checked, published once",
    schedule="0 6 10 4 *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout("prefecture_stats"),
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    params={
        "fiscal_year": Param(
            None, type=["null", "integer"], description="a past fiscal year (default: the one just ended)"
        ),
        "reissue_reason": Param(
            None, type=["null", "string"], description="set to re-issue a published year as STATS_FY_vN.csv"
        ),
    },
    tags=["vaxreg", "output:stats", "yearly"],
    doc_md=__doc__,
)
def prefecture_stats() -> None:
    stats_tasks()


prefecture_stats()
