"""The steps of a feed run: fetch → parse → validate → apply → report.

The Airflow tasks and the ``vaxreg run`` command call these same functions. Steps
hand each other a list of :class:`FileWork` (small, JSON-able, no personal data:
it goes through XCom); the data itself stays in the landing and staging folders.

Files are handled in name order. A file refused at any step (checksum mismatch,
same name with other bytes, bad header, file-level check) changes nothing in the
registry; the files after it wait for the next run (a diff feed must apply in
order), and :func:`report` fails the run with a one-line reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, and_, select
from sqlalchemy.exc import IntegrityError

from vaxreg import config, feeds
from vaxreg.feeds.layout import FileRejected, check_file_name
from vaxreg.feeds.reader import duplicated, parse_csv
from vaxreg.identity.validators import kojin_no_status
from vaxreg.quality import datadocs
from vaxreg.quality.suites import Validation
from vaxreg.quality.validation import validated_table
from vaxreg.registry import db, ledger
from vaxreg.registry.schema import ingest_manifest
from vaxreg.transport import open_source

log = logging.getLogger(__name__)

_DIGEST = re.compile(r"[0-9a-f]{64}")


class FeedRefused(Exception):
    """A run that refused a file. One line, no personal data."""


@dataclasses.dataclass
class FileWork:
    feed: str
    name: str
    size: int
    marker: str
    sha256: str = ""
    landing: str = ""
    staged: str = ""
    status: str = "listed"  # listed|fetched|duplicate|parsed|validated|applied|refused|held
    reason: str = ""
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    data_docs: str = ""  # the Data Docs page of its validation (path under the Airflow base URL)

    @property
    def work_dir(self) -> Path:
        return config.staging_dir() / "work" / self.feed / self.sha256[:16]

    def summary(self) -> dict[str, Any]:
        c = self.counts
        return (
            {
                "file": self.name,
                "status": self.status,
                "rows": c.get("rows_read", 0),
                "accepted": c.get("accepted", 0),
                "quarantined": c.get("quarantined", 0),
                "review": c.get("review", 0),
                "duplicates": c.get("duplicates", 0),
            }
            | {k: c[k] for k in ("off_schedule", "fee_total", "file_rows", "opened", "closed") if k in c}
            | ({"reason": self.reason} if self.reason else {})
        )


Works = list[dict[str, Any]]


def _load(works: Works) -> list[FileWork]:
    return [FileWork(**w) for w in works]


def _dump(items: list[FileWork]) -> Works:
    return [dataclasses.asdict(w) for w in items]


def make_actor(feed: str, dag_id: str = "cli", run_id: str = "manual", task_id: str = "run") -> ledger.Actor:
    return ledger.Actor(dag_id=dag_id, run_id=run_id, task_id=task_id, purpose=feeds.get(feed).purpose)


def _refuse(items: list[FileWork], i: int, reason: str, actor: ledger.Actor, db_url: str | None) -> None:
    """Mark file ``i`` refused (recorded in the manifest) and hold the files after it."""
    w = items[i]
    w.status, w.reason = "refused", reason
    log.error("refused %s/%s: %s", w.feed, w.name, reason)
    with db.transaction(db_url) as conn:
        already = conn.execute(
            select(ingest_manifest.c.id).where(
                and_(
                    ingest_manifest.c.feed == w.feed,
                    ingest_manifest.c.file_name == w.name,
                    ingest_manifest.c.sha256 == (w.sha256 or "-"),
                    ingest_manifest.c.status == "refused",
                    ingest_manifest.c.reason == reason,
                )
            )
        ).first()
        if not already:
            ledger.record_file(
                conn,
                feed=w.feed,
                file_name=w.name,
                sha256=w.sha256 or "-",
                size=w.size,
                status="refused",
                reason=reason,
                actor=actor,
            )
    for later in items[i + 1 :]:
        if later.status not in ("refused", "held"):
            later.status, later.reason = "held", f"waits for {w.name} (refused)"


def fetch(
    feed: str, actor: ledger.Actor, *, source_url: str | None = None, db_url: str | None = None
) -> Works:
    """Copy every complete, not-yet-ingested file of ``feed`` to the landing folder, verified."""
    spec = feeds.get(feed)
    with db.transaction(db_url) as conn:
        seen = ledger.applied_entries(conn, feed)
    by_name = {e.file_name: e.sha256 for e in seen}
    by_sha = {e.sha256: e.file_name for e in seen if e.status == "applied"}
    items: list[FileWork] = []
    with open_source(source_url or config.source_url()) as src:
        for f in sorted(src.list_complete(feed), key=lambda f: spec.order_key(f.name)):
            marker = f.marker.strip().lower()
            if marker and by_name.get(f.name) == marker:
                continue  # already ingested: nothing to download
            w = FileWork(feed=feed, name=f.name, size=f.size, marker=marker)
            items.append(w)
            if any(x.status == "refused" for x in items[:-1]):
                w.status, w.reason = "held", "waits for an earlier refused file"
                continue
            i = len(items) - 1
            if marker and not _DIGEST.fullmatch(marker):
                _refuse(items, i, "marker is neither empty nor a SHA-256 digest", actor, db_url)
                continue
            try:
                spec.file_date(f.name)
            except FileRejected as exc:
                _refuse(items, i, str(exc), actor, db_url)
                continue
            # A folder of this run's own: two runs started together never share a temporary file.
            tmp = config.staging_dir() / "landing" / feed / ".incoming" / uuid.uuid4().hex / f.name
            tmp.parent.mkdir(parents=True, exist_ok=True)
            try:
                w.sha256 = src.download(feed, f.name, tmp)
                landing = config.staging_dir() / "landing" / feed / w.sha256[:16] / f.name
                landing.parent.mkdir(parents=True, exist_ok=True)
                tmp.replace(landing)  # the same bytes whichever run renames last
            finally:
                with contextlib.suppress(OSError):  # empty unless the rename failed
                    tmp.parent.rmdir()
            w.landing = str(landing)
            if marker and marker != w.sha256:
                _refuse(
                    items,
                    i,
                    f"checksum mismatch (marker {marker[:12]}…, file {w.sha256[:12]}…)",
                    actor,
                    db_url,
                )
            elif f.name in by_name:
                if by_name[f.name] == w.sha256:
                    items.pop()  # already ingested (marker was empty)
                else:
                    _refuse(
                        items,
                        i,
                        "conflict: a different file was already ingested under this name",
                        actor,
                        db_url,
                    )
            elif w.sha256 in by_sha or any(x.sha256 == w.sha256 for x in items[:-1]):
                w.status, w.reason = "duplicate", f"same content as {by_sha.get(w.sha256, 'an earlier file')}"
            else:
                w.status = "fetched"
    log.info("fetch %s: %s", feed, ", ".join(f"{w.name}={w.status}" for w in items) or "no new files")
    return _dump(items)


def parse(works: Works, actor: ledger.Actor, *, db_url: str | None = None) -> Works:
    """CSV → Parquet staging, My Number replaced by its check status, exact duplicates marked."""
    items = _load(works)
    for i, w in enumerate(items):
        if w.status != "fetched":
            continue
        kind = feeds.get(w.feed).kind_for(w.name)
        try:
            layout = kind.layout_of(w.name, Path(w.landing))
            check_file_name(layout, w.name)
            parsed = parse_csv(Path(w.landing), layout)
        except FileRejected as exc:
            _refuse(items, i, str(exc), actor, db_url)
            continue
        table = parsed.table
        is_dup = duplicated(table.select([c for c in layout.fields if c != "seq"]))
        for col in layout.sensitive:
            table = table.append_column(f"{col}__status", kojin_no_status(table.column(col)))
        table = table.drop_columns(list(layout.sensitive)).append_column("is_duplicate", pa.array(is_dup))
        if kind.reshape is not None:  # e.g. VRS records: wide → one row per dose
            table, cut = kind.reshape(table)
            parsed.rejected = sorted(parsed.rejected + cut)
        w.work_dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, w.work_dir / "staged.parquet")
        rejected = pa.table(
            {
                "row_no": pa.array([r[0] for r in parsed.rejected], pa.int32()),
                "reason": pa.array([r[1] for r in parsed.rejected], pa.string()),
                "raw": pa.array([r[2] for r in parsed.rejected], pa.string()),
            }
        )
        pq.write_table(rejected, w.work_dir / "rejected.parquet")
        w.staged, w.status = str(w.work_dir / "staged.parquet"), "parsed"
        w.counts = {"rows_read": parsed.rows_read}
    return _dump(items)


def validate(works: Works, actor: ledger.Actor, *, db_url: str | None = None) -> Works:
    """Run the feed's GX suite; row failures become reason codes, file failures refuse the file."""
    items = _load(works)
    for i, w in enumerate(items):
        if w.status != "parsed":
            continue
        kind = feeds.get(w.feed).kind_for(w.name)
        try:
            table, result = validated_table(kind, w.name, pq.read_table(w.staged))
        except FileRejected as exc:
            if exc.validation is not None:
                _data_docs(w, kind.suite, exc.validation, actor)
            _refuse(items, i, str(exc), actor, db_url)
            continue
        _data_docs(w, kind.suite, result, actor)
        pq.write_table(table, w.work_dir / "validated.parquet")
        (w.work_dir / "validation.json").write_text(json.dumps(result.summary, indent=1))
        w.staged, w.status = str(w.work_dir / "validated.parquet"), "validated"
    return _dump(items)


def _data_docs(w: FileWork, suite: str, result: Validation, actor: ledger.Actor) -> None:
    """Keep the validation as a Data Docs page (counts only) and log where it is."""
    page = datadocs.write_page(w.feed, w.name, w.sha256, suite, result.gx_results, actor.run_id)
    w.data_docs = datadocs.ui_path(page)
    log.info("%s: Data Docs %s (file %s)", w.name, w.data_docs, page)


def _applied_elsewhere(w: FileWork, db_url: str | None) -> bool:
    with db.transaction(db_url) as conn:
        return any(
            e.file_name == w.name or e.sha256 == w.sha256 for e in ledger.applied_entries(conn, w.feed)
        )


def apply(works: Works, actor: ledger.Actor, *, feed: str | None = None, db_url: str | None = None) -> Works:
    """Apply the feed's accepted review items (:func:`apply_resolutions`, when ``feed`` is given),
    then each validated file in its own transaction, in name order."""
    resolutions = apply_resolutions(feed, actor, db_url=db_url) if feed else []
    items = _load(works)
    for w in items:
        if w.status == "duplicate":
            with db.transaction(db_url) as conn:
                original = conn.execute(
                    select(ingest_manifest.c.rows_read).where(
                        and_(
                            ingest_manifest.c.feed == w.feed,
                            ingest_manifest.c.sha256 == w.sha256,
                            ingest_manifest.c.status == "applied",
                        )
                    )
                ).scalar()
                if original is None:  # the twin is later in this same batch: count it when applied
                    continue
                mid = ledger.record_file(
                    conn,
                    feed=w.feed,
                    file_name=w.name,
                    sha256=w.sha256,
                    size=w.size,
                    status="duplicate",
                    reason=w.reason,
                    actor=actor,
                )
                w.counts = {"rows_read": original, "duplicates": original}
                ledger.set_counts(conn, mid, w.counts)
            continue
        if w.status != "validated":
            continue
        try:
            if _apply_file(w, actor, db_url):
                log.info("applied %s: %s", w.name, json.dumps(w.counts))
        except FileRejected as exc:  # e.g. a shrunken welfare snapshot: nothing was changed
            _refuse(items, items.index(w), str(exc), actor, db_url)
    return resolutions + _dump(items)


def apply_resolutions(feed: str, actor: ledger.Actor, *, db_url: str | None = None) -> Works:
    """The feed's accepted review items become registry changes, in one transaction, one manifest
    (``review-resolutions/<run_id>/<file>``) per original file; each is reported like a file.

    Runs on every run of a feed that writes review items, whether or not a file arrived. An item
    is applied once: a concurrent run that claimed the same items first makes this one a no-op."""
    from vaxreg.review import queue, resolutions

    if not feeds.get(feed).reviews:
        return []
    try:
        with db.transaction(db_url) as conn:
            done = resolutions.apply_resolutions(conn, feed, actor)
    except (IntegrityError, queue.ReviewConflict):
        with db.transaction(db_url) as conn:  # fine if another run has taken them all since
            if not queue.list_items(conn, feed=feed, status="accepted").empty:
                raise
        log.warning("review resolutions of %s: already applied by a concurrent run", feed)
        return []
    items = [
        FileWork(
            feed=feed, name=a.name, size=0, marker="", sha256=a.sha256, status="applied", counts=a.counts
        )
        for a in done
    ]
    for a in done:
        log.info(
            "applied %s (review items %s): %s", a.name, ",".join(map(str, a.items)), json.dumps(a.counts)
        )
    return _dump(items)


def _apply_file(w: FileWork, actor: ledger.Actor, db_url: str | None) -> bool:
    """Apply one validated file with its kind's apply step, in one transaction."""
    kind = feeds.get(w.feed).kind_for(w.name)
    staged = pq.read_table(w.staged)
    rejected = [
        (r["row_no"], r["reason"], r["raw"])
        for r in pq.read_table(w.work_dir / "rejected.parquet").to_pylist()
    ]

    def apply_file(conn: Connection, mid: int) -> ledger.Outcome:
        ctx = feeds.ApplyContext(
            feed=w.feed,
            kind=kind,
            manifest_id=mid,
            file_name=w.name,
            file_date=kind.layout.file_date(w.name),
            actor=actor,
            rejected=rejected,
            landing=Path(w.landing),
        )
        return kind.apply(conn, staged, ctx)

    return _apply_in_transaction(w, actor, db_url, apply_file)


def _apply_in_transaction(
    w: FileWork, actor: ledger.Actor, db_url: str | None, apply_file: Callable[[Connection, int], Any]
) -> bool:
    """One file in one transaction: its manifest row, the feed's changes, the counts.

    False when another run applied the same file first (the manifest's unique
    indexes keep it exactly once); any other failure rolls everything back and raises.
    """
    try:
        with db.transaction(db_url) as conn:
            mid = ledger.record_file(
                conn,
                feed=w.feed,
                file_name=w.name,
                sha256=w.sha256,
                size=w.size,
                status="applied",
                actor=actor,
            )
            counts = apply_file(conn, mid).as_dict()
            ledger.set_counts(conn, mid, {k: counts[k] for k in ledger.MANIFEST_COUNTS})
    except IntegrityError:
        if not _applied_elsewhere(w, db_url):
            raise
        w.status, w.reason = "skipped", "already applied by a concurrent run"
        return False
    w.status, w.counts = "applied", counts
    return True


def publish_outputs(
    feed: str,
    actor: ledger.Actor,
    *,
    day: dt.date | None = None,
    source_url: str | None = None,
    db_url: str | None = None,
) -> list[str]:
    """Publish the outputs the feed declares after its apply step (fees, VRS flags, …), each
    exactly once (``outputs.outbound.publish_once``); ``day`` (default today in Tokyo) names the
    dated files. Works from the registry, not only from this run's files: what an earlier run
    failed to publish, or left half-published, goes now."""
    from vaxreg import outputs

    names: list[str] = []
    for target in feeds.get(feed).after_apply:
        publish = outputs.publisher(target)
        with open_source(source_url or config.source_url()) as src:
            published = publish(src, actor, day or today(), db_url=db_url)
        log.info("%s: %s", target, ", ".join(published) or "nothing new")
        names += published
    return names


def today() -> dt.date:
    """Today in Asia/Tokyo (the municipality's date)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()


def file_summaries(works: Works) -> list[dict[str, Any]]:
    """One summary per file as they stand (no checks): what the report logs for a refusal too."""
    return [w.summary() for w in _load(works)]


def report(works: Works) -> list[dict[str, Any]]:
    """One summary per file; raises :class:`FeedRefused` when a file was refused."""
    items = _load(works)
    for w in items:
        c = w.counts
        if w.status in ("applied", "duplicate") and c:
            total = (
                c.get("accepted", 0) + c.get("quarantined", 0) + c.get("review", 0) + c.get("duplicates", 0)
            )
            if total != c.get("rows_read", 0):
                raise RuntimeError(f"{w.name}: counts do not add up ({total} != {c.get('rows_read')})")
    refused = [w for w in items if w.status == "refused"]
    if refused:
        held = sum(w.status == "held" for w in items)
        raise FeedRefused(
            "; ".join(
                f"{w.name} refused: {w.reason}" + (f" (Data Docs: {w.data_docs})" if w.data_docs else "")
                for w in refused
            )
            + (f" ({held} later file(s) held)" if held else "")
        )
    return [w.summary() for w in items]


def _release_memory() -> None:
    """Return what the previous step freed to the system (the Airflow tasks get this for free)."""
    pa.default_memory_pool().release_unused()


def run_feed(
    feed: str,
    actor: ledger.Actor,
    *,
    source_url: str | None = None,
    db_url: str | None = None,
    date: str | None = None,
) -> Works:
    """All steps in one process, as ``vaxreg run`` does; returns the final work list.

    ``date`` (YYYY-MM-DD, default today in Tokyo) names the dated outputs published after the
    apply step (the VRS flags file of the vrs feed)."""
    works = fetch(feed, actor, source_url=source_url, db_url=db_url)
    for step in (parse, validate):
        _release_memory()  # each step reads its input from disk: keep one step's peak, not their sum
        works = step(works, actor, db_url=db_url)
    _release_memory()
    works = apply(works, actor, feed=feed, db_url=db_url)
    day = dt.date.fromisoformat(date) if date else None
    publish_outputs(feed, actor, day=day, source_url=source_url, db_url=db_url)
    return works
