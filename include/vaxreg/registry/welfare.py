"""Apply a welfare snapshot (生活保護 SEIHO / 障害者手帳 TECHO, feeds.md §3) as status periods, and
derive from them each person's self-pay class and the 60–64 B-class eligibility.

A snapshot is the full list of the month. Set-based, in the caller's transaction:

* the **guard**: a snapshot with fewer than half the rows of the previous one of its kind, or
  not later than the latest applied month, is refused (:class:`SnapshotRefused`) before
  anything is written;
* every valid row whose values are already open is restated (nothing written); a new or
  changed row opens a period (``first_month`` = the snapshot month); every open period whose
  row is absent or changed is closed from the snapshot month (``closed_month``).

A period stands for its received values: SEIHO 開始日–廃止日, TECHO 交付日–有効期限, and
ends at the first day of ``closed_month`` at the latest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg import identity
from vaxreg.feeds import FileRejected, scrub
from vaxreg.registry import ledger
from vaxreg.registry.db import bulk_insert

KINDS = {"welfare_seiho": "seiho", "welfare_techo": "techo"}
KEYS = {"seiho": ("atena_no",), "techo": ("atena_no", "techo_type")}
VALUES = {
    "seiho": ("atena_no", "case_no", "start_date", "end_date"),
    "techo": ("atena_no", "techo_type", "grade", "part", "issued_date", "expiry_date"),
}
DATES = {"seiho": ("start_date", "end_date"), "techo": ("issued_date", "expiry_date")}
_NONE = np.array(None, dtype=object)  # "no value" in np.where
B_CLASS_PARTS = "HKRI"  # 障害部位 that make a grade-1 身体 holder of 60-64 eligible (vaccines.md)


class SnapshotRefused(FileRejected):
    """A snapshot that must not be applied (shrunken, or older than the latest). One line."""


@dataclasses.dataclass
class Outcome(ledger.Outcome):
    opened: int = 0  # not part of the sum: periods opened and closed by this snapshot
    closed: int = 0


def derived_columns(table: pa.Table, kind: str) -> pa.Table:
    """Wareki dates parsed (``<col>__date``) for the suite."""
    for col in DATES[KINDS[kind]]:
        table = table.append_column(
            f"{col}__date", identity.parse_wareki_dates(table.column(col).combine_chunks())
        )
    return table


def _iso(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col).dt.strftime("%Y-%m-%d")


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def guard(conn: Connection, kind: str, month: str, rows: int, file_name: str) -> None:
    """Refuse a snapshot that is older than the latest applied one, or shrunken (< half the previous)."""
    m = _mark(conn)
    prev = conn.exec_driver_sql(
        f"SELECT month, rows_read, file_name FROM welfare_snapshots WHERE kind = {m} "
        "ORDER BY month DESC LIMIT 1",
        (kind,),
    ).first()
    if prev is None:
        return
    if month <= prev[0]:
        raise SnapshotRefused(
            f"{file_name}: snapshot month {month} is not after the latest applied {prev[0]} ({prev[2]})"
        )
    if rows * 2 < int(prev[1]):
        raise SnapshotRefused(
            f"{file_name}: {rows} rows, fewer than half of the previous snapshot {prev[2]} ({prev[1]} rows); "
            "suspicious export, nothing applied — check with the welfare section, then re-deliver "
            "(see runbook welfare_lists)"
        )


def apply_file(
    conn: Connection,
    staged: pa.Table,
    *,
    kind: str,
    manifest_id: int,
    file_name: str,
    file_date: dt.date,
    rejected: list[tuple[int, str, str]],
    actor: ledger.Actor,
) -> Outcome:
    short = KINDS[kind]
    month = file_date.strftime("%Y%m")
    out = Outcome(rows_read=staged.num_rows + len(rejected))
    guard(conn, short, month, out.rows_read, file_name)
    df = staged.to_pandas()
    n = len(df)
    dup = df["is_duplicate"].to_numpy(dtype=bool)
    reason = np.where((df["reasons"] != "").to_numpy() & ~dup, df["reasons"].to_numpy(), "").astype(object)
    for col in DATES[short]:
        df[col + "_iso"] = _iso(df[f"{col}__date"])
    live = ~dup & (reason == "")

    # Persons must be known to the registry.
    known = _known(conn, df.loc[live, "atena_no"].to_numpy())
    unknown = live & ~df["atena_no"].isin(known).to_numpy()
    reason[unknown] = "atena_no_unknown"
    live &= ~unknown
    # Two different rows for one key: which is right is unknown.
    keys = list(KEYS[short])
    conflict = np.zeros(n, dtype=bool)
    conflict[np.flatnonzero(live)[df.loc[live, keys].duplicated(keep=False).to_numpy()]] = True
    reason[conflict] = "conflicting_records_in_file"
    live &= ~conflict

    values = [c if c not in DATES[short] else c + "_iso" for c in VALUES[short]]
    snap = df.loc[live, ["row_no", *values]].rename(columns={c + "_iso": c for c in DATES[short]})
    table = f"welfare_{short}_periods"
    cols = list(VALUES[short])
    current = pd.DataFrame(
        conn.exec_driver_sql(
            f"SELECT id, {', '.join(f'CAST({c} AS TEXT)' if c in DATES[short] else c for c in cols)} "
            f"FROM {table} WHERE closed_month IS NULL"
        ).fetchall(),
        columns=["id", *cols],
    )
    fill = {c: "" for c in cols}
    a, b = snap.fillna(fill), current.fillna(fill)
    j = a.merge(b, on=cols, how="outer", indicator=True)
    to_open = j[j["_merge"] == "left_only"]
    to_close = j[j["_merge"] == "right_only"]["id"].astype("int64").to_numpy()
    now = ledger.now_text()
    m = _mark(conn)
    if len(to_close):
        conn.exec_driver_sql("CREATE TEMP TABLE tmp_welfare_close (id BIGINT PRIMARY KEY)")
        bulk_insert(conn, "tmp_welfare_close", pa.table({"id": pa.array(to_close, pa.int64())}))
        conn.exec_driver_sql(
            f"UPDATE {table} SET closed_month = {m}, closed_by = {m}, closed_at = {m} "
            "WHERE id IN (SELECT id FROM tmp_welfare_close)",
            (month, manifest_id, now),
        )
        closed_atena = [
            r[0]
            for r in conn.exec_driver_sql(
                f"SELECT atena_no FROM {table} WHERE id IN (SELECT id FROM tmp_welfare_close)"
            ).fetchall()
        ]
        conn.exec_driver_sql("DROP TABLE tmp_welfare_close")
        ledger.write_audit(
            conn,
            actor,
            action="update",
            table_name=table,
            atena_no=closed_atena,
            fields_changed=["closed_month"] * len(closed_atena),
            detail=[f"{file_name} closed from {month}"] * len(closed_atena),
        )
    if len(to_open):
        k = len(to_open)
        data = {c: pa.array(to_open[c].replace("", None), pa.string()) for c in cols}
        data |= {
            "first_month": pa.repeat(pa.scalar(month, pa.string()), k),
            "opened_by": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
            "row_no": pa.array(to_open["row_no"].astype("int64"), pa.int64()),
            "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
        }
        bulk_insert(conn, table, pa.table(data))
        ledger.write_audit(
            conn,
            actor,
            action="insert",
            table_name=table,
            atena_no=to_open["atena_no"].to_numpy(),
            fields_changed=np.full(k, "*", dtype=object),
            detail=(file_name + "#row=" + to_open["row_no"].astype("int64").astype(str)).to_numpy(),
        )

    q = reason != ""
    raws = [
        scrub(json.dumps({c: r[c] for c in VALUES[short]}, ensure_ascii=False, default=str))
        for _, r in df[q].iterrows()
    ]
    ledger.write_quarantine(
        conn,
        feed="welfare",
        file_name=file_name,
        manifest_id=manifest_id,
        row_nos=[int(x) for x in df.loc[q, "row_no"]],
        reasons=list(reason[q]),
        raws=raws,
        rejected=rejected,
    )
    out.quarantined = int(q.sum()) + len(rejected)
    out.duplicates = int(dup.sum())
    out.accepted = int(live.sum())
    out.opened, out.closed = len(to_open), len(to_close)
    conn.exec_driver_sql(
        "INSERT INTO welfare_snapshots "
        "(kind, month, file_name, manifest_id, rows_read, opened, closed, recorded_at) "
        f"VALUES ({', '.join([m] * 8)})",
        (short, month, file_name, manifest_id, out.rows_read, out.opened, out.closed, now),
    )
    return ledger.close_file(conn, actor, file_name, manifest_id, out)


def _known(conn: Connection, atena: np.ndarray) -> set[str]:
    if len(atena) == 0:
        return set()
    conn.exec_driver_sql("CREATE TEMP TABLE tmp_welfare_atena (atena_no VARCHAR(10) PRIMARY KEY)")
    bulk_insert(conn, "tmp_welfare_atena", pa.table({"atena_no": pa.array(pd.unique(atena), pa.string())}))
    found = {
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT p.atena_no FROM persons p JOIN tmp_welfare_atena t ON t.atena_no = p.atena_no"
        ).fetchall()
    }
    conn.exec_driver_sql("DROP TABLE tmp_welfare_atena")
    return found


# --------------------------------------------------------------------------- what the registry derives


def _first_month(conn: Connection, kind: str) -> np.datetime64 | None:
    m = _mark(conn)
    first = conn.exec_driver_sql(
        f"SELECT MIN(month) FROM welfare_snapshots WHERE kind = {m}", (kind,)
    ).scalar()
    return None if first is None else np.datetime64(f"{first[:4]}-{first[4:]}-01", "D")


def _periods_of(conn: Connection, table: str, cols: str, atena: pd.Series) -> pd.DataFrame:
    conn.exec_driver_sql("CREATE TEMP TABLE tmp_welfare_of (atena_no VARCHAR(10) PRIMARY KEY)")
    keys = pd.unique(atena.dropna().astype(str))
    bulk_insert(conn, "tmp_welfare_of", pa.table({"atena_no": pa.array(keys, pa.string())}))
    rows = conn.exec_driver_sql(
        f"SELECT w.atena_no, {cols}, w.first_month, w.closed_month FROM {table} w "
        "JOIN tmp_welfare_of t ON t.atena_no = w.atena_no"
    ).fetchall()
    conn.exec_driver_sql("DROP TABLE tmp_welfare_of")
    return pd.DataFrame(rows)


def _month_start(months: pd.Series, missing: str) -> np.ndarray:
    m = months.fillna(missing).astype(str)
    return pd.to_datetime(m.str[:4] + "-" + m.str[4:] + "-01").to_numpy(dtype="datetime64[D]")


def _covering(
    atena: pd.Series, dates: np.ndarray, periods: pd.DataFrame, start: str, end: str, first: np.datetime64
) -> pd.DataFrame:
    """(i, period row) pairs where the period covers the date of record ``i``: from its start
    (開始日/交付日; for a period first seen after the first snapshot, not before that month)
    to its end (廃止日/有効期限), and before the month it was closed from."""
    recs = pd.DataFrame({"i": np.arange(len(atena)), "atena_no": atena.to_numpy(), "d": dates})
    j = recs.merge(periods, on="atena_no")
    if j.empty:
        return j
    d = j["d"].to_numpy(dtype="datetime64[D]")
    lo = pd.to_datetime(j[start]).to_numpy(dtype="datetime64[D]")
    hi = pd.to_datetime(j[end]).to_numpy(dtype="datetime64[D]")
    seen = _month_start(j["first_month"], "180001")
    lo = np.where(seen > first, np.maximum(lo, seen), lo)
    cut = _month_start(j["closed_month"], "999912")
    ok = (lo <= d) & (np.isnat(hi) | (d <= hi)) & (d < cut)
    return j[ok]


def self_pay_class(conn: Connection, atena_no: pd.Series, dates: np.ndarray) -> pd.Series:
    """自己負担区分 on each date: ``'0'`` exempt (a 生活保護 period covers the date), ``'1'`` ordinary,
    None where the registry cannot tell (no SEIHO snapshot yet, or a date before the first
    snapshot month that no period covers)."""
    out = pd.Series([None] * len(atena_no), index=atena_no.index, dtype=object)
    first = _first_month(conn, "seiho")
    if first is None or len(atena_no) == 0:
        return out
    dates = np.asarray(dates, dtype="datetime64[D]")
    p = _periods_of(
        conn, "welfare_seiho_periods", "CAST(w.start_date AS TEXT), CAST(w.end_date AS TEXT)", atena_no
    )
    exempt = np.zeros(len(atena_no), dtype=bool)
    if not p.empty:
        p.columns = ["atena_no", "start", "end", "first_month", "closed_month"]
        hit = _covering(atena_no.reset_index(drop=True), dates, p, "start", "end", first)
        exempt[hit["i"].to_numpy()] = True
    known = exempt | (dates >= first)
    out[:] = np.where(exempt, "0", np.where(known, "1", _NONE))
    return out


def disability_letters(conn: Connection, atena_no: pd.Series, dates: np.ndarray) -> pd.Series:
    """障害部位 letters (of H, K, R, I) of the grade-1 身体 certificates held on each date: the
    ``disability`` input of :func:`vaxreg.schedule.judge`. ``""`` none; None no data (no TECHO
    snapshot yet, or a date before the first snapshot month that no certificate covers)."""
    out = pd.Series([None] * len(atena_no), index=atena_no.index, dtype=object)
    first = _first_month(conn, "techo")
    if first is None or len(atena_no) == 0:
        return out
    dates = np.asarray(dates, dtype="datetime64[D]")
    p = _periods_of(
        conn,
        "welfare_techo_periods",
        "w.techo_type, w.grade, w.part, CAST(w.issued_date AS TEXT), CAST(w.expiry_date AS TEXT)",
        atena_no,
    )
    letters = np.full(len(atena_no), "", dtype=object)
    covered = np.zeros(len(atena_no), dtype=bool)
    if not p.empty:
        p.columns = [
            "atena_no",
            "techo_type",
            "grade",
            "part",
            "issued",
            "expiry",
            "first_month",
            "closed_month",
        ]
        hit = _covering(atena_no.reset_index(drop=True), dates, p, "issued", "expiry", first)
        covered[hit["i"].to_numpy()] = True
        q = hit[(hit["techo_type"] == "1") & (hit["grade"] == "1") & hit["part"].isin(list(B_CLASS_PARTS))]
        if len(q):
            agg = q.groupby("i")["part"].agg(lambda s: "".join(sorted(set(s))))
            letters[agg.index.to_numpy()] = agg.to_numpy()
    known = covered | (dates >= first)
    out[:] = np.where(known, letters, _NONE)
    return out
