"""Feed ``atena``: integrated numbers (団体内統合宛名番号) from the municipality's common platform,
``TOGO_YYYYMMDD.csv`` (UTF-8, BOM allowed; outputs.md §5.1), suite ``expectations/atena.json``.

Each row assigns (``A``) or releases (``D``) a person's integrated number. The numbers live in
their own table (``integrated_numbers``, one row per assignment, ``released_date`` set by the
release): the history of assignments and releases is kept, the number is read by the network
outputs only and never used for matching. Rows apply in ``seq`` order; the registry state is read
once in bulk, the events judged in memory, the changes written in bulk. Quarantined:

* ``atena_no_unknown`` — no such person in the registry;
* ``integrated_no_in_use`` — the number holds for another person;
* ``integrated_no_already_assigned`` — the person holds another number (a release must come first);
* ``integrated_no_not_assigned`` — a release of a number the person does not hold.

An assignment the person already holds is restated (counted as a duplicate, nothing written).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.feeds import ApplyContext, Feed, FileKind, feeds_of
from vaxreg.feeds.columns import drop_table, temp_table
from vaxreg.feeds.layout import Layout
from vaxreg.feeds.reader import scrub
from vaxreg.registry import db, ledger
from vaxreg.registry.db import bulk_insert

ATENA = Layout(
    feed="atena",
    file_pattern=re.compile(r"TOGO_(?P<date>[0-9]{8})\.csv"),
    columns=("seq", "atena_no", "integrated_no", "event", "event_date"),
    encoding="utf-8",
)
PURPOSE = (
    "情報提供ネットワークの団体内統合宛名番号 (integrated numbers for the information-provision network)"
)
COLUMNS = ATENA.columns


def _state(conn: Connection, df: pd.DataFrame) -> tuple[set[str], dict[str, tuple[int, str]], dict[str, str]]:
    """(known persons, open number per person (id, number), holder per open number) of the
    persons and numbers the file names, read in bulk."""
    keys = pa.table({"atena_no": pa.array(pd.unique(df["atena_no"]), pa.string())})
    nos = pa.table({"integrated_no": pa.array(pd.unique(df["integrated_no"]), pa.string())})
    temp_table(conn, "tmp_togo_atena", {"atena_no": "VARCHAR(10)"}, keys)
    temp_table(conn, "tmp_togo_no", {"integrated_no": "VARCHAR(15)"}, nos)
    known = {
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT p.atena_no FROM persons p JOIN tmp_togo_atena t ON t.atena_no = p.atena_no"
        )
    }
    open_rows = conn.exec_driver_sql(
        "SELECT n.id, n.atena_no, n.integrated_no FROM integrated_numbers n WHERE n.released_date IS NULL "
        "AND (n.atena_no IN (SELECT atena_no FROM tmp_togo_atena) "
        "OR n.integrated_no IN (SELECT integrated_no FROM tmp_togo_no))"
    ).fetchall()
    drop_table(conn, "tmp_togo_atena")
    drop_table(conn, "tmp_togo_no")
    held = {str(a): (int(i), str(n)) for i, a, n in open_rows}
    holder = {str(n): str(a) for _, a, n in open_rows}
    return known, held, holder


def _judge(
    df: pd.DataFrame, known: set[str], held: dict[str, tuple[int, str]], holder: dict[str, str]
) -> tuple[np.ndarray, list[tuple[int | None, int | None, int]]]:
    """Walk the live rows in seq order: per row its reason ("" applied, "restated", or a code);
    the assignments to insert (row positions) and the releases (existing ids or row positions of
    assignments of this file, with the releasing row)."""
    reason = np.full(len(df), "", dtype=object)
    opened: dict[str, int] = {}  # atena_no -> row position of an assignment made by this file
    releases: list[tuple[int | None, int | None, int]] = []  # (existing id, opened row pos, row pos)
    for pos, (atena, number, event) in enumerate(
        zip(df["atena_no"], df["integrated_no"], df["event"], strict=True)
    ):
        if atena not in known:
            reason[pos] = "atena_no_unknown"
            continue
        current = held.get(atena)
        if event == "A":
            if current is not None and current[1] == number:
                reason[pos] = "restated"
            elif current is not None:
                reason[pos] = "integrated_no_already_assigned"
            elif holder.get(number, atena) != atena:
                reason[pos] = "integrated_no_in_use"
            else:
                held[atena], holder[number], opened[atena] = (-1, number), atena, pos
        else:
            if current is None or current[1] != number:
                reason[pos] = "integrated_no_not_assigned"
                continue
            if current[0] == -1:
                releases.append((None, opened.pop(atena), pos))
            else:
                releases.append((current[0], None, pos))
            del held[atena], holder[number]
    return reason, releases


def apply(conn: Connection, staged: pa.Table, ctx: ApplyContext) -> ledger.Outcome:
    """Apply one validated TOGO file inside the caller's transaction."""
    df = staged.to_pandas()
    out = ledger.Outcome(rows_read=len(df) + len(ctx.rejected))
    dup = df["is_duplicate"].to_numpy(dtype=bool)
    reason = np.where((df["reasons"] != "").to_numpy() & ~dup, df["reasons"].to_numpy(), "").astype(object)
    live = np.flatnonzero(~dup & (reason == ""))
    cand = (
        df.iloc[live]
        .assign(seq_int=df["seq"].iloc[live].astype("int64"))
        .sort_values("seq_int", kind="stable")
    )
    if len(cand):
        known, held, holder = _state(conn, cand)
        judged, releases = _judge(cand.reset_index(drop=True), known, held, holder)
        reason[cand.index.to_numpy()] = judged
        _write(conn, ctx, cand.reset_index(drop=True), judged, releases)
    restated = reason == "restated"
    reason[restated] = ""
    out.duplicates = int(dup.sum() + restated.sum())
    out.accepted = len(live) - int(restated.sum()) - int((reason[live] != "").sum())
    q = reason != ""
    raws = [
        scrub(json.dumps({c: r[c] for c in COLUMNS}, ensure_ascii=False)) for r in df[q].to_dict("records")
    ]
    return ledger.close_file(
        conn,
        ctx.actor,
        feed="atena",
        file_name=ctx.file_name,
        manifest_id=ctx.manifest_id,
        out=out,
        quarantined=ledger.Quarantined(
            row_nos=[int(x) for x in df.loc[q, "row_no"]], reasons=list(reason[q]), raws=raws
        ),
        rejected=ctx.rejected,
    )


def _write(
    conn: Connection,
    ctx: ApplyContext,
    cand: pd.DataFrame,
    judged: np.ndarray,
    releases: list[tuple[int | None, int | None, int]],
) -> None:
    """The assignments of this file inserted, the releases set, one audit record per event."""
    now = ledger.now_text()
    opened_here = {o for _, o, _ in releases if o is not None}
    applied = np.flatnonzero(judged == "")
    assign = [int(i) for i in applied if cand.at[i, "event"] == "A"]
    a = cand.iloc[assign]
    released_date = {o: cand.at[r, "event_date"] for _, o, r in releases if o is not None}
    released_by = {o: ctx.manifest_id for o in opened_here}
    bulk_insert(
        conn,
        "integrated_numbers",
        pa.table(
            {
                "atena_no": pa.array(a["atena_no"], pa.string()),
                "integrated_no": pa.array(a["integrated_no"], pa.string()),
                "assigned_date": pa.array(a["event_date"], pa.string()),
                "released_date": pa.array([released_date.get(i) for i in assign], pa.string()),
                "assigned_by": pa.repeat(pa.scalar(ctx.manifest_id, pa.int64()), len(a)),
                "released_by": pa.array([released_by.get(i) for i in assign], pa.int64()),
                "recorded_at": pa.repeat(pa.scalar(now, pa.string()), len(a)),
            }
        ),
    )
    existing = [(i, cand.at[r, "event_date"]) for i, _, r in releases if i is not None]
    if existing:
        temp_table(
            conn,
            "tmp_togo_release",
            {"id": "BIGINT", "released_date": "DATE"},
            pa.table(
                {
                    "id": pa.array([i for i, _ in existing], pa.int64()),
                    "released_date": pa.array([d for _, d in existing], pa.string()),
                }
            ),
        )
        m = db.mark(conn)
        conn.exec_driver_sql(
            "UPDATE integrated_numbers SET released_date = (SELECT t.released_date FROM tmp_togo_release t "
            f"WHERE t.id = integrated_numbers.id), released_by = {m} "
            "WHERE id IN (SELECT id FROM tmp_togo_release)",
            (ctx.manifest_id,),
        )
        drop_table(conn, "tmp_togo_release")
    ev = cand.iloc[applied]
    ledger.write_audit(
        conn,
        ctx.actor,
        action="update",
        table_name="integrated_numbers",
        atena_no=ev["atena_no"].to_numpy(),
        fields_changed=np.where(ev["event"] == "A", "assigned", "released").astype(object),
        detail=(ctx.file_name + "#seq=" + ev["seq"] + " event=" + ev["event"]).to_numpy(),
    )


FEEDS = feeds_of(
    __name__,
    [
        Feed(
            name="atena",
            purpose=PURPOSE,
            kinds=(FileKind(layout=ATENA, suite="atena", apply=apply, date_columns=("event_date",)),),
            changes=("integrated_numbers",),
        )
    ],
)
