"""The review queue (privacy.md §Matching): records the pipeline could not attach to a person
without guessing, resolved by a person, applied on the feed's next run.

Life of an item (``review_items.status``)::

    open ──accept(atena_no)──> accepted ──next run of the feed──> applied
      └────reject────────────> rejected   (nothing is applied; resolved for retention)

* :func:`accept` / :func:`reject` resolve an ``open`` item: who (``resolved_by``), when
  (``resolved_at``), why (``resolution_note``) and, for accept, the person decided
  (``resolved_atena_no``), with an audit record (P4), in the caller's transaction.
* :func:`apply_resolutions` runs at the start of a feed's apply step (clinic, otherward, vrs),
  even when no file arrived: the accepted items of the feed become one manifest per original
  file (``review-resolutions/<run_id>/<file>``; VRS subjects files first, so that records
  resolved by voucher find the holders just decided), their received rows are re-staged and
  re-validated exactly as the feed's parse and validate steps do, and the feed's own apply
  function runs on them with the decided person in place of matching. Person state, dose
  identity, schedule, fees and audit run as for any row, so an accepted record may still end
  quarantined (e.g. a dose after death). The items become ``applied`` (with the manifest) in the
  same transaction; an applied item is never applied again.

Listings carry no names (logs and lists identify a person by atena_no); :func:`show_item`
returns the received row and the candidates' demographics, which a person resolving the item needs.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, and_, select, update

from vaxreg import feeds, fees
from vaxreg.registry import ledger
from vaxreg.registry.db import bulk_insert
from vaxreg.registry.schema import persons
from vaxreg.registry.schema_doses import review_items

FEEDS = ("clinic", "otherward", "vrs")  # the feeds whose apply step writes review items
STATUSES = ("open", "accepted", "rejected", "applied")
PURPOSE = "予防接種記録の名寄せ確認 (review of records not attached to a person)"
LIST_COLUMNS = ["id", "feed", "file_name", "row_no", "reasons", "candidates", "recorded_at", "status"]
CANDIDATE_FIELDS = ("atena_no", "name_kana", "birth_date", "sex", "address", "status")
NOTE_MAX = 2000
_ATENA = re.compile(r"[0-9]{10}")


class ReviewError(ValueError):
    """A resolution that cannot be made (unknown item, not open, unknown person). One line, no
    personal data."""


class ReviewConflict(RuntimeError):
    """Another run applied some of the accepted items first: this run's transaction rolls back."""


# --------------------------------------------------------------------------- reading


def list_items(conn: Connection, *, feed: str | None = None, status: str | None = "open") -> pd.DataFrame:
    """Items by id, no names: (id, feed, file_name, row_no, reasons, candidates, recorded_at, status).

    ``status`` None lists every status."""
    if status is not None and status not in STATUSES:
        raise ReviewError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    q = select(*(review_items.c[c] for c in LIST_COLUMNS)).order_by(review_items.c.id)
    if feed is not None:
        q = q.where(review_items.c.feed == feed)
    if status is not None:
        q = q.where(review_items.c.status == status)
    return pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=LIST_COLUMNS)


def _item(conn: Connection, item_id: int, *, lock: bool = False) -> Any:
    q = select(review_items).where(review_items.c.id == item_id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()  # SQLite: BEGIN IMMEDIATE already holds the write lock
    row = conn.execute(q).first()
    if row is None:
        raise ReviewError(f"no review item {item_id}")
    return row


def show_item(conn: Connection, item_id: int) -> dict[str, Any]:
    """The item, its received row (``received``, the JSON the feed kept: names included) and its
    candidates with their registry demographics and the matcher's scores (best first)."""
    row = _item(conn, item_id)
    item = {
        c.name: _plain(row._mapping[c.name]) for c in review_items.c if c.name not in ("raw_row", "scores")
    }
    item["received"] = json.loads(row.raw_row)
    scores = json.loads(row.scores) if row.scores else []
    listed = [a for a in (row.candidates or "").split(";") if a]
    order = [s["atena_no"] for s in scores if s.get("atena_no")]
    order += [a for a in listed if a not in order]
    found = {
        r.atena_no: r
        for r in conn.execute(
            select(*(persons.c[c] for c in CANDIDATE_FIELDS)).where(persons.c.atena_no.in_(order))
        )
    }
    by_atena = {s["atena_no"]: s for s in scores if s.get("atena_no")}
    cands = []
    for a in order:
        p = found.get(a)
        c: dict[str, Any] = {f: (_plain(p._mapping[f]) if p else None) for f in CANDIDATE_FIELDS}
        c["atena_no"] = a
        c["in_registry"] = p is not None
        c["listed"] = a in listed
        s = by_atena.get(a)
        c["weight"] = s.get("weight") if s else None
        c["score"] = {k: v for k, v in s.items() if k not in ("atena_no", "weight")} if s else None
        cands.append(c)
    item["candidates"] = cands
    return item


def _plain(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else v


# --------------------------------------------------------------------------- resolving


def accept(
    conn: Connection, item_id: int, atena_no: str, *, by: str, note: str | None, actor: ledger.Actor
) -> None:
    """Resolve an open item: the record is this person's (any status: a dose before death is
    theirs). Applied on the feed's next run."""
    atena_no = (atena_no or "").strip()
    if not _ATENA.fullmatch(atena_no):
        raise ReviewError("atena_no must be 10 digits")
    row = _item(conn, item_id, lock=True)
    _must_be_open(row)
    if conn.execute(select(persons.c.atena_no).where(persons.c.atena_no == atena_no)).first() is None:
        raise ReviewError("the given atena_no names no person in the registry")
    _resolve(conn, row, "accepted", atena_no, by=by, note=note, actor=actor)


def reject(conn: Connection, item_id: int, *, by: str, note: str | None, actor: ledger.Actor) -> None:
    """Resolve an open item: the record is no one's of the registry (nothing will be applied)."""
    row = _item(conn, item_id, lock=True)
    _must_be_open(row)
    _resolve(conn, row, "rejected", None, by=by, note=note, actor=actor)


def _must_be_open(row: Any) -> None:
    if row.status != "open":
        raise ReviewError(f"review item {row.id} is {row.status}, not open")


def _resolve(
    conn: Connection,
    row: Any,
    status: str,
    atena_no: str | None,
    *,
    by: str,
    note: str | None,
    actor: ledger.Actor,
) -> None:
    by = " ".join((by or "").split())
    if not by:
        raise ReviewError("the resolver (--by) must not be empty")
    # The note is free text: no My Number in it (P3), bounded.
    note = feeds.scrub(note.strip())[:NOTE_MAX] if note and note.strip() else None
    done = conn.execute(
        update(review_items)
        .where(and_(review_items.c.id == row.id, review_items.c.status == "open"))
        .values(
            status=status,
            resolved_at=ledger.now(),
            resolved_by=by,
            resolved_atena_no=atena_no,
            resolution_note=note,
        )
    ).rowcount
    if done != 1:  # resolved by someone else since it was read
        raise ReviewError(f"review item {row.id} is no longer open")
    ledger.write_audit(
        conn,
        actor,
        action="update",
        table_name="review_items",
        atena_no=[atena_no],
        fields_changed=["status,resolved_at,resolved_by,resolved_atena_no,resolution_note"],
        detail=[
            json.dumps(
                {
                    "item": row.id,
                    "decision": status,
                    "by": by,
                    "note": note,
                    "feed": row.feed,
                    "file": row.file_name,
                    "row_no": row.row_no,
                },
                ensure_ascii=False,
                sort_keys=True,
            )
        ],
    )


# --------------------------------------------------------------------------- applying


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
    if feed not in FEEDS:
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
    """VRS subjects before records (stable otherwise): a records row resolved by voucher in the
    same run must find the holder a subjects resolution attaches."""
    return 0 if feeds.layout_for(feed, original).kind == "vrs_subjects" else 1


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
    name = f"{fees.RESOLUTIONS_PREFIX}{actor.run_id}/{original}"
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

    staged, decided = restage(feed, original, group)
    layout = feeds.layout_for(feed, original)
    outcome: ledger.Outcome
    if feed == "vrs":
        from vaxreg.registry import vrs

        apply = vrs.apply_subjects if layout.kind == "vrs_subjects" else vrs.apply_records
        outcome = apply(
            conn,
            staged,
            manifest_id=mid,
            file_name=name,
            rejected=[],
            actor=actor,
            decided_atena=decided,
        )
    else:
        from vaxreg.registry import doses

        outcome = doses.apply_file(
            conn,
            staged,
            feed=feed,
            manifest_id=mid,
            file_name=name,
            file_date=fees.late_file_date(conn, feed, layout.file_date(original)),
            rejected=[],
            actor=actor,
            decided_atena=decided,
        )
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

VRS_DOSE_KEYS = {"dose_date": "dose_date_raw"}  # the staged column -> the key the review row keeps it as


def restage(feed: str, original: str, group: pd.DataFrame) -> tuple[pa.Table, pa.Array]:
    """The items' received rows as the feed's validate step leaves a file (parsed columns, derived
    columns, ``reasons`` from the feed's suite with the original file's date; ``row_no`` the item's,
    ``is_duplicate`` false), and the decided person per staged row."""
    from vaxreg import pipeline

    raws = [json.loads(r) for r in group["raw_row"]]
    row_nos = [int(r) for r in group["row_no"]]
    atena = list(group["resolved_atena_no"])
    layout = feeds.layout_for(feed, original)
    if layout.kind == "vrs_records":
        data: dict[str, list[Any]] = {
            c: [] for c in ("row_no", "dose_no", "atena_given", *feeds.VRS_DOSE_FIELDS)
        }
        decided: list[str] = []
        for raw, row_no, a in zip(raws, row_nos, atena, strict=True):
            for d in raw.get("doses", []):
                data["row_no"].append(row_no)
                data["dose_no"].append(int(d["dose_no"]))
                data["atena_given"].append(_text(raw.get(feeds.VRS_ATENA)))
                for f in feeds.VRS_DOSE_FIELDS:
                    data[f].append(_text(d.get(VRS_DOSE_KEYS.get(f, f))))
                decided.append(a)
        types = {"row_no": pa.int32(), "dose_no": pa.int32()}
        table = pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in data.items()})
    else:  # one received row per item (clinic, other-ward, VRS subjects)
        table = pa.table(
            {c: pa.array([_text(r.get(c)) for r in raws], pa.string()) for c in layout.fields}
            | {"row_no": pa.array(row_nos, pa.int32())}
        )
        decided = atena
    table = table.append_column("is_duplicate", pa.array(np.zeros(table.num_rows, dtype=bool)))
    table, _ = pipeline.validated_table(feed, original, table)
    return table, pa.array(decided, pa.string())


def _text(v: Any) -> str | None:
    """A received value as the CSV reader gives it: text, empty as null."""
    if v is None:
        return None
    s = str(v)
    return s if s != "" else None
