"""
### welfare_lists — monthly welfare and disability snapshots (生活保護・障害者手帳)

Pulls every complete, not-yet-ingested `SEIHO_YYYYMM.csv` (生活保護受給者) and
`TECHO_YYYYMM.csv` (障害者手帳) from `outbox/welfare/` (CP932, Japanese headers, wareki
dates; `feeds.md` §3), month by month (SEIHO before TECHO). Runs on the 2nd of each
month at 03:00 JST.

* **fetch / parse**: as every feed: `.done` marker, SHA-256, landing copy, CP932 →
  Parquet staging, undecodable lines cut out alone (`encoding`), exact duplicates marked.
* **validate**: GX suites `expectations/welfare_seiho.json`, `welfare_techo.json`
  (wareki with exact era bounds, 開始日 ≤ 廃止日, 等級 per 手帳種別, 障害部位).
* **load**: per file, one transaction: the **shrunken-snapshot guard** (fewer than half
  the rows of the previous snapshot of its kind, or a month not after the latest,
  refuses the file and changes nothing); then status periods: new or changed rows open
  a period from the snapshot month, open periods absent from the snapshot are closed
  from that month; quarantine (unknown person, conflicting rows), audit, manifest.
* **report**: counts add up; a refused snapshot fails the run without retries; emits
  the `registry.welfare` asset.

The registry derives the self-pay class (自己負担区分) and the 60–64 B-class eligibility
(grade-1 身体, 障害部位 H/K/R/I; I for zoster) from these periods for the clinic feeds.

Runbook: `docs/runbook.md#welfare_lists`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.feed import feed_tasks


@dag(
    dag_id="welfare_lists",
    description="Monthly welfare and disability snapshots (生活保護・障害者手帳): status periods",
    dagrun_timeout=dagrun_timeout("welfare_lists"),
    schedule="0 3 2 * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "feed:welfare", "monthly"],
    doc_md=__doc__,
)
def welfare_lists() -> None:
    feed_tasks("welfare", changes=("welfare",))


welfare_lists()
