"""VRS flags (feeds.md §7): ``inbox/vrs/VRS_FLAGS_YYYYMMDD.csv``, the move-outs and deaths of
holders of our vouchers not yet sent to VRS (voucher_no, municipality_code, flag, date)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.feeds.layout import home_municipality
from vaxreg.outputs import outbound
from vaxreg.registry import db, ledger
from vaxreg.registry.db import bulk_insert
from vaxreg.transport import Source

FLAGS = {"moved_out": "MOVED_OUT", "deceased": "DECEASED"}
outbound.register(
    "vrs_flags",
    outbound.OutboundLayout(
        "vrs", "VRS_FLAGS_{date}.csv", ("voucher_no", "municipality_code", "flag", "date")
    ),
)


def pending_flags(conn: Connection) -> pd.DataFrame:
    """Move-outs (20, 23) and deaths (21) of holders of our vouchers not yet sent to VRS.

    The person's current state decides: a move-out cancelled (40) before the file is written
    leaves the person resident, so nothing is flagged. One row per voucher of the person."""
    home = home_municipality()
    rows = conn.exec_driver_sql(
        "SELECT s.voucher_no, p.atena_no, p.status, CAST(COALESCE(p.removed_date, p.valid_from) AS TEXT) "
        "FROM persons p JOIN vrs_subjects s ON s.atena_no = p.atena_no "
        f"WHERE s.municipality_code = '{home}' AND p.status IN ('moved_out', 'deceased') "
        "AND NOT EXISTS (SELECT 1 FROM vrs_flags f WHERE f.voucher_no = s.voucher_no "
        "AND f.flag = CASE p.status WHEN 'deceased' THEN 'DECEASED' ELSE 'MOVED_OUT' END "
        "AND f.event_date = COALESCE(p.removed_date, p.valid_from)) "
        "ORDER BY s.voucher_no"
    ).fetchall()
    out = pd.DataFrame(rows, columns=["voucher_no", "atena_no", "status", "date"])
    out["flag"] = out["status"].map(FLAGS)
    return out


def publish(source: Source, actor: ledger.Actor, day: dt.date, *, db_url: str | None = None) -> list[str]:
    """``VRS_FLAGS_<day>.csv`` with the pending flags, recorded in ``vrs_flags`` (one row per flag,
    never sent twice) and ``vrs_flag_files`` in the same unit (:func:`outbound.publish_once`).
    Nothing new, no file; when that day's file exists already, the flags wait for the next day."""
    flags: list[pd.DataFrame] = []

    def build(conn: Connection) -> pa.Table | None:
        pending = pending_flags(conn)
        if pending.empty:
            return None
        flags.append(pending)
        return pa.table(
            {
                "voucher_no": pa.array(pending["voucher_no"], pa.string()),
                "municipality_code": pa.repeat(pa.scalar(home_municipality(), pa.string()), len(pending)),
                "flag": pa.array(pending["flag"], pa.string()),
                "date": pa.array(pending["date"], pa.string()),
            }
        )

    def record(conn: Connection, files: dict[str, outbound.OutboundFile]) -> None:
        _record(conn, actor, flags[-1], files["vrs_flags"])

    day_text = day.strftime("%Y%m%d")
    done = outbound.publish_once(source, actor, "vrs_flags", {"date": day_text}, build, record, db_url=db_url)
    return [f.name for f in done]


def _record(conn: Connection, actor: ledger.Actor, pending: pd.DataFrame, f: outbound.OutboundFile) -> None:
    """The flags as sent in ``f`` (``published_at``: when the file was prepared) and the audit."""
    now = ledger.now_text()
    k = len(pending)
    bulk_insert(
        conn,
        "vrs_flags",
        pa.table(
            {
                "atena_no": pa.array(pending["atena_no"], pa.string()),
                "voucher_no": pa.array(pending["voucher_no"], pa.string()),
                "flag": pa.array(pending["flag"], pa.string()),
                "event_date": pa.array(pending["date"], pa.string()),
                "file_name": pa.repeat(pa.scalar(f.name, pa.string()), k),
                "published_at": pa.repeat(pa.scalar(now, pa.string()), k),
            }
        ),
    )
    m = db.mark(conn)
    conn.exec_driver_sql(
        "INSERT INTO vrs_flag_files (file_name, sha256, rows, run_id, published_at) "
        f"VALUES ({m}, {m}, {m}, {m}, {m})",
        (f.name, f.sha256, k, actor.run_id, now),
    )
    ledger.write_audit(
        conn,
        actor,
        action="export",
        table_name="vrs_flags",
        atena_no=pending["atena_no"].to_numpy(),
        fields_changed=np.full(k, None, dtype=object),
        detail=(f.name + " " + pending["flag"]).to_numpy(),
    )
