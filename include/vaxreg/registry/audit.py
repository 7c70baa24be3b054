"""The audit log's hash chain (操作記録, privacy.md P4): append-only and tamper-evident.

Each record carries ``prev_hash`` (the ``row_hash`` of the record before it, by id)
and ``row_hash`` = SHA-256 over a canonical encoding of its fields followed by
``prev_hash``. The first record ever continues from :data:`GENESIS`; after a
retention purge removed the oldest records, the first one kept continues from the
hash of the last one deleted, which the purge wrote to ``deletion_log``
(``anchor_id``, ``anchor_hash``; the deletion log is never purged).

Writers (:func:`vaxreg.registry.ledger.write_audit`) compute the chain of a whole
batch in Python after reading the last hash under a lock (PostgreSQL: a
transaction-level advisory lock per registry schema; SQLite: the write lock that
``BEGIN IMMEDIATE`` took), so concurrent runs cannot fork the chain.

:func:`verify` walks the log in id order and names the first record whose hash or
link is wrong: an edited record fails its own hash, a deleted one breaks the link
of the record after it, records deleted at the start break the anchor. Records
cut off at the end are invisible to a chain alone: compare the head (count and
last hash printed by ``vaxreg audit verify``) with one noted earlier.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

GENESIS = "0" * 64
# The hashed fields, in order. ``id`` is not hashed: the chain itself fixes the order.
CONSTANT_FIELDS = ("at", "dag_id", "run_id", "task_id", "host", "purpose", "action", "table_name")
ROW_FIELDS = ("atena_no", "fields_changed", "detail")
FIELDS = CONSTANT_FIELDS + ROW_FIELDS


def _enc(value: str | None) -> str:
    """Length-prefixed text: an injective encoding whatever the text holds."""
    return "~" if value is None else f"{len(value)}:{value}"


def canonical(values: Sequence[str | None]) -> bytes:
    """The bytes hashed for one record (before its prev_hash)."""
    return "|".join(_enc(v) for v in values).encode("utf-8") + b"|"


def record_hash(values: Sequence[str | None], prev_hash: str) -> str:
    return hashlib.sha256(canonical(values) + prev_hash.encode("ascii")).hexdigest()


def chain(
    constant: Sequence[str | None],
    atena_no: Sequence[str | None],
    fields_changed: Sequence[str | None],
    detail: Sequence[str | None],
    prev_hash: str,
) -> tuple[list[str], list[str]]:
    """(prev_hash, row_hash) of a batch whose first eight fields are the same for every record.

    Equal to :func:`record_hash` record by record; the constant prefix is hashed once.
    """
    base = hashlib.sha256(canonical(constant))
    prevs: list[str] = []
    hashes: list[str] = []
    prev = prev_hash
    for a, f, d in zip(atena_no, fields_changed, detail, strict=True):
        h = base.copy()
        h.update(f"{_enc(a)}|{_enc(f)}|{_enc(d)}|{prev}".encode())
        prevs.append(prev)
        prev = h.hexdigest()
        hashes.append(prev)
    return prevs, hashes


def lock_and_last_hash(conn: Connection) -> str:
    """Serialise audit writers for the rest of the transaction; the hash to continue from."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_log'))")
    last = conn.exec_driver_sql("SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1").scalar()
    if last is not None:
        return str(last)
    anchor = conn.exec_driver_sql(
        "SELECT anchor_hash FROM deletion_log WHERE anchor_hash IS NOT NULL ORDER BY id DESC LIMIT 1"
    ).scalar()
    return str(anchor) if anchor is not None else GENESIS


def at_text(value: object) -> str:
    """A stored ``at`` as the text that was hashed (UTC, microseconds)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    first_id: int | None
    last_id: int | None
    head_hash: str
    bad_id: int | None = None
    problem: str = ""

    def line(self) -> str:
        if self.ok:
            return (
                f"audit log OK: {self.records} records (ids {self.first_id}..{self.last_id}), "
                f"head {self.head_hash}"
            )
        return f"audit log BROKEN at record {self.bad_id}: {self.problem}"


def _records(conn: Connection, chunk: int = 20_000) -> Iterator[tuple]:
    cols = ", ".join(("id", *FIELDS, "prev_hash", "row_hash"))
    result = conn.exec_driver_sql(f"SELECT {cols} FROM audit_log ORDER BY id")
    while rows := result.fetchmany(chunk):
        yield from rows


def verify(conn: Connection) -> Verdict:
    """Check the whole chain; the verdict names the first bad record."""
    anchor = conn.exec_driver_sql(
        "SELECT anchor_id, anchor_hash FROM deletion_log WHERE anchor_hash IS NOT NULL "
        "ORDER BY id DESC LIMIT 1"
    ).first()
    expected: str | None = None
    n, first_id, last_id = 0, None, None
    head = anchor[1] if anchor else GENESIS
    for row in _records(conn):
        rid, values, prev, stored = int(row[0]), list(row[1:12]), row[12], row[13]
        values[0] = at_text(values[0])
        if expected is None:  # the first record: genesis, or the anchor of the last purge
            start = anchor[1] if anchor is not None else GENESIS
            if prev != start:
                what = "the purge anchor" if anchor is not None else "the start of the log"
                return Verdict(
                    False, n, first_id, last_id, head, rid, f"does not continue from {what} (records deleted)"
                )
        elif prev != expected:
            return Verdict(
                False,
                n,
                first_id,
                last_id,
                head,
                rid,
                f"does not follow record {last_id} (a record between was deleted, or {last_id} was changed)",
            )
        if record_hash(values, prev) != stored:
            return Verdict(False, n, first_id, last_id, head, rid, "its content does not match its hash")
        n += 1
        first_id = rid if first_id is None else first_id
        last_id = rid
        expected = head = stored
    if expected is None and anchor is None and n == 0:
        return Verdict(True, 0, None, None, GENESIS)
    return Verdict(True, n, first_id, last_id, head)
