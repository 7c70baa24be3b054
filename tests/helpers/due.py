"""Registry states for the due-doses, forms and reminders tests: generated persons and doses
written straight into ``persons`` and ``doses`` (no feed run needed), and a publication as the
DAG task and ``vaxreg publish`` run it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


CRASHED = 86  # exit status of a child killed at its step


def publish(target: str, db_url: str, source: str, on: str, *, refresh: bool = True) -> list[str]:
    """Refresh the due doses (as the DAG's first task) and publish ``target`` for ``on``."""
    from vaxreg import outputs
    from vaxreg.outputs import due
    from vaxreg.transport import open_source

    who = actor(f"publish-{target}", on)
    if refresh:
        due.refresh(who, day(on), db_url=db_url)
    with open_source(source) as src:
        return outputs.publisher(target)(src, who, day(on), db_url=db_url)


def crash_at(step: str, target: str, db_url: str, source: str, on: str) -> subprocess.CompletedProcess[str]:
    """Publish ``target`` for ``on`` in a child process that dies at ``step`` (no clean-up at all)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "helpers.due", step, target, db_url, source, on],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _child(step: str, target: str, db_url: str, source: str, on: str) -> int:
    from vaxreg.outputs import outbound

    def die(reached: str) -> None:
        if reached == step:
            os._exit(CRASHED)

    outbound.step_hook = die
    publish(target, db_url, source, on, refresh=False)
    return 0


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:]))
