"""Manifest (exactly-once ingestion), quarantine and audit writers."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, and_, func, insert, select, update

from vaxreg.registry import (
    audit,
    schema_privacy,  # noqa: F401  (audit_log's hash columns)
)
from vaxreg.registry.db import bulk_insert
from vaxreg.registry.schema import ingest_manifest


@dataclass
class Outcome:
    """What a file did: rows read = accepted + quarantined + review + duplicates.

    These five are what the manifest keeps; a feed may subclass to add its own breakdown.
    """

    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    review: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


MANIFEST_COUNTS = tuple(f.name for f in fields(Outcome))
# Manifest names of applied review decisions: ``review-resolutions/<run_id>/<original file>``.
RESOLUTIONS_PREFIX = "review-resolutions/"

OutcomeT = TypeVar("OutcomeT", bound=Outcome)


@dataclass(frozen=True)
class Quarantined:
    """Rows a file's apply quarantines: per row its number in the file, its ``;``-joined reason
    codes and the received row (JSON, My Number removed). ``units``: how many counted units they
    stand for when that is not one per row (the VRS records count doses, quarantine file rows)."""

    row_nos: Sequence[int]
    reasons: Sequence[str]
    raws: Sequence[str]
    units: int | None = None

    @property
    def count(self) -> int:
        return len(self.row_nos) if self.units is None else self.units


@dataclass(frozen=True)
class ForReview:
    """Rows a file's apply sends to the review queue, with their candidates (``;``-joined
    宛名番号, best first) and the matcher's scores (JSON, or None). ``units`` as for
    :class:`Quarantined`."""

    row_nos: Sequence[int]
    reasons: Sequence[str]
    candidates: Sequence[str]
    raws: Sequence[str]
    scores: Sequence[str | None] | None = None
    units: int | None = None

    @property
    def count(self) -> int:
        return len(self.row_nos) if self.units is None else self.units


def close_file(
    conn: Connection,
    actor: Actor,
    *,
    feed: str,
    file_name: str,
    manifest_id: int,
    out: OutcomeT,
    quarantined: Quarantined,
    rejected: Sequence[tuple[int, str, str]] = (),
    review: ForReview | None = None,
) -> OutcomeT:
    """The end of every feed's apply step: the review items, the quarantine rows (the parser's
    cut-out lines, ``rejected``, appended), the outcome's quarantined and review counts taken from
    them, and one audit record with the file's counts, which must add up.

    The feed has set ``rows_read``, ``accepted`` and ``duplicates`` (and its own breakdown)."""
    if review is not None and len(review.row_nos):
        write_review(
            conn,
            feed=feed,
            file_name=file_name,
            manifest_id=manifest_id,
            row_nos=review.row_nos,
            reasons=review.reasons,
            candidates=review.candidates,
            scores=review.scores,
            raws=review.raws,
        )
    write_quarantine(
        conn,
        feed=feed,
        file_name=file_name,
        manifest_id=manifest_id,
        row_nos=quarantined.row_nos,
        reasons=quarantined.reasons,
        raws=quarantined.raws,
        rejected=rejected,
    )
    out.quarantined = quarantined.count + len(rejected)
    out.review = review.count if review is not None else 0
    audit_event(
        conn,
        actor,
        "ingest",
        "ingest_manifest",
        {"file": file_name, "manifest_id": manifest_id} | out.as_dict(),
    )
    assert out.rows_read == out.accepted + out.quarantined + out.review + out.duplicates, out
    return out


@dataclass(frozen=True)
class Actor:
    """Who changes the registry (privacy.md P4): the pipeline run and task, or the command."""

    dag_id: str
    run_id: str
    task_id: str
    purpose: str
    host: str = socket.gethostname()

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now_text() -> str:
    return now().strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


@dataclass(frozen=True)
class ManifestEntry:
    id: int
    file_name: str
    sha256: str
    status: str


def applied_entries(conn: Connection, feed: str) -> list[ManifestEntry]:
    """Files of ``feed`` that already counted (applied, or duplicate content under another name)."""
    rows = conn.execute(
        select(
            ingest_manifest.c.id,
            ingest_manifest.c.file_name,
            ingest_manifest.c.sha256,
            ingest_manifest.c.status,
        ).where(and_(ingest_manifest.c.feed == feed, ingest_manifest.c.status.in_(("applied", "duplicate"))))
    )
    return [ManifestEntry(*r) for r in rows]


def record_file(
    conn: Connection,
    *,
    feed: str,
    file_name: str,
    sha256: str,
    size: int,
    status: str,
    actor: Actor,
    reason: str | None = None,
) -> int:
    """Add a manifest row; returns its id. Unique indexes make a second 'applied' impossible."""
    result = conn.execute(
        insert(ingest_manifest)
        .values(
            feed=feed,
            file_name=file_name,
            sha256=sha256,
            size_bytes=size,
            status=status,
            reason=reason,
            run_id=actor.run_id,
            recorded_at=now(),
        )
        .returning(ingest_manifest.c.id)
    )
    return int(result.scalar_one())


def set_counts(conn: Connection, manifest_id: int, counts: dict[str, int]) -> None:
    conn.execute(update(ingest_manifest).where(ingest_manifest.c.id == manifest_id).values(**counts))


def audit_rows(actor: Actor, n: int) -> dict[str, pa.Array]:
    """The actor columns of ``n`` audit rows."""
    values = {"at": now_text()} | {k: v for k, v in actor.as_dict().items()}
    return {k: pa.repeat(pa.scalar(v, pa.string()), n) for k, v in values.items()}


def write_audit(
    conn: Connection,
    actor: Actor,
    *,
    action: str,
    table_name: str,
    atena_no: Sequence[str | None] | np.ndarray,
    fields_changed: Sequence[str | None] | np.ndarray,
    detail: Sequence[str | None] | np.ndarray,
) -> int:
    """Append audit records, hash-chained to the log (privacy.md P4), in one bulk insert."""
    n = len(atena_no)
    if n == 0:
        return 0
    at = now_text()
    constant = {"at": at} | {k: getattr(actor, k) for k in audit.CONSTANT_FIELDS[1:6]}
    constant |= {"action": action, "table_name": table_name}
    atena, fields, details = (_texts(v) for v in (atena_no, fields_changed, detail))
    prevs, hashes = audit.chain(
        [constant[k] for k in audit.CONSTANT_FIELDS], atena, fields, details, audit.lock_and_last_hash(conn)
    )
    cols = {k: pa.repeat(pa.scalar(v, pa.string()), n) for k, v in constant.items()} | {
        "atena_no": pa.array(atena, pa.string()),
        "fields_changed": pa.array(fields, pa.string()),
        "detail": pa.array(details, pa.string()),
        "prev_hash": pa.array(prevs, pa.string()),
        "row_hash": pa.array(hashes, pa.string()),
    }
    return bulk_insert(conn, "audit_log", pa.table(cols))


def _texts(values: Sequence[str | None] | np.ndarray) -> list[str | None]:
    """Values as Python text (None stays None): what is stored is exactly what is hashed."""
    return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v) for v in values]


def audit_event(
    conn: Connection, actor: Actor, action: str, table_name: str, detail: dict[str, object]
) -> None:
    """One audit record for a whole operation (an ingested file, an export)."""
    write_audit(
        conn,
        actor,
        action=action,
        table_name=table_name,
        atena_no=[None],
        fields_changed=[None],
        detail=[json.dumps(detail, ensure_ascii=False, sort_keys=True)],
    )


def count_rows(conn: Connection, table: str) -> int:
    from vaxreg.registry.schema import metadata

    return int(conn.execute(select(func.count()).select_from(metadata.tables[table])).scalar_one())


def write_quarantine(
    conn: Connection,
    *,
    feed: str,
    file_name: str,
    manifest_id: int,
    row_nos: Sequence[int],
    reasons: Sequence[str],
    raws: Sequence[str],
    rejected: Sequence[tuple[int, str, str]] = (),
) -> int:
    """Quarantine rows with their reason codes; ``raws`` are the received rows, My Number removed.
    ``rejected``: the (row_no, reason, raw) of the lines the parser cut out, appended."""
    row_nos = [*row_nos, *(r[0] for r in rejected)]
    reasons = [*reasons, *(r[1] for r in rejected)]
    raws = [*raws, *(r[2] for r in rejected)]
    k = len(row_nos)
    return bulk_insert(
        conn,
        "quarantine",
        pa.table(
            {
                "feed": pa.repeat(pa.scalar(feed, pa.string()), k),
                "file_name": pa.repeat(pa.scalar(file_name, pa.string()), k),
                "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
                "row_no": pa.array(row_nos, pa.int32()),
                "reasons": pa.array(reasons, pa.string()),
                "raw_row": pa.array(raws, pa.string()),
                "recorded_at": pa.repeat(pa.scalar(now_text(), pa.string()), k),
            }
        ),
    )


def write_review(
    conn: Connection,
    *,
    feed: str,
    file_name: str,
    manifest_id: int,
    row_nos: Sequence[int],
    reasons: Sequence[str],
    candidates: Sequence[str],
    raws: Sequence[str],
    scores: Sequence[str | None] | None = None,
) -> int:
    """Open review items (privacy.md §Matching): rows no one could put on a person without a
    human, with the candidates (';'-joined 宛名番号, best first), the matcher's ``scores``
    (JSON) and the received rows, My Number removed."""
    k = len(row_nos)
    return bulk_insert(
        conn,
        "review_items",
        pa.table(
            {
                "feed": pa.repeat(pa.scalar(feed, pa.string()), k),
                "file_name": pa.repeat(pa.scalar(file_name, pa.string()), k),
                "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
                "row_no": pa.array(row_nos, pa.int64()),
                "reasons": pa.array(reasons, pa.string()),
                "candidates": pa.array(candidates, pa.string()),
                "scores": pa.array(scores if scores is not None else [None] * k, pa.string()),
                "raw_row": pa.array(raws, pa.string()),
                "status": pa.repeat(pa.scalar("open", pa.string()), k),
                "recorded_at": pa.repeat(pa.scalar(now_text(), pa.string()), k),
            }
        ),
    )
