"""Connections, migrations and the bulk paths into the registry.

Bulk writes go through one function, :func:`bulk_insert`: PostgreSQL ``COPY FROM
STDIN`` fed with CSV that pyarrow writes column by column, SQLite ``executemany``.
Neither issues a statement per row.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import ArgumentError

from vaxreg import config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def engine(url: str | None = None) -> Engine:
    """The engine of ``url``, else of the configured registry (resolved on every call)."""
    return _engine(url or config.database_url())


@cache
def _engine(url: str) -> Engine:
    """One engine per URL per process. SQLite gets WAL and a busy timeout."""
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(eng, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, open transactions, so that DDL such as
            # CREATE TEMP TABLE is inside them too (SQLAlchemy's documented pysqlite recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(eng, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return eng
    try:
        return create_engine(url, pool_pre_ping=True)
    except ValueError:  # e.g. a port that is not a number: never repeat the URL (it may hold a password)
        raise ArgumentError("malformed database URL") from None


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def mark(conn: Connection) -> str:
    """The driver's parameter marker for ``exec_driver_sql``: ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


def upgrade(url: str | None = None, revision: str = "heads") -> str:
    """Create or migrate the registry schema; returns the revision(s) now in force.

    Each concern has its own branch of migrations from the core revision, so the
    target is every head.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line of outcome is enough
    with engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        return ",".join(sorted(MigrationContext.configure(conn).get_current_heads())) or "base"


@contextmanager
def transaction(url: str | None = None) -> Iterator[Connection]:
    """One transaction: commits on success, rolls back on any exception."""
    with engine(url).begin() as conn:
        yield conn


def bulk_insert(conn: Connection, table: str, data: pa.Table, columns: Sequence[str] | None = None) -> int:
    """Insert every row of ``data`` (columns named as in ``table``) in one bulk operation."""
    columns = list(columns or data.column_names)
    data = data.select(columns)
    if data.num_rows == 0:
        return 0
    col_list = ", ".join(columns)
    if is_postgres(conn):
        buf = io.BytesIO()
        pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({col_list}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getbuffer())
    else:
        marks = ", ".join("?" for _ in columns)
        rows = list(zip(*(data.column(c).to_pylist() for c in columns), strict=True))
        conn.exec_driver_sql(f"INSERT INTO {table} ({col_list}) VALUES ({marks})", rows)
    return data.num_rows


def iso_strings(data: pa.Table) -> pa.Table:
    """Dates and timestamps as ISO text, so that both bulk paths store the same values."""
    cols = []
    for field, col in zip(data.schema, data.columns, strict=True):
        if pa.types.is_date(field.type):
            col = col.cast(pa.string())
        elif pa.types.is_timestamp(field.type):
            col = pa.compute.strftime(col, format="%Y-%m-%d %H:%M:%S.%f+00:00")
        cols.append(col)
    return pa.table(cols, names=data.column_names)


def read_table(
    conn: Connection,
    sql: str,
    columns: Sequence[str],
    params: Sequence[Any] = (),
    types: dict[str, pa.DataType] | None = None,
) -> pa.Table:
    """The rows of one SELECT as a pyarrow table (column ``c`` typed ``types[c]``, else text).

    On PostgreSQL ``COPY (…) TO STDOUT`` read by pyarrow's CSV reader (parameters are bound
    client-side by psycopg; ``NULL`` and ``''`` stay distinct); on SQLite one ``fetchall``,
    turned into columns. No Python object per value on PostgreSQL, no row objects either way.
    """
    types = {c: (types or {}).get(c, pa.string()) for c in columns}
    if is_postgres(conn):
        raw = conn.connection.driver_connection
        assert raw is not None
        buf = io.BytesIO()
        with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params or None) as cp:
            while block := cp.read():
                buf.write(block)
        if buf.tell() == 0:
            return pa.table({c: pa.array([], t) for c, t in types.items()})
        buf.seek(0)
        return pacsv.read_csv(
            buf,
            read_options=pacsv.ReadOptions(column_names=list(columns)),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    rows = conn.exec_driver_sql(sql, tuple(params)).fetchall()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return pa.table({c: pa.array(list(v), t) for (c, t), v in zip(types.items(), values, strict=True)})
