"""
### clinic_records — monthly medical-association vaccination records (医師会 接種記録)

Pulls every complete, not-yet-ingested `ISHIKAI_YYYYMM.csv` (CP932, Japanese headers,
wareki dates) from `outbox/clinic/` (connection `vaxreg_source`), in name order
(`feeds.md` §4). Runs on the 5th of each month at 03:00 JST.

* **fetch**: files with a `.done` marker, downloaded to landing, SHA-256 verified;
  checksum mismatch / known name with other bytes refused; applied files skipped.
* **parse**: CP932 → Parquet staging; a row whose bytes do not decode is cut out
  alone (`encoding`), the rest goes on; exact duplicates marked.
* **validate**: GX suite `expectations/clinic_records.json` (wareki dates with
  exact era boundaries, codes, municipality-code check digit, institution code).
* **load**: per file, one transaction: **reconcile** (宛名番号 attached only when the
  normalised kana, birth date and sex agree; otherwise review with candidates),
  **rule check** (`include/vaxreg/data/schedule_rules.toml`, against the person's
  whole history), store doses (duplicates, corrections with history), 予診のみ
  records, review items, quarantine, fee details, audit log, manifest.
* **fees**: publishes `inbox/fees/FEES_YYYYMM.csv` (per institution: count,
  amount) and `FEES_YYYYMM_DETAIL.csv` for every payment month not yet published.
* **report**: one summary per file (rows = accepted + quarantined + review +
  duplicates); fails the run without retries when a file was refused; emits the
  `registry.doses` asset with the totals.

Runbook: `docs/runbook.md#clinic_records`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.feed import feed_tasks


@dag(
    dag_id="clinic_records",
    description="Monthly medical-association vaccination records (医師会): validate, match, load",
    dagrun_timeout=dagrun_timeout("clinic_records"),
    schedule="0 3 5 * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "feed:clinic", "monthly"],
    doc_md=__doc__,
)
def clinic_records() -> None:
    feed_tasks("clinic", changes=("doses",), after_apply=("fees",))


clinic_records()
