"""The monthly commission-fee statement (委託料): ``inbox/fees/FEES_YYYYMM.csv`` (per institution:
count, amount) and ``FEES_YYYYMM_DETAIL.csv`` (one row per priced record), from the fee details
the vaccination feed stored when it applied each file (priced by :mod:`vaxreg.rules.fees`).

The self-pay class comes from the registry's welfare data when it has any; where it cannot
tell (no SEIHO snapshot yet) the clinic's declaration is used and flagged ``self_pay_declared``
(docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
import logging

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from vaxreg.outputs import outbound
from vaxreg.registry import db, ledger
from vaxreg.registry.db import read_table
from vaxreg.registry.ledger import RESOLUTIONS_PREFIX
from vaxreg.transport import Source

log = logging.getLogger(__name__)

outbound.register(
    "fees", outbound.OutboundLayout("fees", "FEES_{month}.csv", ("institution_code", "count", "amount"))
)
DETAIL_COLUMNS = (
    "institution_code",
    "file",
    "row_no",
    "kind",
    "vaccine_code",
    "service_date",
    "self_pay_class",
    "self_pay_source",
    "flags",
    "unit_price",
    "self_pay_amount",
    "fee",
)
outbound.register("fees_detail", outbound.OutboundLayout("fees", "FEES_{month}_DETAIL.csv", DETAIL_COLUMNS))
FEED_WITH_STATEMENT = "clinic"  # FEES_YYYYMM.csv is the medical association's statement (docs/decisions.md)


KINDS = ("fees", "fees_detail")  # published together, one unit per payment month


def publish(
    source: Source,
    actor: ledger.Actor,
    day: dt.date,
    *,
    db_url: str | None = None,
    feed: str = FEED_WITH_STATEMENT,
) -> list[str]:
    """``FEES_YYYYMM.csv`` and its detail for every payment month not yet published (``day`` does
    not matter: a statement is due when its payment month has fee details).

    Each month is one unit of :func:`outbound.publish_once`: both files and the ``fee_statements``
    row (which later review decisions read to book their fees on the next month) are recorded
    together before either file is written, and a month is never written twice."""
    published = [f.name for f in outbound.complete_pending(source, actor, KINDS, db_url=db_url)]
    with db.transaction(db_url) as conn:
        months = due_months(conn, feed)
    for month in months:
        published += _publish_month(source, actor, feed, month, db_url)
    return published


def _publish_month(
    source: Source, actor: ledger.Actor, feed: str, month: str, db_url: str | None
) -> list[str]:
    totals: dict[str, int] = {}

    def build(conn: Connection) -> dict[str, pa.Table] | None:
        m = db.mark(conn)
        sql = f"SELECT 1 FROM fee_statements WHERE feed = {m} AND payment_month = {m}"
        if conn.exec_driver_sql(sql, (feed, month)).first():
            return None  # recorded by a run that raced this one
        summary, detail = statement_tables(conn, feed, month)
        totals["records"] = pc.sum(summary.column("count")).as_py() or 0
        totals["amount"] = pc.sum(summary.column("amount")).as_py() or 0
        return {"fees": summary, "fees_detail": detail}

    def record(conn: Connection, files: dict[str, outbound.OutboundFile]) -> None:
        _record(conn, actor, feed, month, files, totals)

    done = outbound.publish_once(source, actor, KINDS, {"month": month}, build, record, db_url=db_url)
    return [f.name for f in done]


def due_months(conn: Connection, feed: str) -> list[str]:
    """Payment months with fee details and no statement, up to the latest month a regular file was
    booked to: fees of late review decisions wait for the next regular file's statement
    (late_file_date)."""
    mark = db.mark(conn)
    return [
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT DISTINCT payment_month FROM fee_details WHERE feed = {mark} AND payment_month NOT IN "
            f"(SELECT payment_month FROM fee_statements WHERE feed = {mark}) AND payment_month <= "
            f"(SELECT MAX(payment_month) FROM fee_details WHERE feed = {mark} AND file_name NOT LIKE "
            f"'{RESOLUTIONS_PREFIX}%%') ORDER BY payment_month",
            (feed, feed, feed),
        )
    ]


def statement_tables(conn: Connection, feed: str, month: str) -> tuple[pa.Table, pa.Table]:
    """The statement (per institution: count and amount of paying records) and its detail."""
    mark = db.mark(conn)
    # Only this month's rows, read as columns (COPY on PostgreSQL); the totals come from them.
    detail = read_table(
        conn,
        "SELECT institution_code, file_name, row_no, kind, vaccine_code, CAST(service_date AS TEXT), "
        "self_pay_class, self_pay_source, flags, unit_price, self_pay_amount, fee FROM fee_details "
        f"WHERE feed = {mark} AND payment_month = {mark} ORDER BY institution_code, file_name, row_no",
        DETAIL_COLUMNS,
        (feed, month),
        types={c: pa.int64() for c in ("row_no", "unit_price", "self_pay_amount", "fee")},
    )
    detail = detail.set_column(
        DETAIL_COLUMNS.index("flags"), "flags", pc.fill_null(detail.column("flags"), "")
    )
    paying = detail.filter(pc.greater(detail.column("fee"), 0))
    grouped = (
        paying.group_by("institution_code", use_threads=False)
        .aggregate([("fee", "count"), ("fee", "sum")])
        .sort_by("institution_code")
    )
    summary = pa.table(
        {
            "institution_code": grouped.column("institution_code").cast(pa.string()),
            "count": grouped.column("fee_count").cast(pa.int64()),
            "amount": grouped.column("fee_sum").cast(pa.int64()),
        }
    )
    return summary, detail


def _record(
    conn: Connection,
    actor: ledger.Actor,
    feed: str,
    month: str,
    files: dict[str, outbound.OutboundFile],
    totals: dict[str, int],
) -> None:
    """The ``fee_statements`` row of the month and the export's audit record."""
    s, d = files["fees"], files["fees_detail"]
    mark = db.mark(conn)
    conn.exec_driver_sql(
        "INSERT INTO fee_statements (feed, payment_month, file_name, sha256, detail_file_name, "
        "detail_sha256, "
        f"institutions, records, amount, run_id, published_at) VALUES ({', '.join([mark] * 11)})",
        (
            feed,
            month,
            s.name,
            s.sha256,
            d.name,
            d.sha256,
            s.rows,
            totals["records"],
            totals["amount"],
            actor.run_id,
            ledger.now_text(),
        ),
    )
    ledger.audit_event(
        conn,
        actor,
        "export",
        "fee_details",
        {"file": s.name, "detail": d.name, "institutions": s.rows, "amount": totals["amount"]},
    )
    log.info("prepared %s and %s: %d institution(s)", s.name, d.name, s.rows)
