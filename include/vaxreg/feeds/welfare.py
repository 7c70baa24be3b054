"""Feed ``welfare``: the monthly welfare and disability snapshots (生活保護 ``SEIHO_YYYYMM.csv``,
障害者手帳 ``TECHO_YYYYMM.csv``, CP932, wareki; feeds.md §3), applied as status periods from which
the registry derives the self-pay class and the 60–64 B-class eligibility
(:mod:`vaxreg.registry.welfare`).

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
import re

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.feeds import ApplyContext, Feed, FileKind, feeds_of
from vaxreg.feeds.columns import iso
from vaxreg.feeds.layout import FileRejected, Layout
from vaxreg.feeds.reader import scrub
from vaxreg.identity import dates
from vaxreg.registry import db, ledger
from vaxreg.registry.db import bulk_insert

# 生活保護・障害者手帳 (feeds.md §3): monthly full snapshots, CP932, wareki dates.
SEIHO = Layout(
    feed="welfare",
    kind="welfare_seiho",
    file_pattern=re.compile(r"SEIHO_(?P<date>[0-9]{6})\.csv"),
    columns=("宛名番号", "ケース番号", "開始日", "廃止日"),
    encoding="cp932",
    date_format="%Y%m",
    rename={"宛名番号": "atena_no", "ケース番号": "case_no", "開始日": "start_date", "廃止日": "end_date"},
    optional=("廃止日",),  # feeds.md §3: "optional"
    monthly=True,
)
TECHO = Layout(
    feed="welfare",
    kind="welfare_techo",
    file_pattern=re.compile(r"TECHO_(?P<date>[0-9]{6})\.csv"),
    columns=("宛名番号", "手帳種別", "等級", "障害部位", "交付日", "有効期限"),
    encoding="cp932",
    date_format="%Y%m",
    rename={
        "宛名番号": "atena_no",
        "手帳種別": "techo_type",
        "等級": "grade",
        "障害部位": "part",
        "交付日": "issued_date",
        "有効期限": "expiry_date",
    },
    optional=("障害部位", "有効期限"),  # feeds.md §3: "optional"
    monthly=True,
)

KINDS = {"welfare_seiho": "seiho", "welfare_techo": "techo"}
KEYS = {"seiho": ("atena_no",), "techo": ("atena_no", "techo_type")}
VALUES = {
    "seiho": ("atena_no", "case_no", "start_date", "end_date"),
    "techo": ("atena_no", "techo_type", "grade", "part", "issued_date", "expiry_date"),
}
DATES = {"seiho": ("start_date", "end_date"), "techo": ("issued_date", "expiry_date")}
_NONE = np.array(None, dtype=object)  # "no value" in np.where


class SnapshotRefused(FileRejected):
    """A snapshot that must not be applied (shrunken, or older than the latest). One line."""


@dataclasses.dataclass
class Outcome(ledger.Outcome):
    opened: int = 0  # not part of the sum: periods opened and closed by this snapshot
    closed: int = 0


def derived_columns(table: pa.Table, name: str) -> pa.Table:
    """Wareki dates parsed (``<col>__date``) for the suite."""
    kind = SEIHO.kind if SEIHO.file_pattern.fullmatch(name) else TECHO.kind
    for col in DATES[KINDS[kind]]:
        table = table.append_column(
            f"{col}__date", dates.parse_wareki_dates(table.column(col).combine_chunks())
        )
    return table


def guard(conn: Connection, kind: str, month: str, rows: int, file_name: str) -> None:
    """Refuse a snapshot that is older than the latest applied one, or shrunken (< half the previous)."""
    m = db.mark(conn)
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
    """Apply one validated SEIHO or TECHO snapshot inside the caller's transaction: the guard,
    the rows screened, the periods that changed closed and opened, the snapshot recorded."""
    short = KINDS[kind]
    month = file_date.strftime("%Y%m")
    out = Outcome(rows_read=staged.num_rows + len(rejected))
    guard(conn, short, month, out.rows_read, file_name)
    df = staged.to_pandas()
    dup = df["is_duplicate"].to_numpy(dtype=bool)
    for col in DATES[short]:
        df[col + "_iso"] = iso(df[f"{col}__date"])
    reason, live = _screen_rows(conn, df, short, dup)
    table = f"welfare_{short}_periods"
    to_open, to_close = _changes(conn, df, live, short, table)
    now = ledger.now_text()
    period = _Period(table=table, month=month, manifest_id=manifest_id, file_name=file_name, now=now)
    _close_periods(conn, actor, period, to_close)
    _open_periods(conn, actor, period, to_open, list(VALUES[short]))
    out.duplicates = int(dup.sum())
    out.accepted = int(live.sum())
    out.opened, out.closed = len(to_open), len(to_close)
    _record_snapshot(conn, short, period, out)
    q = reason != ""
    raws = [
        scrub(json.dumps({c: r[c] for c in VALUES[short]}, ensure_ascii=False, default=str))
        for _, r in df[q].iterrows()
    ]
    return ledger.close_file(
        conn,
        actor,
        feed="welfare",
        file_name=file_name,
        manifest_id=manifest_id,
        out=out,
        quarantined=ledger.Quarantined(
            row_nos=[int(x) for x in df.loc[q, "row_no"]], reasons=list(reason[q]), raws=raws
        ),
        rejected=rejected,
    )


def _screen_rows(
    conn: Connection, df: pd.DataFrame, short: str, dup: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (reason codes, ``""`` none; still live): the suite's reasons, then a person the
    registry does not know (``atena_no_unknown``), then two different rows for one key
    (``conflicting_records_in_file``: which is right is unknown). Exact duplicates stay out."""
    n = len(df)
    reason = np.where((df["reasons"] != "").to_numpy() & ~dup, df["reasons"].to_numpy(), "").astype(object)
    live = ~dup & (reason == "")
    known = _known(conn, df.loc[live, "atena_no"].to_numpy())
    unknown = live & ~df["atena_no"].isin(known).to_numpy()
    reason[unknown] = "atena_no_unknown"
    live &= ~unknown
    keys = list(KEYS[short])
    conflict = np.zeros(n, dtype=bool)
    conflict[np.flatnonzero(live)[df.loc[live, keys].duplicated(keep=False).to_numpy()]] = True
    reason[conflict] = "conflicting_records_in_file"
    live &= ~conflict
    return reason, live


def _changes(
    conn: Connection, df: pd.DataFrame, live: np.ndarray, short: str, table: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The snapshot's live rows against the open periods: (rows whose values are not open, to
    open; ids of open periods whose values are not in the snapshot, to close). A row whose
    values are already open is restated: nothing to write."""
    values = [c if c not in DATES[short] else c + "_iso" for c in VALUES[short]]
    snap = df.loc[live, ["row_no", *values]].rename(columns={c + "_iso": c for c in DATES[short]})
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
    return to_open, to_close


@dataclasses.dataclass(frozen=True)
class _Period:
    """Where and when a snapshot writes: the periods table, the snapshot month, the file."""

    table: str
    month: str
    manifest_id: int
    file_name: str
    now: str


def _close_periods(conn: Connection, actor: ledger.Actor, at: _Period, to_close: np.ndarray) -> None:
    """Close the periods ``to_close`` from the snapshot month; one audit record each."""
    if not len(to_close):
        return
    m = db.mark(conn)
    conn.exec_driver_sql("CREATE TEMP TABLE tmp_welfare_close (id BIGINT PRIMARY KEY)")
    bulk_insert(conn, "tmp_welfare_close", pa.table({"id": pa.array(to_close, pa.int64())}))
    conn.exec_driver_sql(
        f"UPDATE {at.table} SET closed_month = {m}, closed_by = {m}, closed_at = {m} "
        "WHERE id IN (SELECT id FROM tmp_welfare_close)",
        (at.month, at.manifest_id, at.now),
    )
    closed_atena = [
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT atena_no FROM {at.table} WHERE id IN (SELECT id FROM tmp_welfare_close)"
        ).fetchall()
    ]
    conn.exec_driver_sql("DROP TABLE tmp_welfare_close")
    ledger.write_audit(
        conn,
        actor,
        action="update",
        table_name=at.table,
        atena_no=closed_atena,
        fields_changed=["closed_month"] * len(closed_atena),
        detail=[f"{at.file_name} closed from {at.month}"] * len(closed_atena),
    )


def _open_periods(
    conn: Connection, actor: ledger.Actor, at: _Period, to_open: pd.DataFrame, cols: list[str]
) -> None:
    """Open a period from the snapshot month for each row ``to_open``; one audit record each."""
    if not len(to_open):
        return
    k = len(to_open)
    data = {c: pa.array(to_open[c].replace("", None), pa.string()) for c in cols}
    data |= {
        "first_month": pa.repeat(pa.scalar(at.month, pa.string()), k),
        "opened_by": pa.repeat(pa.scalar(at.manifest_id, pa.int64()), k),
        "row_no": pa.array(to_open["row_no"].astype("int64"), pa.int64()),
        "recorded_at": pa.repeat(pa.scalar(at.now, pa.string()), k),
    }
    bulk_insert(conn, at.table, pa.table(data))
    ledger.write_audit(
        conn,
        actor,
        action="insert",
        table_name=at.table,
        atena_no=to_open["atena_no"].to_numpy(),
        fields_changed=np.full(k, "*", dtype=object),
        detail=(at.file_name + "#row=" + to_open["row_no"].astype("int64").astype(str)).to_numpy(),
    )


def _record_snapshot(conn: Connection, short: str, at: _Period, out: Outcome) -> None:
    """The snapshot's row in ``welfare_snapshots``: what the guard compares the next one with."""
    m = db.mark(conn)
    conn.exec_driver_sql(
        "INSERT INTO welfare_snapshots "
        "(kind, month, file_name, manifest_id, rows_read, opened, closed, recorded_at) "
        f"VALUES ({', '.join([m] * 8)})",
        (short, at.month, at.file_name, at.manifest_id, out.rows_read, out.opened, out.closed, at.now),
    )


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


def apply(conn: Connection, staged: pa.Table, ctx: ApplyContext) -> Outcome:
    return apply_file(
        conn,
        staged,
        kind=ctx.kind.name,
        manifest_id=ctx.manifest_id,
        file_name=ctx.file_name,
        file_date=ctx.file_date,
        rejected=ctx.rejected,
        actor=ctx.actor,
    )


FEEDS = feeds_of(
    __name__,
    [
        Feed(
            name="welfare",
            purpose=(
                "生活保護・障害者手帳による自己負担区分・B類対象判定 (self-pay class and B-class eligibility)"
            ),
            kinds=tuple(
                FileKind(layout=layout, suite=layout.kind, apply=apply, derive=derived_columns)
                for layout in (SEIHO, TECHO)
            ),
            changes=("welfare",),
            name_pattern=r"(?:SEIHO|TECHO)_(?P<date>[0-9]{6})\.csv",
        )
    ],
)
