"""Outbound files (feeds.md §7, outputs.md): exactly their specified columns (privacy.md P7),
published exactly once.

Every outbound file is described here once (:func:`register`, called by its output's module at
import) and published through :func:`publish_once`, the one unit that makes *writing a file* and
*recording what it holds* atomic: a crash at any point leaves the publication either done or not
started — never two files, never the same rows in two files, never a file without its record
blocking the next run.

An output uses it like this (the VRS flags, the fee statement and detail are real examples)::

    outbound.register("forms", outbound.OutboundLayout("forms", "YOSHIN_{month}.csv", COLUMNS))

    def publish(source, actor, day, *, db_url=None) -> list[str]:
        def build(conn):  # the file's rows from the registry; None: nothing to send, no file
            table = ...
            return table if table.num_rows else None

        def record(conn, files):  # the output's own ledger, in the same transaction
            f = files["forms"]  # OutboundFile: name, sha256, rows, size
            db.bulk_insert(conn, "forms_sent", ...)  # file_name=f.name: never sent twice
            ledger.write_audit(conn, actor, action="export", ...)  # P4: before the data leaves

        done = outbound.publish_once(source, actor, "forms", {"month": "202605"}, build, record,
                                     db_url=db_url)
        return [f.name for f in done]

What :func:`publish_once` does, in order:

1. **complete** — a file of these kinds that an earlier run left ``prepared`` is finished first
   (step 3); so is every one :func:`complete_pending` finds.
2. **prepare**, one transaction, serialised per inbox target: a name already in the ledger
   (``outbound_files``) means nothing new (cli.md: a date whose file exists already writes nothing
   new); else ``build(conn)``, the columns checked against the layout, the CSV bytes, a check that
   the inbox holds no other file under that name, a ledger row ``prepared`` holding the bytes, and
   ``record(conn, files)``. Commit. A crash before the commit leaves nothing at all.
3. **write**, one transaction per file with its ledger row locked:
   :meth:`vaxreg.transport.Source.put_outbound` (temporary name unique to the writer, no-clobber
   rename, ``.done`` marker with the SHA-256) adopts a file already there with the same bytes and
   refuses one with other bytes (:class:`vaxreg.transport.OutboundConflict`, never overwritten);
   then the row becomes ``published`` and its bytes are cleared (they may hold names and
   addresses). A crash in this step is finished by the next run; a conflict keeps the row
   ``prepared`` with its ``last_error`` and fails every run of the output until the on-call has
   looked (docs/runbook.md, "Outbound file left prepared").

Several files published as one (a statement and its detail): pass a tuple of kinds that share
their name parts; ``build`` returns ``{kind: table}`` and ``record`` gets ``{kind: OutboundFile}``.

:func:`publish` is the low-level write of one file without the ledger (tests, P7 checks).
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from vaxreg.registry import db, ledger
from vaxreg.transport import OutboundConflict, Source, TransportError

if TYPE_CHECKING:
    from sqlalchemy import Connection


class OutboundError(Exception):
    """An outbound file that would break its specification. One line, no personal data."""


@dataclass(frozen=True)
class OutboundLayout:
    target: str  # folder under inbox/
    name_pattern: str  # str.format pattern, e.g. "VRS_FLAGS_{date}.csv"
    columns: tuple[str, ...]
    bom: bool = False  # UTF-8 with a byte order mark (forms, reminders: outputs.md §2, §3)
    line_end: str = "\n"  # "\r\n" for CRLF files


@dataclass(frozen=True)
class OutboundFile:
    """One file of a publication, as recorded in ``outbound_files``."""

    kind: str
    target: str
    name: str
    sha256: str
    rows: int
    size: int


Build = Callable[["Connection"], "pa.Table | Mapping[str, pa.Table] | None"]
Record = Callable[["Connection", dict[str, OutboundFile]], None]

LAYOUTS: dict[str, OutboundLayout] = {}  # kind -> layout; each output module registers its own

# The steps of a publication, in order; ``step_hook`` is called after each (fault injection in the
# tests: a crash at any of them must leave the publication done or not started).
STEPS = (
    "prepare_recorded",  # build and record done, the prepare transaction not yet committed
    "prepared",  # committed, nothing written yet
    "data_temp",  # the data file under its temporary name
    "data_renamed",  # the data file in place, no marker
    "marker_temp",  # the marker under its temporary name
    "marker_renamed",  # file and marker in place, the ledger still says prepared
    "published_recorded",  # the ledger row updated, not yet committed
)


def _no_step(step: str) -> None:
    return None


step_hook: Callable[[str], None] = _no_step


def register(kind: str, layout: OutboundLayout) -> None:
    """Add a layout (each concern registers its own files, once, at import)."""
    if kind in LAYOUTS and LAYOUTS[kind] != layout:
        raise OutboundError(f"outbound layout {kind!r} is already defined differently")
    LAYOUTS[kind] = layout


def to_csv_bytes(table: pa.Table, *, bom: bool = False, line_end: str = "\n") -> bytes:
    """UTF-8 CSV with a header (and a BOM when asked), LF or CRLF line ends, quotes only around
    values that need them."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=line_end, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(table.column_names)
    columns = [c.to_pylist() for c in table.columns]
    writer.writerows(zip(*columns, strict=True))
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


def render(kind: str, table: pa.Table, **name_parts: str) -> tuple[str, bytes]:
    """The file name and bytes of ``table`` as the outbound file ``kind``; refuses any other
    column set than the layout's (P7)."""
    layout = LAYOUTS[kind]
    if tuple(table.column_names) != layout.columns:
        raise OutboundError(
            f"{kind}: columns {list(table.column_names)} are not exactly the specified {list(layout.columns)}"
        )
    data = to_csv_bytes(table, bom=layout.bom, line_end=layout.line_end)
    return layout.name_pattern.format(**name_parts), data


def publish(source: Source, kind: str, table: pa.Table, **name_parts: str) -> tuple[str, str]:
    """Write ``table`` as the outbound file ``kind`` once (refuses to overwrite), without the
    ledger; returns (file name, sha256). Outputs use :func:`publish_once`."""
    name, data = render(kind, table, **name_parts)
    with tempfile.TemporaryDirectory(prefix="vaxreg-outbound-") as tmp:
        work = Path(tmp) / name
        work.write_bytes(data)
        digest = source.write_outbound(LAYOUTS[kind].target, name, work)
    return name, digest


# --- exactly once ---------------------------------------------------------------------------------


def publish_once(
    source: Source,
    actor: ledger.Actor,
    kinds: str | Sequence[str],
    name_parts: Mapping[str, str],
    build: Build,
    record: Record,
    *,
    db_url: str | None = None,
) -> list[OutboundFile]:
    """Publish the files ``kinds`` named by ``name_parts`` once, with ``record`` (see the module
    docstring). Returns the files this call put in the inbox or found there complete: first
    those an earlier run left prepared, then this publication's ([] when its name is taken or
    ``build`` returned None)."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    done = complete_pending(source, actor, kinds, db_url=db_url)
    ids = _prepare(source, actor, kinds, name_parts, build, record, db_url)
    if ids:
        step_hook("prepared")
    return done + [f for i in ids if (f := _complete(source, actor, i, db_url)) is not None]


def complete_pending(
    source: Source, actor: ledger.Actor, kinds: Sequence[str] | None = None, *, db_url: str | None = None
) -> list[OutboundFile]:
    """Finish every file of ``kinds`` (default: all) left ``prepared``, oldest first; raises the
    first failure (a :class:`~vaxreg.transport.OutboundConflict` or a transport error)."""
    with db.transaction(db_url) as conn:
        sql = "SELECT id, kind FROM outbound_files WHERE state = 'prepared' ORDER BY id"
        ids = [i for i, k in conn.exec_driver_sql(sql).fetchall() if kinds is None or k in kinds]
    return [f for i in ids if (f := _complete(source, actor, i, db_url)) is not None]


def pending(conn: Connection) -> list[dict[str, Any]]:
    """The files left prepared (no bytes): kind, file, prepared at, by run, last error."""
    rows = conn.exec_driver_sql(
        "SELECT kind, target, file_name, CAST(prepared_at AS TEXT), run_id, last_error FROM outbound_files "
        "WHERE state = 'prepared' ORDER BY id"
    ).fetchall()
    keys = ("kind", "target", "file", "prepared_at", "run_id", "last_error")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _lock_target(conn: Connection, target: str) -> None:
    """Serialise the prepare step of one inbox target (SQLite's BEGIN IMMEDIATE already does)."""
    if db.is_postgres(conn):
        conn.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':vaxreg.outbound:' || %s))", (target,)
        )


def _prepare(
    source: Source,
    actor: ledger.Actor,
    kinds: tuple[str, ...],
    name_parts: Mapping[str, str],
    build: Build,
    record: Record,
    db_url: str | None,
) -> list[int]:
    """Step 2: the ledger rows ``prepared`` with the bytes, and the output's records; their ids."""
    targets = {LAYOUTS[k].target for k in kinds}
    if len(targets) != 1:
        raise OutboundError(f"{', '.join(kinds)}: the files of one publication share their inbox folder")
    target = targets.pop()
    names = {k: LAYOUTS[k].name_pattern.format(**name_parts) for k in kinds}
    with db.transaction(db_url) as conn:
        _lock_target(conn, target)
        m = db.mark(conn)
        taken = conn.exec_driver_sql(
            f"SELECT file_name FROM outbound_files WHERE target = {m} AND file_name IN "
            f"({', '.join([m] * len(names))})",
            (target, *names.values()),
        ).fetchall()
        if taken:
            return []
        built = build(conn)
        if built is None:
            return []
        tables = {kinds[0]: built} if isinstance(built, pa.Table) else dict(built)
        if set(tables) != set(kinds):
            raise OutboundError(f"build returned {sorted(tables)}, not the publication's {sorted(kinds)}")
        files: dict[str, OutboundFile] = {}
        ids = []
        for kind in kinds:
            name, data = render(kind, tables[kind], **name_parts)
            digest = hashlib.sha256(data).hexdigest()
            _check_name_free(source, target, name, digest)
            f = files[kind] = OutboundFile(kind, target, name, digest, tables[kind].num_rows, len(data))
            ids.append(_insert_prepared(conn, actor, f, data))
        record(conn, files)
        step_hook("prepare_recorded")
    return ids


def _insert_prepared(conn: Connection, actor: ledger.Actor, f: OutboundFile, data: bytes) -> int:
    m, now = db.mark(conn), ledger.now_text()
    conn.exec_driver_sql(
        "INSERT INTO outbound_files (target, kind, file_name, sha256, size, rows, state, content, run_id, "
        f"prepared_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, 'prepared', {m}, {m}, {m})",
        (f.target, f.kind, f.name, f.sha256, f.size, f.rows, zlib.compress(data), actor.run_id, now),
    )
    sql = f"SELECT id FROM outbound_files WHERE target = {m} AND file_name = {m}"
    return int(conn.exec_driver_sql(sql, (f.target, f.name)).scalar_one())


def _check_name_free(source: Source, target: str, name: str, digest: str) -> None:
    """Never record what cannot be delivered: another file under the name (one the ledger does not
    know) refuses the publication before anything is recorded; the same bytes will be adopted."""
    try:
        source.check_outbound(target, name, digest)
    except OutboundConflict as exc:
        raise OutboundConflict(f"{exc}; it is not in the outbound ledger: nothing recorded") from exc


def _complete(source: Source, actor: ledger.Actor, file_id: int, db_url: str | None) -> OutboundFile | None:
    """Step 3 for one prepared file; None when another run published it meanwhile."""
    with db.transaction(db_url) as conn:
        m = db.mark(conn)
        lock = " FOR UPDATE" if db.is_postgres(conn) else ""
        row = conn.exec_driver_sql(
            "SELECT kind, target, file_name, sha256, rows, content FROM outbound_files "
            f"WHERE id = {m} AND state = 'prepared'{lock}",
            (file_id,),
        ).first()
        if row is None:
            return None
        kind, target, name, digest, rows, content = row
        data = zlib.decompress(bytes(content))
        if hashlib.sha256(data).hexdigest() != digest:
            raise OutboundError(f"inbox/{target}/{name}: the prepared bytes do not match their digest")
        try:
            outcome = source.put_outbound(target, name, data, on_step=step_hook)
        except TransportError as exc:
            error: TransportError | None = exc
        else:
            error = None
            conn.exec_driver_sql(
                f"UPDATE outbound_files SET state = 'published', content = NULL, published_at = {m}, "
                f"published_run_id = {m}, outcome = {m}, last_error = NULL WHERE id = {m}",
                (ledger.now_text(), actor.run_id, outcome, file_id),
            )
            step_hook("published_recorded")
    if error is not None:
        with db.transaction(db_url) as conn:
            m = db.mark(conn)
            conn.exec_driver_sql(
                f"UPDATE outbound_files SET last_error = {m} WHERE id = {m} AND state = 'prepared'",
                (str(error)[:500], file_id),
            )
        raise error
    return OutboundFile(kind, target, name, digest, int(rows), len(data))
