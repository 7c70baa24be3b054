"""Applying the review decisions (privacy.md §Matching): a feed's accepted items, on its next run.

:func:`apply_resolutions` runs at the start of a feed's apply step, even when no file arrived:
the accepted items of the feed become one manifest per original file
(``review-resolutions/<run_id>/<file>``; in the feed's contract order, so that VRS records
resolved by voucher find the holders a subjects decision attaches in the same run), their
received rows are re-staged and re-validated exactly as the feed's parse and validate steps do,
and the feed's own apply step runs on them with the decided person in place of matching. Person
state, dose identity, schedule, fees and audit run as for any row, so an accepted record may
still end quarantined (e.g. a dose after death). The items become ``applied`` (with the
manifest) in the same transaction; an applied item is never applied again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, and_, select, update

from vaxreg import feeds
from vaxreg.quality.validation import validated_table
from vaxreg.registry import ledger
from vaxreg.registry.db import bulk_insert
from vaxreg.registry.schema_doses import review_items
from vaxreg.review.queue import ReviewConflict


@dataclass
class Applied:
    """One resolutions manifest: the accepted items of one original file, applied."""

    name: str
    sha256: str
    manifest_id: int
    items: list[int]
    counts: dict[str, int] = field(default_factory=dict)


def original_file(name: str) -> str:
    """The received file an item came from (an item re-reviewed after a resolution keeps it)."""
    return name.rsplit("/", 1)[-1]


def apply_resolutions(conn: Connection, feed: str, actor: ledger.Actor) -> list[Applied]:
    """Apply the accepted items of ``feed`` in the caller's transaction; one manifest per original
    file. Raises :class:`ReviewConflict` when another run applied any of them first."""
    if not feeds.get(feed).reviews:
        return []
    cols = ["id", "file_name", "manifest_id", "row_no", "raw_row", "resolved_atena_no", "resolved_by"]
    rows = conn.execute(
        select(*(review_items.c[c] for c in cols))
        .where(and_(review_items.c.feed == feed, review_items.c.status == "accepted"))
        .order_by(review_items.c.manifest_id, review_items.c.row_no)
    ).all()
    if not rows:
        return []
    items = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    items["original"] = items["file_name"].map(original_file)
    groups = sorted(items.groupby("original", sort=False), key=lambda g: _order(feed, str(g[0])))
    return [_apply_group(conn, feed, str(original), group, actor) for original, group in groups]


def _order(feed: str, original: str) -> int:
    """The feed's contract order of kinds (stable otherwise): VRS subjects before records, so a
    records row resolved by voucher in the same run finds the holder a subjects decision attaches."""
    f = feeds.get(feed)
    return f.kinds.index(f.kind_for(original))


def _apply_group(
    conn: Connection, feed: str, original: str, group: pd.DataFrame, actor: ledger.Actor
) -> Applied:
    ids = [int(i) for i in group["id"]]
    digest = hashlib.sha256(
        "".join(
            f"{feed}|{i}|{a}|{r}\n"
            for i, a, r in zip(group["id"], group["resolved_atena_no"], group["row_no"], strict=True)
        ).encode()
    ).hexdigest()
    name = f"{ledger.RESOLUTIONS_PREFIX}{actor.run_id}/{original}"
    mid = ledger.record_file(
        conn, feed=feed, file_name=name, sha256=digest, size=0, status="applied", actor=actor
    )
    # First claim the items (row locks on PostgreSQL): a concurrent run that read the same items
    # finds fewer of them 'accepted' and rolls back instead of applying them twice.
    now = ledger.now()
    claimed = conn.execute(
        update(review_items)
        .where(and_(review_items.c.id.in_(ids), review_items.c.status == "accepted"))
        .values(status="applied", applied_at=now, applied_manifest_id=mid)
    ).rowcount
    if claimed != len(ids):
        raise ReviewConflict(f"{name}: review items were applied by another run")

    kind = feeds.get(feed).kind_for(original)
    staged, decided = restage(kind, original, group)
    ctx = feeds.ApplyContext(
        feed=feed,
        kind=kind,
        manifest_id=mid,
        file_name=name,
        file_date=kind.layout.file_date(original),
        actor=actor,
        decided_atena=decided,
    )
    outcome = kind.apply(conn, staged, ctx)
    counts = outcome.as_dict()
    ledger.set_counts(conn, mid, {k: counts[k] for k in ledger.MANIFEST_COUNTS})
    _decided_by(conn, mid, group)
    ledger.write_audit(
        conn,
        actor,
        action="update",
        table_name="review_items",
        atena_no=list(group["resolved_atena_no"]),
        fields_changed=["status,applied_at,applied_manifest_id"] * len(group),
        detail=[
            json.dumps({"item": int(i), "applied": name, "manifest_id": mid}, ensure_ascii=False)
            for i in group["id"]
        ],
    )
    return Applied(name=name, sha256=digest, manifest_id=mid, items=ids, counts=counts)


def _decided_by(conn: Connection, manifest_id: int, group: pd.DataFrame) -> None:
    """What the resolution wrote names who decided it (P5): the feed's apply function named the run;
    this adds the item and its resolver."""
    decided = [
        f"review_item={int(i)} resolved_by={b}"
        for i, b in zip(group["id"], group["resolved_by"], strict=True)
    ]
    conn.exec_driver_sql("CREATE TEMP TABLE tmp_review_decided (row_no INTEGER PRIMARY KEY, decided_by TEXT)")
    bulk_insert(
        conn,
        "tmp_review_decided",
        pa.table(
            {
                "row_no": pa.array(group["row_no"].astype("int64"), pa.int64()),
                "decided_by": pa.array(decided, pa.string()),
            }
        ),
    )
    for table in ("doses", "preliminary_exams", "vrs_subjects"):
        conn.exec_driver_sql(
            f"UPDATE {table} SET decided_by = decided_by || ' ' || (SELECT t.decided_by "
            f"FROM tmp_review_decided t WHERE t.row_no = {table}.row_no) "
            f"WHERE manifest_id = {int(manifest_id)} AND row_no IN (SELECT row_no FROM tmp_review_decided)"
        )
    conn.exec_driver_sql("DROP TABLE tmp_review_decided")


# --------------------------------------------------------------------------- re-staging


def restage(kind: feeds.FileKind, original: str, group: pd.DataFrame) -> tuple[pa.Table, pa.Array]:
    """The items' received rows as the feed's validate step leaves a file (parsed columns, derived
    columns, ``reasons`` from the kind's suite with the original file's date; ``row_no`` the item's,
    ``is_duplicate`` false), and the decided person per staged row."""
    raws = [json.loads(r) for r in group["raw_row"]]
    row_nos = [int(r) for r in group["row_no"]]
    atena = list(group["resolved_atena_no"])
    if kind.restage is not None:
        table, decided = kind.restage(raws, row_nos, atena)
    else:  # one received row per item
        table = pa.table(
            {c: pa.array([_text(r.get(c)) for r in raws], pa.string()) for c in kind.layout.fields}
            | {"row_no": pa.array(row_nos, pa.int32())}
        )
        decided = atena
    table = table.append_column("is_duplicate", pa.array(np.zeros(table.num_rows, dtype=bool)))
    table, _ = validated_table(kind, original, table)
    return table, pa.array(decided, pa.string())


def _text(v: Any) -> str | None:
    """A received value as the CSV reader gives it: text, empty as null."""
    if v is None:
        return None
    s = str(v)
    return s if s != "" else None
