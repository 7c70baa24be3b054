"""Registry states for the due-doses, forms and reminders tests: generated persons and doses
written straight into ``persons`` and ``doses`` (no feed run needed), and a publication as the
DAG task and ``vaxreg publish`` run it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from vaxreg.registry import db, ledger


@dataclass(frozen=True)
class Person:
    atena_no: str
    birth: str
    sex: str = "1"
    status: str = "resident"
    householder: str = "試験　花子"
    resident_since: str = "2020-01-01"
    valid_from: str = "2020-01-01"
    event_code: str = "10"


def seed_persons(db_url: str, people: list[Person]) -> None:
    n, now = len(people), ledger.now_text()

    def same(value: object, typ: pa.DataType | None = None) -> pa.Array:
        return pa.repeat(pa.scalar(value, typ or pa.string()), n)

    table = pa.table(
        {
            "atena_no": [p.atena_no for p in people],
            "status": [p.status for p in people],
            "name_kanji": [f"試験　{p.atena_no[-3:]}" for p in people],
            "name_kana": [f"シケン　{p.atena_no[-3:]}" for p in people],
            "birth_date": [p.birth for p in people],
            "sex": [p.sex for p in people],
            "household_no": [p.atena_no for p in people],
            "householder_name": [p.householder for p in people],
            "address": same("東京都港区芝1丁目1番1号"),
            "resident_since": [p.resident_since for p in people],
            "removed_date": [None if p.status == "resident" else p.valid_from for p in people],
            "version": same(1, pa.int64()),
            "valid_from": [p.valid_from for p in people],
            "event_code": [p.event_code for p in people],
            "manifest_id": same(0, pa.int64()),
            "seq": pa.array(range(1, n + 1), pa.int64()),
            "decided_by": same("test"),
            "recorded_at": same(now),
        }
    )
    with db.transaction(db_url) as conn:
        db.bulk_insert(conn, "persons", table)


def seed_doses(db_url: str, doses: list[tuple[str, str, str, int, str, str | None]]) -> None:
    """(atena_no, vaccine_code, phase, dose_no, dose_date, off_schedule) rows."""
    n, now = len(doses), ledger.now_text()

    def same(value: object, typ: pa.DataType | None = None) -> pa.Array:
        return pa.repeat(pa.scalar(value, typ or pa.string()), n)

    cols = list(zip(*doses, strict=True))
    table = pa.table(
        {
            "atena_no": list(cols[0]),
            "vaccine_code": list(cols[1]),
            "phase": list(cols[2]),
            "dose_no": pa.array(cols[3], pa.int64()),
            "dose_date": list(cols[4]),
            "institution_code": same("1310300011"),
            "source": same("clinic"),
            "manifest_id": same(0, pa.int64()),
            "row_no": pa.array(range(1, n + 1), pa.int64()),
            "off_schedule": pa.array(cols[5], pa.string()),
            "version": same(1, pa.int64()),
            "decided_by": same("test"),
            "recorded_at": same(now),
        }
    )
    with db.transaction(db_url) as conn:
        db.bulk_insert(conn, "doses", table)


def actor(task: str = "test", day: str = "2026-06-01") -> ledger.Actor:
    return ledger.Actor(dag_id="test", run_id=f"test-{task}-{day}", task_id=task, purpose="test")


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
