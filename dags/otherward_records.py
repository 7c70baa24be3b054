"""
### otherward_records — records from other wards (他区接種分), twice a year

Pulls every complete, not-yet-ingested `TAKU_YYYYMM_<ward>.csv` (CP932, Japanese headers,
wareki dates) from `outbox/otherward/` (connection `vaxreg_source`), in name order
(`feeds.md` §5). Runs on 10 April and 10 October at 03:00 JST, and on manual trigger
(`airflow dags trigger otherward_records`) when a ward delivers off-cycle.

* **fetch**: files with a `.done` marker, downloaded to landing, SHA-256 verified;
  checksum mismatch / known name with other bytes refused; applied files skipped.
* **parse**: CP932 → Parquet staging; a row whose bytes do not decode is cut out
  alone (`encoding`), the rest goes on; exact duplicates marked.
* **validate**: GX suite `expectations/otherward_records.json` (wareki dates with
  exact era boundaries, codes, municipality-code check digit, institution code,
  ward of the file name = 接種地コード on every row).
* **load**: per file, one transaction: **reconcile** (宛名番号 attached only when the
  normalised kana, birth date and sex agree; otherwise review with candidates),
  **rule check** (`include/vaxreg/data/schedule_rules.toml`, against the person's
  whole history), store doses (duplicates, corrections with history), 予診のみ
  records, review items, quarantine, fee details, audit log, manifest.
* **fees**: fee details of other-ward records are stored with the file (owed to the
  other ward, `docs/decisions.md`); the task publishes any clinic statement still
  pending, so a failed publication is caught up by either DAG.
* **report**: one summary per file (rows = accepted + quarantined + review +
  duplicates); fails the run without retries when a file was refused; emits the
  `registry.doses` asset with the totals.

Runbook: `docs/runbook.md#otherward_records`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.feed import feed_tasks


@dag(
    dag_id="otherward_records",
    description="Records from other wards (他区接種), twice a year: validate, match, load",
    dagrun_timeout=dagrun_timeout("otherward_records"),
    schedule="0 3 10 4,10 *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "feed:otherward", "semiannual"],
    doc_md=__doc__,
)
def otherward_records() -> None:
    feed_tasks("otherward", changes=("doses",), after_apply=("fees",))


otherward_records()
