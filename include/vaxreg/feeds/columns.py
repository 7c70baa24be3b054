"""Small column helpers the feeds' apply steps share: null-equal comparison, ISO text of dates,
``;``-joined reason codes, and throwaway key tables for set-based joins against the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.registry.db import bulk_insert


def same_values(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality where two missing values are equal."""
    a, b = a.astype(object), b.astype(object)
    return ((a == b).fillna(False) | (a.isna() & b.isna())).to_numpy(dtype=bool)


def iso(col: pd.Series) -> pd.Series:
    """Dates (or timestamps) as ``YYYY-MM-DD`` text."""
    return pd.to_datetime(col).dt.strftime("%Y-%m-%d")


def append_code(codes: np.ndarray, mask: np.ndarray, code: str) -> None:
    """Append ``code`` to the ``;``-joined codes (object array, ``""`` none) of the rows in ``mask``."""
    idx = np.flatnonzero(mask)
    if len(idx):
        cur = codes[idx]
        codes[idx] = np.where(cur == "", code, cur + ";" + code)


def combined(table: pa.Table, name: str) -> pa.Array:
    """The column ``name`` of ``table`` as one array (its chunks combined)."""
    c = table.column(name)
    return c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c


def temp_table(conn: Connection, name: str, columns: dict[str, str], data: pa.Table) -> None:
    """A temporary table of ``columns`` (name → SQL type) filled with ``data`` in one bulk load."""
    cols = ", ".join(f"{c} {t}" for c, t in columns.items())
    conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({cols})")
    bulk_insert(conn, name, data)


def drop_table(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE {name}")
