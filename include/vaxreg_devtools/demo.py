"""``make demo``: run every DAG in ``dags/`` with ``airflow dags test`` and print what it did."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Connection

from vaxreg import config
from vaxreg.outputs import exports
from vaxreg.registry import db
from vaxreg_devtools.demo_runs import adopt_run


def dag_ids() -> list[str]:
    """DAG ids in name order, the feeds others reconcile against first (the resident registry:
    clinic and other-ward records are attached to its persons; the welfare lists give the
    clinic fees their self-pay class). Each DAG file is named after
    its DAG (checked by the DAG integrity test)."""
    first = ("resident_diff", "welfare_lists")  # welfare before the clinic fees that use it
    last = (
        "registry_refresh",
        "publish_forms",
        "publish_reminders",
        "prefecture_stats",
    )  # drawn from every feed's data
    ids = sorted(p.stem for p in (config.REPO_ROOT / "dags").glob("*.py") if not p.name.startswith("_"))

    def order(d: str) -> tuple[int, int, str]:
        if d in first:
            return (0, first.index(d), d)
        return (2, last.index(d), d) if d in last else (1, 0, d)

    return sorted(ids, key=order)


def print_stats_files(source_url: str) -> None:
    """Where ``prefecture_stats`` wrote STATS_FY.csv and .html (a file:// source)."""
    if not source_url.startswith("file://"):
        return
    folder = Path(source_url.removeprefix("file://")) / "inbox" / "stats"
    for f in sorted(folder.glob("STATS_*")) if folder.is_dir() else []:
        if not f.name.endswith(".done"):
            print(f"  statistics for the prefecture: {f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--date", required=True, help="logical date of the demo runs")
    args = ap.parse_args()
    logs = config.var_dir() / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"vaxreg demo — registry {db.engine().url.render_as_string(hide_password=True)}")
    print(f"             source   {os.environ.get('VAXREG_SOURCE_URL', config.source_url())}")
    failed = []
    for dag_id in dag_ids():
        started, began = time.monotonic(), dt.datetime.now(dt.UTC)
        log = logs / f"{dag_id}.log"
        with log.open("w") as out:
            rc = subprocess.call(
                [sys.executable, "-m", "airflow", "dags", "test", dag_id, args.date], stdout=out, stderr=out
            )
        # The UI shows the run's real start and its task logs (demo_runs).
        adopt_run(dag_id, began, dt.datetime.now(dt.UTC), log.read_text(encoding="utf-8", errors="replace"))
        state = "success" if rc == 0 else f"FAILED (exit {rc}; log {log})"
        print(f"  airflow dags test {dag_id} {args.date}: {state} in {time.monotonic() - started:.1f} s")
        if rc:
            failed.append(dag_id)
        if dag_id == "history_inquiries":  # the previous municipalities answer (generated replies)
            _replies(args.date)
    print_stats_files(os.environ.get("VAXREG_SOURCE_URL", config.source_url()))
    with db.transaction() as conn:
        print(exports.format_summary(exports.summary(conn)))
        print(exchange_summary(conn))
    return 1 if failed else 0


def _replies(date: str) -> None:
    import datetime as dt
    from pathlib import Path

    from vaxreg_devtools.synth_exchange import write_replies

    root = os.environ.get("VAXREG_SOURCE_URL", config.source_url())
    if root.startswith("file://"):
        done = write_replies(Path(root.removeprefix("file://")), dt.date.fromisoformat(date))
        print(f"  generated replies to the history inquiries: {done}")


def exchange_summary(conn: Connection) -> str:
    """Counts of the exchange with other municipalities (outputs.md §5)."""

    def one(sql: str) -> int:
        return int(conn.exec_driver_sql(sql).scalar_one())

    counts = {
        "integrated numbers held": "SELECT COUNT(*) FROM integrated_numbers WHERE released_date IS NULL",
        "FUKUHON rows sent (A/U/D)": "SELECT COUNT(*) FROM provision_sent",
        "doses waiting for a number": "SELECT COUNT(*) FROM doses d WHERE d.vaccine_code <= '25' "
        "AND d.off_schedule IS NULL AND NOT EXISTS (SELECT 1 FROM integrated_numbers n "
        "WHERE n.atena_no = d.atena_no AND n.released_date IS NULL)",
        "move-ins naming the previous municipality": "SELECT COUNT(*) FROM move_ins",
        "SHOKAI inquiries sent": "SELECT COUNT(*) FROM history_inquiries",
        "inquiries answered": "SELECT COUNT(*) FROM history_inquiries WHERE answered_at IS NOT NULL",
        "prior doses stored": "SELECT COUNT(*) FROM doses WHERE source = 'prior'",
    }
    lines = [f"  {label:<42} {one(sql)}" for label, sql in counts.items()]
    return "\n".join(["exchange with other municipalities (outputs.md §5):", *lines])


if __name__ == "__main__":
    sys.exit(main())
