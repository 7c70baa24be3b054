"""Reminders (未接種者勧奨, outputs.md §3): ``inbox/reminders/REMINDERS_YYYYMMDD.csv``, monthly on the
15th, UTF-8 with BOM and CRLF, published exactly once with the reminder ledger ``reminders_sent``.

Residents with an ``overdue`` dose (due doses as last refreshed) of an offered vaccine, except:

1. a reminder for the same vaccine, phase and dose within ``[due] reminder_repeat_days`` (180);
2. a candidate of an open review item for that vaccine (the dose may already exist);
3. a move-in within ``[due] move_in_days`` (60) whose history inquiry is unanswered
   (:func:`awaiting_history`, from the history inquiries of outputs.md §5.3).

``reminder_no`` is ``YYYYMMDD`` + 6 digits, numbered within the day's one file: never reused.
Each person in the file gets one audit record (privacy.md P4).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.outputs import outbound
from vaxreg.outputs.forms import guardian_names
from vaxreg.registry import db, ledger
from vaxreg.rules.table import Rules, default_rules
from vaxreg.transport import Source

COLUMNS = (
    "reminder_no",
    "atena_no",
    "vaccine_code",
    "phase",
    "dose_no",
    "reason",
    "window_end",
    "name_kanji",
    "name_kana",
    "birth_date",
    "guardian_name",
    "address",
)
outbound.register(
    "reminders", outbound.OutboundLayout("reminders", "REMINDERS_{date}.csv", COLUMNS, True, "\r\n")
)
_SLOT = ["atena_no", "vaccine_code", "phase", "dose_no", "cycle"]
_VACCINE_KEYS = ("vaccine_code", "予防接種種別コード")  # where a review item's received row names it


def awaiting_history(conn: Connection, as_of: dt.date, days: int) -> set[str]:
    """atena_no of persons who moved in within ``days`` before ``as_of`` and whose history
    inquiry (転入者の接種歴照会, outputs.md §5.3) is still unanswered (not sent yet, or sent and
    not answered): :func:`vaxreg.outputs.inquiries.unanswered_move_ins`."""
    from vaxreg.outputs.inquiries import unanswered_move_ins

    return unanswered_move_ins(conn, as_of, days)


def in_review(conn: Connection) -> set[tuple[str, str]]:
    """(atena_no, vaccine_code) of every candidate of an open review item naming that vaccine."""
    rows = conn.exec_driver_sql(
        "SELECT candidates, raw_row FROM review_items WHERE status = 'open'"
    ).fetchall()
    out: set[tuple[str, str]] = set()
    for candidates, raw in rows:  # open items are few: the staff's queue
        try:
            received = json.loads(raw or "{}")
        except ValueError:
            received = {}
        vaccine = next((str(received[k]) for k in _VACCINE_KEYS if received.get(k)), None)
        if vaccine is None:
            continue
        out |= {(a, vaccine) for a in (candidates or "").split(";") if a}
    return out


def candidates(conn: Connection, day: dt.date, rules: Rules | None = None) -> pd.DataFrame:
    """The overdue doses to remind on ``day``, the three exclusions applied, with the person."""
    rules = rules or default_rules()
    settings = rules.due
    m = db.mark(conn)
    since = (day - dt.timedelta(days=settings.reminder_repeat_days)).isoformat()
    rows = conn.exec_driver_sql(
        "SELECT d.atena_no, d.vaccine_code, d.phase, d.dose_no, d.cycle, d.reason, "
        "CAST(d.window_end AS TEXT), "
        "p.name_kanji, p.name_kana, CAST(p.birth_date AS TEXT), p.householder_name, p.address "
        "FROM due_doses d JOIN persons p ON p.atena_no = d.atena_no "
        "WHERE p.status = 'resident' AND d.state = 'overdue' AND NOT EXISTS (SELECT 1 FROM reminders_sent r "
        "WHERE r.atena_no = d.atena_no AND r.vaccine_code = d.vaccine_code AND r.phase = d.phase "
        f"AND r.dose_no = d.dose_no AND r.cycle = d.cycle AND r.sent_on > {m})",
        (since,),
    ).fetchall()
    cols = [
        *_SLOT,
        "reason",
        "window_end",
        "name_kanji",
        "name_kana",
        "birth_date",
        "householder_name",
        "address",
    ]
    c = pd.DataFrame(rows, columns=cols)
    offered = c["vaccine_code"].map(lambda v: bool(rules.vaccines.get(v, {}).get("offered", True)))
    c = c[offered.astype(bool).to_numpy()]
    review = in_review(conn)
    if review:
        keys = pd.Series(
            list(zip(c["atena_no"], c["vaccine_code"], strict=True)), index=c.index, dtype=object
        )
        c = c[~keys.isin(review).to_numpy()]
    waiting = awaiting_history(conn, day, settings.move_in_days)
    if waiting:
        c = c[~c["atena_no"].isin(waiting).to_numpy()]
    return c.sort_values(_SLOT, ignore_index=True)


def file_table(reminders: pd.DataFrame, day: dt.date) -> pa.Table:
    k = len(reminders)
    guardian = guardian_names(reminders, day)  # as the forms (outputs.md §3: "as §2")

    def text(col: str) -> pa.Array:
        return pa.array(reminders[col].fillna("").astype(str).to_numpy(dtype=object), pa.string())

    stamp = day.strftime("%Y%m%d")
    return pa.table(
        {
            "reminder_no": pa.array([f"{stamp}{i:06d}" for i in range(1, k + 1)], pa.string()),
            "atena_no": text("atena_no"),
            "vaccine_code": text("vaccine_code"),
            "phase": text("phase"),
            "dose_no": pa.array(
                reminders["dose_no"].astype(int).astype(str).to_numpy(dtype=object), pa.string()
            ),
            "reason": text("reason"),
            "window_end": text("window_end"),
            "name_kanji": text("name_kanji"),
            "name_kana": text("name_kana"),
            "birth_date": text("birth_date"),
            "guardian_name": pa.array(guardian, pa.string()),
            "address": text("address"),
        }
    )


def publish(source: Source, actor: ledger.Actor, day: dt.date, *, db_url: str | None = None) -> list[str]:
    """``REMINDERS_<day>.csv`` once, with the reminder ledger and one audit record per person."""
    built: list[tuple[pd.DataFrame, pa.Table]] = []

    def build(conn: Connection) -> pa.Table | None:
        reminders = candidates(conn, day)
        if reminders.empty:
            return None
        table = file_table(reminders, day)
        built.append((reminders, table))
        return table

    def record(conn: Connection, files: dict[str, outbound.OutboundFile]) -> None:
        reminders, table = built[-1]
        _record(conn, actor, reminders, table, files["reminders"].name, day)

    done = outbound.publish_once(
        source, actor, "reminders", {"date": day.strftime("%Y%m%d")}, build, record, db_url=db_url
    )
    return [f.name for f in done]


def _record(
    conn: Connection, actor: ledger.Actor, reminders: pd.DataFrame, table: pa.Table, name: str, day: dt.date
) -> None:
    k = len(reminders)

    def same(value: object) -> pa.Array:
        return pa.repeat(pa.scalar(value, pa.string()), k)

    db.bulk_insert(
        conn,
        "reminders_sent",
        pa.table(
            {
                "reminder_no": table.column("reminder_no"),
                "atena_no": table.column("atena_no"),
                "vaccine_code": table.column("vaccine_code"),
                "phase": table.column("phase"),
                "dose_no": pa.array(reminders["dose_no"].astype(np.int64), pa.int64()),
                "cycle": pa.array(reminders["cycle"].astype(np.int64), pa.int64()),
                "reason": table.column("reason"),
                "window_end": pa.array(reminders["window_end"].to_numpy(dtype=object), pa.string()),
                "file_name": same(name),
                "sent_on": same(day.isoformat()),
                "run_id": same(actor.run_id),
                "recorded_at": same(ledger.now_text()),
            }
        ),
    )
    per_person = reminders.groupby("atena_no", sort=True).size()
    ledger.write_audit(
        conn,
        actor,
        action="export",
        table_name="reminders_sent",
        atena_no=per_person.index.to_numpy(dtype=object),
        fields_changed=np.full(len(per_person), None, dtype=object),
        detail=np.array([f"{name} reminders={n}" for n in per_person.to_numpy()], dtype=object),
    )
