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
from vaxreg.registry import db
from vaxreg.registry.ledger import RESOLUTIONS_PREFIX

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


def publish_statements(
    conn: Connection, source: object, actor: object, feed: str = FEED_WITH_STATEMENT
) -> list[str]:
    """Publish FEES_YYYYMM.csv and its detail for every payment month not yet published.

    Runs inside the caller's transaction: the statement row commits only if both files
    were written; a month already published is never written again (the transport refuses
    to overwrite, and the ``fee_statements`` row says it is done).
    """
    from vaxreg.registry import ledger
    from vaxreg.registry.db import read_table

    # Months not yet published, up to the latest month a regular file was booked to: fees of
    # late review decisions wait for the next regular file's statement (late_file_date).
    mark = db.mark(conn)
    months = [
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT DISTINCT payment_month FROM fee_details WHERE feed = {mark} AND payment_month NOT IN "
            f"(SELECT payment_month FROM fee_statements WHERE feed = {mark}) AND payment_month <= "
            f"(SELECT MAX(payment_month) FROM fee_details WHERE feed = {mark} AND file_name NOT LIKE "
            f"'{RESOLUTIONS_PREFIX}%%') ORDER BY payment_month",
            (feed, feed, feed),
        )
    ]
    published = []
    mark = db.mark(conn)
    for month in months:
        # Only this month's rows, read as columns (COPY on PostgreSQL); the totals come from them.
        detail_table = read_table(
            conn,
            "SELECT institution_code, file_name, row_no, kind, vaccine_code, CAST(service_date AS TEXT), "
            "self_pay_class, self_pay_source, flags, unit_price, self_pay_amount, fee FROM fee_details "
            f"WHERE feed = {mark} AND payment_month = {mark} ORDER BY institution_code, file_name, row_no",
            DETAIL_COLUMNS,
            (feed, month),
            types={c: pa.int64() for c in ("row_no", "unit_price", "self_pay_amount", "fee")},
        )
        detail_table = detail_table.set_column(
            DETAIL_COLUMNS.index("flags"), "flags", pc.fill_null(detail_table.column("flags"), "")
        )
        paying = detail_table.filter(pc.greater(detail_table.column("fee"), 0))
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
        totals = {"count": pc.sum(summary.column("count")).as_py() or 0}
        totals["amount"] = pc.sum(summary.column("amount")).as_py() or 0
        name, sha = outbound.publish(source, "fees", summary, month=month)  # type: ignore[arg-type]
        dname, dsha = outbound.publish(source, "fees_detail", detail_table, month=month)  # type: ignore[arg-type]
        conn.exec_driver_sql(
            "INSERT INTO fee_statements (feed, payment_month, file_name, sha256, detail_file_name, "
            "detail_sha256, "
            f"institutions, records, amount, run_id, published_at) VALUES ({', '.join([mark] * 11)})",
            (
                feed,
                month,
                name,
                sha,
                dname,
                dsha,
                summary.num_rows,
                totals["count"],
                totals["amount"],
                actor.run_id,  # type: ignore[attr-defined]
                ledger.now_text(),
            ),
        )
        ledger.audit_event(
            conn,
            actor,  # type: ignore[arg-type]
            "export",
            "fee_details",
            {
                "file": name,
                "detail": dname,
                "institutions": summary.num_rows,
                "amount": totals["amount"],
            },
        )
        log.info("published %s and %s: %d institution(s)", name, dname, summary.num_rows)
        published.append(name)
    return published


def publish(conn: Connection, source: object, actor: object, day: dt.date) -> list[str]:
    """The statements not yet published (``day`` does not matter: a statement is due when its
    payment month has fee details)."""
    return publish_statements(conn, source, actor)
