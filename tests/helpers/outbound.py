"""Registry states and faults for the outbound tests.

* ``seed_flag_holders``: generated voucher holders who moved out or died, written straight into
  ``persons`` and ``vrs_subjects`` (their VRS flags are pending), and ``seed_fee_details``:
  priced records of one payment month (its statement is due) — no feed run needed.
* ``failing_inserts``: a database trigger that makes one table refuse every insert, on SQLite and
  PostgreSQL: a failure at the moment an output records what it sent.
* ``crash_at``: a publication in a child process killed (``os._exit``, no clean-up of any kind) at
  one step of :data:`vaxreg.outputs.outbound.STEPS`. Run this module as a script for the child.
* ``publish`` (what ``vaxreg run`` does after its apply step) and ``assert_published_once``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from vaxreg import pipeline
from vaxreg.registry import db, ledger

from helpers.db import owner_url, rows

HOME = "131032"
CRASHED = 86  # exit status of a child killed at its step
P = [f"10000000{i:02d}" for i in range(1, 10)]  # generated atena_no
DAY, NEXT = "2026-04-14", "2026-04-15"


def voucher(atena_no: str) -> str:
    return "5" + atena_no[1:]


def seed_flag_holders(
    db_url: str, atena_nos: list[str], status: str = "moved_out", on: str = "2026-04-10"
) -> None:
    """Generated persons ``atena_nos`` with ``status`` since ``on``, each holding our voucher."""
    n, now = len(atena_nos), ledger.now_text()

    def same(value: object, typ: pa.DataType | None = None) -> pa.Array:
        return pa.repeat(pa.scalar(value, typ or pa.string()), n)

    persons = pa.table(
        {
            "atena_no": atena_nos,
            "status": same(status),
            "name_kanji": same("試験　太郎"),
            "name_kana": same("シケン　タロウ"),
            "birth_date": same("1950-01-01"),
            "sex": same("1"),
            "household_no": atena_nos,
            "removed_date": same(on),
            "version": same(1, pa.int64()),
            "valid_from": same(on),
            "event_code": same("21" if status == "deceased" else "20"),
            "manifest_id": same(0, pa.int64()),
            "seq": pa.array(range(1, n + 1), pa.int64()),
            "decided_by": same("test"),
            "recorded_at": same(now),
        }
    )
    subjects = pa.table(
        {
            "municipality_code": same(HOME),
            "voucher_no": [voucher(a) for a in atena_nos],
            "atena_no": atena_nos,
            "name_kana": same("シケン　タロウ"),
            "birth_date": same("1950-01-01"),
            "sex": same("1"),
            "manifest_id": same(0, pa.int64()),
            "row_no": pa.array(range(1, n + 1), pa.int64()),
            "version": same(1, pa.int64()),
            "decided_by": same("test"),
            "recorded_at": same(now),
        }
    )
    with db.transaction(db_url) as conn:
        db.bulk_insert(conn, "persons", persons)
        db.bulk_insert(conn, "vrs_subjects", subjects)


def seed_fee_details(db_url: str, month: str, fees: list[int], institution: str = "1310300011") -> None:
    """One clinic file's priced records booked to payment ``month`` (YYYYMM), one per fee."""
    n = len(fees)
    file_month = (dt.date(int(month[:4]), int(month[4:]), 1) - dt.timedelta(days=1)).strftime("%Y%m")

    def same(value: object, typ: pa.DataType | None = None) -> pa.Array:
        return pa.repeat(pa.scalar(value, typ or pa.string()), n)

    table = pa.table(
        {
            "manifest_id": same(int(month), pa.int64()),
            "feed": same("clinic"),
            "file_name": same(f"ISHIKAI_{file_month}.csv"),
            "row_no": pa.array(range(1, n + 1), pa.int64()),
            "institution_code": same(institution),
            "payment_month": same(month),
            "kind": same("dose"),
            "vaccine_code": same("06"),
            "service_date": same(f"{file_month[:4]}-{file_month[4:]}-13"),
            "self_pay_class": same("0"),
            "self_pay_source": same("registry"),
            "unit_price": pa.array(fees, pa.int64()),
            "self_pay_amount": same(0, pa.int64()),
            "fee": pa.array(fees, pa.int64()),
            "recorded_at": same(ledger.now_text()),
        }
    )
    with db.transaction(db_url) as conn:
        db.bulk_insert(conn, "fee_details", table)


def publish(feed: str, db_url: str, source: str, day: str) -> list[str]:
    actor = pipeline.make_actor(feed, run_id=f"test-{day}", task_id="test")
    on = dt.date.fromisoformat(day)
    return pipeline.publish_outputs(feed, actor, day=on, source_url=source, db_url=db_url)


def flags_text(atena_nos: list[str], flag: str = "MOVED_OUT", on: str = "2026-04-10") -> str:
    lines = [f"{voucher(a)},{HOME},{flag},{on}" for a in sorted(atena_nos, key=voucher)]
    return "\n".join(["voucher_no,municipality_code,flag,date", *lines]) + "\n"


def listing(folder: Path) -> list[str]:
    """Everything in the folder, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_published_once(root: Path, db_url: str, name: str, text: str, flagged: list[str]) -> None:
    """One file ``name`` holding ``text``, its marker, nothing else; one ledger row, published,
    bytes cleared; the flags of ``flagged`` recorded once each, in that file, audited once."""
    inbox = root / "inbox" / "vrs"
    assert listing(inbox) == [name, f"{name}.done"]
    data = (inbox / name).read_bytes()
    assert data.decode() == text
    assert (inbox / f"{name}.done").read_text().strip() == hashlib.sha256(data).hexdigest()
    ledger = "SELECT file_name, state, sha256, content IS NULL FROM outbound_files WHERE kind = 'vrs_flags'"
    assert rows(db_url, ledger) == [(name, "published", hashlib.sha256(data).hexdigest(), True)]
    assert rows(db_url, "SELECT file_name, rows FROM vrs_flag_files") == [(name, len(flagged))]
    assert sorted(rows(db_url, "SELECT atena_no, file_name FROM vrs_flags")) == [(a, name) for a in flagged]
    assert sorted(
        rows(db_url, "SELECT atena_no FROM audit_log WHERE action = 'export' AND table_name = 'vrs_flags'")
    ) == [(a,) for a in flagged]


@contextmanager
def failing_inserts(db_url: str, table: str) -> Iterator[None]:
    """Every INSERT into ``table`` fails (a trigger, created by the owner login) until the block ends."""
    with db.transaction(owner_url(db_url)) as conn:
        if db.is_postgres(conn):
            conn.exec_driver_sql(
                "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER injected_failure BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION injected_failure()"
            )
        else:
            conn.exec_driver_sql(
                f"CREATE TRIGGER injected_failure BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
    try:
        yield
    finally:
        with db.transaction(owner_url(db_url)) as conn:
            if db.is_postgres(conn):
                conn.exec_driver_sql(f"DROP TRIGGER injected_failure ON {table}")
                conn.exec_driver_sql("DROP FUNCTION injected_failure()")
            else:
                conn.exec_driver_sql("DROP TRIGGER injected_failure")


def crash_at(
    step: str, feed: str, db_url: str, source_url: str, day: str
) -> subprocess.CompletedProcess[str]:
    """Publish ``feed``'s outputs for ``day`` in a child process that dies at ``step``."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "helpers.outbound", step, feed, db_url, source_url, day],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _child(step: str, feed: str, db_url: str, source_url: str, day: str) -> int:
    from vaxreg.outputs import outbound

    def die(reached: str) -> None:
        if reached == step:
            os._exit(CRASHED)

    outbound.step_hook = die
    actor = pipeline.make_actor(feed, run_id=f"crash-{step}", task_id="test")
    on = dt.date.fromisoformat(day)
    pipeline.publish_outputs(feed, actor, day=on, source_url=source_url, db_url=db_url)
    return 0  # the step was never reached


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:]))
