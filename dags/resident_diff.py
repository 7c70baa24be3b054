"""
### resident_diff — nightly resident-registry change diff (住民異動差分)

Pulls every complete, not-yet-ingested `JUKI_DIFF_YYYYMMDD.csv` from
`outbox/resident/` (connection `vaxreg_source`), in name order, and applies its
events to the registry (`feeds.md` §2).

* **fetch**: lists files with a `.done` marker, downloads them to the landing
  folder and verifies SHA-256; refuses a checksum mismatch or a known name with
  other bytes; skips what the manifest already holds.
* **parse**: CSV → Parquet staging (pyarrow); My Number replaced by its check
  status; exact duplicates marked; undecodable or malformed rows cut out.
* **validate**: GX suite `expectations/resident_diff.json`; a file-level failure
  (columns, seq) refuses the file, row-level failures become reason codes.
* **apply**: per file, one transaction: events in `seq` order against the
  registry state; history, current state, My Number table, quarantine, audit
  log, manifest.
* **report**: one summary per file (rows = accepted + quarantined + review +
  duplicates); fails the run, without retries, when a file was refused; emits
  the `registry.persons` asset with the totals.

A refused file changes nothing; the files after it wait for the next run.
Runbook: `docs/runbook.md#resident_diff`.
"""

from __future__ import annotations

from airflow.sdk import dag

from vaxreg.dagtasks.defaults import START, dagrun_timeout, default_args, on_dag_failure
from vaxreg.dagtasks.feed import feed_tasks


@dag(
    dag_id="resident_diff",
    description="Nightly resident-registry changes (住民異動差分): fetch, validate, apply to the registry",
    dagrun_timeout=dagrun_timeout("resident_diff"),
    schedule="0 2 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=on_dag_failure(),
    tags=["vaxreg", "feed:resident", "nightly"],
    doc_md=__doc__,
)
def resident_diff() -> None:
    feed_tasks("resident", changes=("persons",))


resident_diff()
