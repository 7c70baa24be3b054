"""History inquiries for move-ins (転入者の接種歴照会, outputs.md §5.3):
``inbox/shokai/SHOKAI_YYYYMMDD.csv`` and the state of the inquiries.

The resident feed records each move-in (event 10) that names the previous municipality
(``move_ins``). A move-in **qualifies** when the person was under 13 on the move-in date, or in an
open routine window then: a woman of 13–16 (HPV), anyone of 65 or more (influenza, COVID-19,
pneumococcal and zoster windows). A qualifying move-in of a person still resident produces one
inquiry, once (``history_inquiries``, unique per move-in); ``inquiry_no`` is the file's date and
a six-digit serial, never reused (one file per date). A person without an integrated number waits,
as in the provision copy, and is asked for once the number arrives.

A reply (feed ``prior``, :mod:`vaxreg.feeds.prior`) closes the inquiry. :func:`unanswered` lists the
inquiries open for more than 60 days (the run's summary); :func:`unanswered_move_ins` gives the
persons the reminders must leave out (outputs.md §3).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.outputs import outbound
from vaxreg.registry import db, ledger
from vaxreg.registry.db import bulk_insert, read_table
from vaxreg.transport import Source

COLUMNS = ("inquiry_no", "integrated_no", "municipality_code", "birth_date")
PURPOSE = "転入者の予防接種歴照会 (history inquiry for a move-in)"
UNANSWERED_DAYS = 60
outbound.register("shokai", outbound.OutboundLayout("shokai", "SHOKAI_{date}.csv", COLUMNS))


def _age_years(birth: pd.Series, on: pd.Series) -> np.ndarray:
    b, d = pd.to_datetime(birth), pd.to_datetime(on)
    before_birthday = (d.dt.month < b.dt.month) | ((d.dt.month == b.dt.month) & (d.dt.day < b.dt.day))
    return (d.dt.year - b.dt.year - before_birthday.astype(int)).to_numpy()


def qualifying(frame: pd.DataFrame) -> np.ndarray:
    """Which move-ins qualify (columns birth_date, move_in_date, sex): under 13, a woman of
    13–16, or 65 and over on the move-in date."""
    age = _age_years(frame["birth_date"], frame["move_in_date"])
    woman = (frame["sex"] == "2").to_numpy()
    return (age < 13) | (woman & (age >= 13) & (age <= 16)) | (age >= 65)


def _pending(conn: Connection) -> pd.DataFrame:
    """Qualifying move-ins of residents with no inquiry yet, with the person's number (or null)."""
    t = read_table(
        conn,
        "SELECT m.id, m.atena_no, CAST(m.move_in_date AS TEXT), m.prev_municipality_code, "
        "CAST(p.birth_date AS TEXT), p.sex, n.integrated_no FROM move_ins m "
        "JOIN persons p ON p.atena_no = m.atena_no AND p.status = 'resident' "
        "LEFT JOIN integrated_numbers n ON n.atena_no = m.atena_no AND n.released_date IS NULL "
        "WHERE NOT EXISTS (SELECT 1 FROM history_inquiries h WHERE h.move_in_id = m.id) ORDER BY m.id",
        ["move_in_id", "atena_no", "move_in_date", "municipality_code", "birth_date", "sex", "integrated_no"],
        types={"move_in_id": pa.int64()},
    ).to_pandas()
    return t[qualifying(t)] if len(t) else t


def publish(source: Source, actor: ledger.Actor, day: dt.date, *, db_url: str | None = None) -> list[str]:
    """``SHOKAI_<day>.csv`` with one row per qualifying move-in not yet asked about whose person
    holds an integrated number; the inquiries recorded in the same unit."""
    stamp = day.strftime("%Y%m%d")
    sent: list[pd.DataFrame] = []

    def build(conn: Connection) -> pa.Table | None:
        p = _pending(conn)
        p = p[p["integrated_no"].notna()].reset_index(drop=True)
        if p.empty:
            return None
        p["inquiry_no"] = [f"{stamp}{i:06d}" for i in range(1, len(p) + 1)]
        sent.append(p)
        return pa.table({c: pa.array(p[c].tolist(), pa.string()) for c in COLUMNS})

    def record(conn: Connection, files: dict[str, outbound.OutboundFile]) -> None:
        p, name, now = sent[-1], files["shokai"].name, ledger.now_text()
        k = len(p)
        bulk_insert(
            conn,
            "history_inquiries",
            pa.table(
                {
                    "inquiry_no": pa.array(p["inquiry_no"], pa.string()),
                    "move_in_id": pa.array(p["move_in_id"], pa.int64()),
                    "atena_no": pa.array(p["atena_no"], pa.string()),
                    "integrated_no": pa.array(p["integrated_no"], pa.string()),
                    "municipality_code": pa.array(p["municipality_code"], pa.string()),
                    "birth_date": pa.array(p["birth_date"], pa.string()),
                    "file_name": pa.repeat(pa.scalar(name, pa.string()), k),
                    "sent_at": pa.repeat(pa.scalar(now, pa.string()), k),
                }
            ),
        )
        ledger.write_audit(
            conn,
            actor,
            action="export",
            table_name="history_inquiries",
            atena_no=p["atena_no"].to_numpy(),
            fields_changed=np.full(k, None, dtype=object),
            detail=(name + " inquiry=" + p["inquiry_no"]).to_numpy(),
        )

    done = outbound.publish_once(source, actor, "shokai", {"date": stamp}, build, record, db_url=db_url)
    return [f.name for f in done]


def unanswered(conn: Connection, as_of: dt.date, days: int = UNANSWERED_DAYS) -> list[str]:
    """Inquiry numbers sent more than ``days`` days before ``as_of`` and not answered."""
    m = db.mark(conn)
    cutoff = (as_of - dt.timedelta(days=days)).isoformat()
    rows = conn.exec_driver_sql(
        "SELECT inquiry_no FROM history_inquiries WHERE answered_at IS NULL "
        f"AND SUBSTR(inquiry_no, 1, 8) < {m} ORDER BY inquiry_no",
        (cutoff.replace("-", ""),),
    ).fetchall()
    return [str(r[0]) for r in rows]


def unanswered_move_ins(conn: Connection, as_of: dt.date, days: int = UNANSWERED_DAYS) -> set[str]:
    """atena_nos of persons who moved in within ``days`` days before ``as_of`` (a move-in that
    named the previous municipality) and whose history inquiry is not answered (not sent yet, or
    sent and unanswered): the reminders leave them out (outputs.md §3)."""
    m = db.mark(conn)
    since = as_of - dt.timedelta(days=days)
    rows = conn.exec_driver_sql(
        "SELECT DISTINCT mi.atena_no FROM move_ins mi "
        f"WHERE mi.move_in_date >= {m} AND mi.move_in_date <= {m} AND NOT EXISTS "
        "(SELECT 1 FROM history_inquiries h WHERE h.move_in_id = mi.id AND h.answered_at IS NOT NULL)",
        (since, as_of) if db.is_postgres(conn) else (since.isoformat(), as_of.isoformat()),
    ).fetchall()
    return {str(r[0]) for r in rows}


def state(conn: Connection, as_of: dt.date | None = None) -> dict[str, object]:
    """The run's summary: qualifying move-ins waiting for a number, open inquiries, and the
    inquiries unanswered past 60 days (their numbers: no personal data)."""
    pending = _pending(conn)
    open_count = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM history_inquiries WHERE answered_at IS NULL"
    ).scalar_one()
    late = unanswered(conn, as_of or dt.date.today())
    return {
        "waiting": int(pending["integrated_no"].isna().sum()) if len(pending) else 0,
        "open": int(open_count),
        "unanswered_over_60_days": late,
    }
