"""The review queue (privacy.md §Matching): records the pipeline could not attach to a person
without guessing, listed, shown and resolved by a person.

Life of an item (``review_items.status``)::

    open ──accept(atena_no)──> accepted ──next run of the feed──> applied
      └────reject────────────> rejected   (nothing is applied; resolved for retention)

:func:`accept` / :func:`reject` resolve an ``open`` item: who (``resolved_by``), when
(``resolved_at``), why (``resolution_note``) and, for accept, the person decided
(``resolved_atena_no``), with an audit record (P4), in the caller's transaction. The feed's next
run applies accepted items (:mod:`vaxreg.review.resolutions`).

Listings carry no names (logs and lists identify a person by atena_no); :func:`show_item`
returns the received row and the candidates' demographics, which a person resolving the item needs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, func, literal, select, update

from vaxreg import feeds
from vaxreg.feeds.reader import scrub
from vaxreg.registry import ledger
from vaxreg.registry.schema import persons
from vaxreg.registry.schema_doses import review_items

STATUSES = ("open", "accepted", "rejected", "applied")


def review_feeds() -> tuple[str, ...]:
    """The feeds whose apply step writes review items."""
    return tuple(name for name in feeds.NAMES if feeds.get(name).reviews)


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


def _reason_filter(reason: str) -> Any:
    """Items whose ``;``-joined reason codes include ``reason`` (the same SQL on both databases)."""
    return (literal(";") + review_items.c.reasons + literal(";")).like(f"%;{reason};%")


def list_page(
    conn: Connection,
    *,
    feed: str | None = None,
    reason: str | None = None,
    status: str | None = "open",
    offset: int = 0,
    limit: int = 50,
) -> tuple[pd.DataFrame, int]:
    """One page of :func:`list_items` (by id), filtered by feed and reason code; and the count of
    all matching items."""
    if status is not None and status not in STATUSES:
        raise ReviewError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    conds = [review_items.c.status == status] if status is not None else []
    if feed is not None:
        conds.append(review_items.c.feed == feed)
    if reason:
        conds.append(_reason_filter(reason))
    where = and_(True, *conds)
    total = int(conn.execute(select(func.count()).select_from(review_items).where(where)).scalar_one())
    q = (
        select(*(review_items.c[c] for c in LIST_COLUMNS))
        .where(where)
        .order_by(review_items.c.id)
        .offset(max(offset, 0))
        .limit(max(limit, 1))
    )
    return pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=LIST_COLUMNS), total


def reason_codes(conn: Connection, *, status: str | None = "open") -> list[str]:
    """The reason codes present among the items of ``status`` (for a filter), sorted."""
    q = select(review_items.c.reasons).distinct()
    if status is not None:
        q = q.where(review_items.c.status == status)
    return sorted({c for (r,) in conn.execute(q) for c in (r or "").split(";") if c})


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


def show_audited(conn: Connection, item_id: int, *, by: str, actor: ledger.Actor) -> dict[str, Any]:
    """:func:`show_item`, audited (P4): the received row and the candidates' demographics are
    personal data shown to ``by`` (``vaxreg review show`` and the review page)."""
    item = show_item(conn, item_id)
    n = max(len(item["candidates"]), 1)
    ledger.write_audit(
        conn,
        actor,
        action="export",
        table_name="review_items",
        atena_no=[c["atena_no"] for c in item["candidates"]] or [None],
        fields_changed=[None] * n,
        detail=[json.dumps({"item": item_id, "by": by})] * n,
    )
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
    note = scrub(note.strip())[:NOTE_MAX] if note and note.strip() else None
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
