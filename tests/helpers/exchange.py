"""Registry states and files for the exchange tests (outputs.md §5–§6): generated persons and
doses written straight into the registry, TOGO and KAITO files, and reading the outbound files."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pyarrow as pa

from vaxreg import pipeline
from vaxreg.registry import db, ledger
from vaxreg.transport import open_source

from helpers.resident import deliver

DAY1, DAY2, DAY3 = dt.date(2026, 6, 1), dt.date(2026, 6, 2), dt.date(2026, 6, 3)


def number(atena_no: str) -> str:
    """A generated integrated number (15 digits) for a person."""
    return "9" + atena_no + "0000"


def seed_persons(db_url: str, people: dict[str, tuple[str, str]], status: str = "resident") -> None:
    """Generated persons: atena_no -> (birth_date, sex)."""
    atena = list(people)
    n, now = len(atena), ledger.now_text()

    def same(value: object, typ: pa.DataType | None = None) -> pa.Array:
        return pa.repeat(pa.scalar(value, typ or pa.string()), n)

    with db.transaction(db_url) as conn:
        db.bulk_insert(
            conn,
            "persons",
            pa.table(
                {
                    "atena_no": atena,
                    "status": same(status),
                    "name_kanji": same("試験　花子"),
                    "name_kana": same("シケン　ハナコ"),
                    "birth_date": [people[a][0] for a in atena],
                    "sex": [people[a][1] for a in atena],
                    "household_no": atena,
                    "address": same("東京都港区芝1丁目1番1号"),
                    "version": same(1, pa.int64()),
                    "valid_from": same("2026-04-01"),
                    "event_code": same("10"),
                    "manifest_id": same(0, pa.int64()),
                    "seq": pa.array(range(1, n + 1), pa.int64()),
                    "decided_by": same("test"),
                    "recorded_at": same(now),
                }
            ),
        )


def seed_doses(
    db_url: str, doses: list[tuple[str, str, str, int, str, str | None]], source: str = "clinic"
) -> None:
    """Doses written as stored: (atena_no, vaccine, phase, dose_no, date, off_schedule or None)."""
    n, now = len(doses), ledger.now_text()

    def same(value: object, typ: pa.DataType | None = None) -> pa.Array:
        return pa.repeat(pa.scalar(value, typ or pa.string()), n)

    with db.transaction(db_url) as conn:
        db.bulk_insert(
            conn,
            "doses",
            pa.table(
                {
                    "atena_no": [d[0] for d in doses],
                    "vaccine_code": [d[1] for d in doses],
                    "phase": [d[2] for d in doses],
                    "dose_no": pa.array([d[3] for d in doses], pa.int64()),
                    "dose_date": [d[4] for d in doses],
                    "product_name": same("製品"),
                    "lot_no": same("L1"),
                    "source": same(source),
                    "manifest_id": same(0, pa.int64()),
                    "row_no": pa.array(range(1, n + 1), pa.int64()),
                    "off_schedule": pa.array([d[5] for d in doses], pa.string()),
                    "version": same(1, pa.int64()),
                    "decided_by": same("test"),
                    "recorded_at": same(now),
                }
            ),
        )


def togo_csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    """TOGO rows (atena_no, integrated_no, event, event_date); seq follows the list."""
    lines = ["seq,atena_no,integrated_no,event,event_date"]
    lines += [f"{i},{a},{n},{e},{d}" for i, (a, n, e, d) in enumerate(rows, start=1)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def kaito_csv(rows: list[dict[str, str]]) -> bytes:
    cols = ["inquiry_no", "integrated_no", "municipality_code", "vaccine_code", "phase", "dose_no"]
    cols += ["dose_date", "product_name"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def run(feed: str, root: Path, db_url: str, name: str, data: bytes) -> list[dict]:
    deliver(root, name, data, feed=feed)
    actor = pipeline.make_actor(feed, run_id=f"test-{feed}", task_id="test")
    return pipeline.report(pipeline.run_feed(feed, actor, source_url=f"file://{root}", db_url=db_url))


def publish(target: str, root: Path, db_url: str, day: dt.date) -> list[str]:
    from vaxreg import outputs

    actor = ledger.Actor(
        dag_id="test", run_id=f"test-{day}", task_id="publish", purpose=outputs.purpose(target)
    )
    with open_source(f"file://{root}") as src:
        return outputs.publisher(target)(src, actor, day, db_url=db_url)


def read_out(root: Path, target: str, name: str) -> list[dict[str, str]]:
    text = (root / "inbox" / target / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


CRASHED = 86  # exit status of a child killed at its step


def crash_publish(step: str, target: str, db_url: str, root: Path, day: dt.date) -> int:
    """Publish ``target`` in a child process killed (``os._exit``) at ``step`` of
    :data:`vaxreg.outputs.outbound.STEPS`; returns its exit status."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    args = [sys.executable, "-m", "helpers.exchange", step, target, db_url, str(root), day.isoformat()]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False).returncode


def _child(step: str, target: str, db_url: str, root: str, day: str) -> int:
    import os

    from vaxreg.outputs import outbound

    def die(reached: str) -> None:
        if reached == step:
            os._exit(CRASHED)

    outbound.step_hook = die
    publish(target, Path(root), db_url, dt.date.fromisoformat(day))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_child(*sys.argv[1:]))
