"""What the registry derives from the welfare status periods (feeds.md §3), for the rule check and
the fees: each person's self-pay class (自己負担区分) and the 障害部位 of grade-1 身体 certificates
that make a 60–64 year-old eligible for B-class vaccines.

A period stands for its received values: SEIHO 開始日–廃止日, TECHO 交付日–有効期限, and ends at
the first day of ``closed_month`` at the latest (the welfare feed opens and closes periods).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.registry import db
from vaxreg.registry.db import bulk_insert

_NONE = np.array(None, dtype=object)  # "no value" in np.where
B_CLASS_PARTS = "HKRI"  # 障害部位 that make a grade-1 身体 holder of 60-64 eligible (vaccines.md)


def _first_month(conn: Connection, kind: str) -> np.datetime64 | None:
    m = db.mark(conn)
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
    ``disability`` input of :func:`vaxreg.rules.check.judge`. ``""`` none; None no data (no TECHO
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
