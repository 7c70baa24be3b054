"""Commission fees (委託料): the fee table is reviewed data with effective dates
(``data/fees.toml``); this module prices records and publishes the monthly statement.

Fee of one record (vaccines.md §Commission fees): a routine dose earns the unit price,
minus the self-pay amount when the person's self-pay class is 1 (ordinary) on the
vaccination date; a 予診のみ record earns the pre-examination price. Off-schedule,
quarantined and review records earn nothing until resolved. Fees are payable in the
month after the file month (支払月) and summed per institution.

The self-pay class comes from the registry's welfare data (``registry/welfare.py``) when it
has any; where it cannot tell (no SEIHO snapshot yet) the clinic's declaration is used and
flagged ``self_pay_declared`` (docs/decisions.md §19, §31).
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from vaxreg import outbound

log = logging.getLogger(__name__)
FEES_FILE = Path(__file__).parent / "data" / "fees.toml"

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
FEED_WITH_STATEMENT = "clinic"  # FEES_YYYYMM.csv is the medical association's statement (decisions §D12)


@cache
def load_fees(path: Path | None = None) -> pd.DataFrame:
    raw = tomllib.loads((path or FEES_FILE).read_text(encoding="utf-8"))
    rows = [
        {
            "vaccine_code": f["vaccine"],
            "eff_from": np.datetime64(f["from"], "D"),
            "eff_to": np.datetime64(f.get("to", dt.date(9999, 12, 31)), "D"),
            "unit_price": int(f["unit_price"]),
            "preliminary_price": int(f["preliminary_price"]),
            "self_pay": int(f.get("self_pay", 0)),
        }
        for f in raw["fee"]
    ]
    table = pd.DataFrame(rows)
    for code, g in table.groupby("vaccine_code"):
        g = g.sort_values("eff_from")
        if (g["eff_from"].to_numpy()[1:] <= g["eff_to"].to_numpy()[:-1]).any():
            raise ValueError(f"fee table periods overlap for vaccine {code}")
    return table


def payment_month(file_month_end: dt.date) -> str:
    nxt = file_month_end + dt.timedelta(days=1)
    return nxt.strftime("%Y%m")


RESOLUTIONS_PREFIX = "review-resolutions/"  # manifests of applied review decisions (registry/review.py)


def late_file_date(conn: Connection, feed: str, original: dt.date) -> dt.date:
    """The file date that books the fee of a record resolved late (a review decision) to the first
    payment month not yet published: a published statement is never written again, so the fee
    goes on the next one, beside the next regular file's (decisions §40)."""
    latest = conn.exec_driver_sql(
        "SELECT MAX(payment_month) FROM fee_statements WHERE feed = "
        + ("?" if conn.dialect.name == "sqlite" else "%s"),
        (feed,),
    ).scalar()
    if latest is None or payment_month(original) > latest:
        return original
    # The last day of the latest published payment month: its payment month is the next one.
    return (dt.date(int(latest[:4]), int(latest[4:]), 28) + dt.timedelta(days=4)).replace(
        day=1
    ) - dt.timedelta(days=1)


def registry_self_pay_class(conn: Connection, atena_no: pd.Series, dates: np.ndarray) -> pd.Series:
    """The self-pay class derived from the registry's welfare data (生活保護 periods, feeds.md §3):
    '0' exempt, '1' ordinary; None where the registry cannot tell (no SEIHO snapshot yet)."""
    from vaxreg.registry import welfare

    return welfare.self_pay_class(conn, atena_no, dates)


def price(records: pd.DataFrame, fee_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Price records: columns vaccine_code, service_date, kind (dose|preliminary),
    self_pay_class ('0'/'1'), payable (bool: routine and resolved). Adds unit_price,
    self_pay_amount, fee and a ``no_fee_on_date`` flag where the table has no row in force."""
    table = load_fees() if fee_table is None else fee_table
    recs = records.reset_index(drop=True).copy()
    recs["_i"] = np.arange(len(recs))
    m = recs[["_i", "vaccine_code", "service_date"]].merge(table, on="vaccine_code")
    d = m["service_date"].to_numpy(dtype="datetime64[D]")
    m = m[(m["eff_from"].to_numpy() <= d) & (d <= m["eff_to"].to_numpy())].drop_duplicates("_i")
    found = np.zeros(len(recs), dtype=bool)
    found[m["_i"].to_numpy()] = True
    unit = np.zeros(len(recs), dtype=np.int64)
    prelim = np.zeros(len(recs), dtype=np.int64)
    selfpay = np.zeros(len(recs), dtype=np.int64)
    idx = m["_i"].to_numpy()
    unit[idx], prelim[idx], selfpay[idx] = m["unit_price"], m["preliminary_price"], m["self_pay"]
    is_prelim = (recs["kind"] == "preliminary").to_numpy()
    class1 = (recs["self_pay_class"] == "1").to_numpy()
    payable = recs["payable"].to_numpy(dtype=bool)
    recs["unit_price"] = np.where(is_prelim, prelim, unit)
    recs["self_pay_amount"] = np.where(~is_prelim & class1, selfpay, 0)
    recs["fee"] = np.where(payable & found, recs["unit_price"] - recs["self_pay_amount"], 0)
    recs["no_fee_on_date"] = ~found
    return recs.drop(columns="_i")


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
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
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
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
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
