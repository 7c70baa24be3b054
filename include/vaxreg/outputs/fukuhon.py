"""Provision copy (副本, outputs.md §5.2): ``inbox/fukuhon/FUKUHON_YYYYMMDD.csv``, the changes of
the registry's valid routine doses since the last file, for the intermediate server.

What is sent is the difference between two sets, computed in bulk:

* **due**: every dose with a vaccine code ``01``–``25`` (VRS code 31 and any other non-routine
  code never), not off-schedule, of a person holding an integrated number, at its current
  version;
* **sent**: per dose, the last row of ``provision_sent`` not closed by a D.

A dose due and never sent (or deleted since) goes as ``A``; sent at another version or with other
values as ``U``; sent but no longer due (removed, moved to another person by a review decision,
turned off-schedule, purged with its person, the number released) as ``D`` with the values sent;
sent under another integrated number as ``D`` then ``A``. Each change goes exactly once: the
sent state is written in the same transaction as the file's ledger row
(:func:`vaxreg.outputs.outbound.publish_once`). A dose of a person without a number waits
(:func:`state` counts them) and goes as ``A`` once the number arrives.

The file holds nothing else (no name, no atena_no, no My Number; privacy.md P7).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.outputs import outbound
from vaxreg.registry import db, ledger
from vaxreg.registry.db import bulk_insert, read_table
from vaxreg.transport import Source

COLUMNS = ("op", "integrated_no", "vaccine_code", "dose_date", "product_name")
PRODUCT_CODES = ("04", "05", "13")  # the product name is sent for these vaccines only
ROUTINE_MAX = "25"  # routine vaccine codes are 01–25 (vaccines.md); 31 is not routine
PURPOSE = "情報提供ネットワーク副本登録 (provision copy for the information-provision network)"
outbound.register("fukuhon", outbound.OutboundLayout("fukuhon", "FUKUHON_{date}.csv", COLUMNS))

_VALUES = ["integrated_no", "vaccine_code", "dose_date", "product_name"]
_ROUTINE = f"d.vaccine_code >= '01' AND d.vaccine_code <= '{ROUTINE_MAX}' AND d.off_schedule IS NULL"


def _due(conn: Connection) -> pd.DataFrame:
    """Valid routine doses at their current version, with the person's integrated number or null."""
    return read_table(
        conn,
        "SELECT d.id, d.version, d.atena_no, n.integrated_no, d.vaccine_code, CAST(d.dose_date AS TEXT), "
        "d.product_name FROM doses d LEFT JOIN integrated_numbers n "
        f"ON n.atena_no = d.atena_no AND n.released_date IS NULL WHERE {_ROUTINE}",
        ["dose_id", "version", "atena_no", *_VALUES],
        types={"dose_id": pa.int64(), "version": pa.int64()},
    ).to_pandas()


def _sent(conn: Connection) -> pd.DataFrame:
    """Per dose, the last row sent and not closed by a D."""
    return read_table(
        conn,
        "SELECT s.dose_id, s.version, s.integrated_no, s.vaccine_code, CAST(s.dose_date AS TEXT), "
        "s.product_name FROM provision_sent s WHERE s.closed_at IS NULL AND s.id = "
        "(SELECT MAX(t.id) FROM provision_sent t WHERE t.dose_id = s.dose_id AND t.closed_at IS NULL)",
        ["dose_id", "version", *_VALUES],
        types={"dose_id": pa.int64(), "version": pa.int64()},
    ).to_pandas()


def changes(conn: Connection) -> pd.DataFrame:
    """The rows of the next file: op, dose_id, version, atena_no (None when the dose is gone) and
    the values sent; D rows first."""
    due = _due(conn)
    due["product_name"] = due["product_name"].where(due["vaccine_code"].isin(PRODUCT_CODES), None)
    due = due[due["integrated_no"].notna()]
    sent = _sent(conn)
    j = due.merge(sent, on="dose_id", how="outer", suffixes=("", "_sent"), indicator=True)
    both = j["_merge"] == "both"
    moved = both & (j["integrated_no"] != j["integrated_no_sent"])
    same = np.logical_and.reduce(
        [j[c].fillna("").to_numpy() == j[f"{c}_sent"].fillna("").to_numpy() for c in _VALUES]
    )
    changed = both & ~moved & ~(same & (j["version"] == j["version_sent"]))
    gone = (j["_merge"] == "right_only") | moved
    new = (j["_merge"] == "left_only") | moved
    sent_cols = {f"{c}_sent": c for c in ["version", *_VALUES]}
    d_rows = j.loc[gone, ["dose_id", "atena_no", *sent_cols]].rename(columns=sent_cols).assign(op="D")
    a_rows = j.loc[new, ["dose_id", "atena_no", "version", *_VALUES]].assign(op="A")
    u_rows = j.loc[changed, ["dose_id", "atena_no", "version", *_VALUES]].assign(op="U")
    out = pd.concat([d_rows, u_rows, a_rows], ignore_index=True)
    out["version"] = out["version"].astype("int64")
    return out


def _texts(col: pd.Series) -> pa.Array:
    """Text values, missing ones null."""
    return pa.array(col.astype(object).where(col.notna(), None).tolist(), pa.string())


def state(conn: Connection) -> dict[str, int]:
    """The run's summary: doses waiting for their person's integrated number, copies held."""
    waiting = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM doses d WHERE "
        f"{_ROUTINE} AND NOT EXISTS (SELECT 1 FROM integrated_numbers n "
        "WHERE n.atena_no = d.atena_no AND n.released_date IS NULL)"
    ).scalar_one()
    held = conn.exec_driver_sql(
        "SELECT COUNT(DISTINCT dose_id) FROM provision_sent WHERE closed_at IS NULL"
    ).scalar_one()
    return {"waiting": int(waiting), "held": int(held)}


def publish(source: Source, actor: ledger.Actor, day: dt.date, *, db_url: str | None = None) -> list[str]:
    """``FUKUHON_<day>.csv`` with the changes since the last file, the sent state recorded in the
    same unit. Nothing changed, no file; a day whose file exists already writes nothing new."""
    rows: list[pd.DataFrame] = []

    def build(conn: Connection) -> pa.Table | None:
        ch = changes(conn)
        if ch.empty:
            return None
        rows.append(ch)
        return pa.table({c: _texts(ch[c]) for c in COLUMNS})

    def record(conn: Connection, files: dict[str, outbound.OutboundFile]) -> None:
        _record(conn, actor, rows[-1], files["fukuhon"].name)

    done = outbound.publish_once(
        source, actor, "fukuhon", {"date": day.strftime("%Y%m%d")}, build, record, db_url=db_url
    )
    return [f.name for f in done]


def _record(conn: Connection, actor: ledger.Actor, ch: pd.DataFrame, file_name: str) -> None:
    """The sent state: earlier rows of deleted doses closed, this file's rows added; the audit."""
    now = ledger.now_text()
    deleted = ch.loc[ch["op"] == "D", "dose_id"].drop_duplicates()
    if len(deleted):
        conn.exec_driver_sql("CREATE TEMP TABLE tmp_fukuhon_del (dose_id BIGINT)")
        bulk_insert(conn, "tmp_fukuhon_del", pa.table({"dose_id": pa.array(deleted, pa.int64())}))
        m = db.mark(conn)
        conn.exec_driver_sql(
            f"UPDATE provision_sent SET closed_at = {m} WHERE closed_at IS NULL "
            "AND dose_id IN (SELECT dose_id FROM tmp_fukuhon_del)",
            (now,),
        )
        conn.exec_driver_sql("DROP TABLE tmp_fukuhon_del")
    k = len(ch)
    data: dict[str, Any] = {c: _texts(ch[c]) for c in ("op", *_VALUES)}
    data |= {
        "dose_id": pa.array(ch["dose_id"], pa.int64()),
        "version": pa.array(ch["version"], pa.int64()),
        "file_name": pa.repeat(pa.scalar(file_name, pa.string()), k),
        "sent_at": pa.repeat(pa.scalar(now, pa.string()), k),
        "closed_at": pa.array([now if op == "D" else None for op in ch["op"]], pa.string()),
    }
    bulk_insert(conn, "provision_sent", pa.table(data))
    ledger.write_audit(
        conn,
        actor,
        action="export",
        table_name="provision_sent",
        atena_no=ch["atena_no"].to_numpy(),
        fields_changed=np.full(k, None, dtype=object),
        detail=(file_name + " " + ch["op"] + " dose=" + ch["dose_id"].astype(str)).to_numpy(),
    )
