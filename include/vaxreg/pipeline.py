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

import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection, and_, select
from sqlalchemy.exc import IntegrityError

from vaxreg import config, feeds, quality
from vaxreg.registry import db, ledger
from vaxreg.registry.schema import ingest_manifest
from vaxreg.transport import open_source

log = logging.getLogger(__name__)

_DIGEST = re.compile(r"[0-9a-f]{64}")
SUITES = {"resident": "resident_diff", "clinic": "clinic_records", "otherward": "otherward_records"}
# Feeds with several file layouts: one suite per layout kind (feeds.Layout.kind).
SUITES |= {k: k for k in ("welfare_seiho", "welfare_techo", "vrs_subjects", "vrs_records")}
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "resident": (
        "event_date",
        "notified_date",
        "birth_date",
        "address_date",
        "resident_since",
        "foreign_resident_since",
        "removed_date",
    )
}
DATE_COLUMNS |= {"clinic": ("birth_date", "dose_date"), "otherward": ("birth_date", "dose_date")}
WAREKI_FEEDS = frozenset({"clinic", "otherward"})  # dates are EYYMMDD (feeds.md §1)
DOSE_FEEDS = frozenset({"clinic", "otherward"})  # applied by registry/doses.py
DERIVED_KINDS = frozenset({"welfare_seiho", "welfare_techo", "vrs_subjects", "vrs_records"})
PURPOSES = {
    "resident": "予防接種台帳の住民異動反映 (resident registry sync for vaccination affairs)",
    "clinic": "医師会接種記録の台帳登録・委託料算定 (clinic vaccination records and commission fees)",
    "otherward": "他区接種分の台帳登録 (vaccinations of our residents in other wards)",
    "welfare": "生活保護・障害者手帳による自己負担区分・B類対象判定 (self-pay class and B-class eligibility)",
    "vrs": "VRS接種記録の台帳登録・転出死亡の連携 (COVID-19 records from VRS; move-out/death flags to VRS)",
}


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
    return ledger.Actor(dag_id=dag_id, run_id=run_id, task_id=task_id, purpose=PURPOSES[feed])


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
    layout = feeds.LAYOUTS[feed]
    with db.transaction(db_url) as conn:
        seen = ledger.applied_entries(conn, feed)
    by_name = {e.file_name: e.sha256 for e in seen}
    by_sha = {e.sha256: e.file_name for e in seen if e.status == "applied"}
    items: list[FileWork] = []
    with open_source(source_url or config.source_url()) as src:
        for f in sorted(src.list_complete(feed), key=lambda f: feeds.order_key(feed, f.name)):
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
                layout.file_date(f.name)
            except feeds.FileRejected as exc:
                _refuse(items, i, str(exc), actor, db_url)
                continue
            tmp = config.staging_dir() / "landing" / feed / ".incoming" / f.name
            tmp.parent.mkdir(parents=True, exist_ok=True)
            w.sha256 = src.download(feed, f.name, tmp)
            landing = config.staging_dir() / "landing" / feed / w.sha256[:16] / f.name
            landing.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(landing)
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
        try:
            layout = feeds.layout_for(w.feed, w.name, Path(w.landing))
            feeds.check_file_name(layout, w.name)
            parsed = feeds.parse_csv(Path(w.landing), layout)
        except feeds.FileRejected as exc:
            _refuse(items, i, str(exc), actor, db_url)
            continue
        table = parsed.table
        content = [c for c in layout.fields if c != "seq"]
        if layout.kind == "vrs_records":  # 1M wide rows: no frame of 57 text columns
            is_dup = _duplicated(table.select(content))
        else:
            is_dup = table.select(content).to_pandas().duplicated(keep="first").to_numpy()
        for col in layout.sensitive:
            table = table.append_column(f"{col}__status", quality.kojin_no_status(table.column(col)))
        table = table.drop_columns(list(layout.sensitive)).append_column("is_duplicate", pa.array(is_dup))
        if layout.kind == "vrs_records":  # wide → long: one row per dose (vrs.md)
            table, empty = feeds.unpivot_vrs(table)
            parsed.rejected = sorted(parsed.rejected + empty)
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
        try:
            table, result = validated_table(w.feed, w.name, pq.read_table(w.staged))
        except feeds.FileRejected as exc:
            _refuse(items, i, str(exc), actor, db_url)
            continue
        pq.write_table(table, w.work_dir / "validated.parquet")
        (w.work_dir / "validation.json").write_text(json.dumps(result.summary, indent=1))
        w.staged, w.status = str(w.work_dir / "validated.parquet"), "validated"
    return _dump(items)


def validated_table(feed: str, name: str, table: pa.Table) -> tuple[pa.Table, quality.Validation]:
    """The staged table of file ``name`` with its derived columns and ``reasons`` (the suite's
    row verdicts); raises :class:`feeds.FileRejected` on a file-level failure. Also re-validates
    the received rows of accepted review items (registry/review.py) exactly as their file was."""
    layout = feeds.layout_for(feed, name)
    file_date = layout.file_date(name)
    date_columns: tuple[str, ...] = DATE_COLUMNS.get(feed, ())
    if feed in WAREKI_FEEDS:
        table = _derived_columns(table, layout, name)
        date_columns = ()  # parsed above, as wareki
    elif layout.kind in DERIVED_KINDS:
        from vaxreg.registry import vrs, welfare

        derive = welfare.derived_columns if feed == "welfare" else vrs.derived_columns
        table = derive(table, layout.kind)
        date_columns = ()
    if layout.kind == "vrs_records":  # millions of doses: the suite on bounded slices
        result = _validate_in_slices(table, layout, SUITES[layout.kind], file_date)
    else:
        result = quality.validate_table(table, layout, SUITES[layout.kind or feed], date_columns, file_date)
    return table.append_column("reasons", pa.array(result.reasons, pa.string())), result


def _duplicated(table: pa.Table) -> np.ndarray:
    """``DataFrame.duplicated(keep="first")`` of a table of text columns, columnar (nulls equal)."""
    n = table.num_rows
    if n == 0 or table.num_columns == 0:
        return np.zeros(n, dtype=bool)
    idx = table.append_column("__i", pa.array(np.arange(n)))
    firsts = idx.group_by(table.column_names, use_threads=False).aggregate([("__i", "min")])
    dup = np.ones(n, dtype=bool)
    dup[firsts.column("__i_min").to_numpy()] = False
    return dup


VALIDATION_SLICE = 500_000  # rows per GX run of the VRS records: bounded memory


def _validate_in_slices(
    table: pa.Table, layout: feeds.Layout, suite: str, file_date: dt.date
) -> quality.Validation:
    """The suite of row-level checks run on slices of rows; the verdicts are those of the whole
    table (table-level expectations hold per slice: the columns, at least one row)."""
    out: quality.Validation | None = None
    for start in range(0, max(table.num_rows, 1), VALIDATION_SLICE):
        part = quality.validate_table(table.slice(start, VALIDATION_SLICE), layout, suite, (), file_date)
        if out is None:
            out = part
            continue
        out.reasons += part.reasons
        for total, s in zip(out.summary, part.summary, strict=True):
            total["failed"] += s["failed"]
    assert out is not None
    return out


def _derived_columns(table: pa.Table, layout: feeds.Layout, name: str) -> pa.Table:
    """What the clinic/other-ward suites check besides the received text: wareki dates parsed
    (``<col>__date``), the municipality-code check digit, and the ward of the file name."""
    from vaxreg import identity

    for col in DATE_COLUMNS[layout.feed]:
        table = table.append_column(
            f"{col}__date", identity.parse_wareki_dates(table.column(col).combine_chunks())
        )
    place = table.column("place_code").combine_chunks()
    valid = identity.municipality_code_valid_mask(place)
    table = table.append_column("place_code__check", pa.array(valid.astype(bool)))
    if "ward" in layout.file_pattern.groupindex:
        ward = layout.name_part(name, "ward")
        table = table.append_column("file_ward", pa.repeat(pa.scalar(ward, pa.string()), table.num_rows))
    return table


def _checked_my_numbers(w: FileWork, rows: pa.Array) -> pd.DataFrame:
    """(row_no, kojin_no) of the given rows whose My Number passed its check, from the landing copy.

    My Number never goes to staging; apply reads it back from the raw file it came in.
    """
    t = feeds.parse_csv(Path(w.landing), feeds.layout_for(w.feed, w.name), only=("kojin_no",)).table
    t = t.filter(pc.is_in(t.column("row_no"), rows))
    t = t.filter(pc.equal(quality.kojin_no_status(t.column("kojin_no")), "valid"))
    return t.to_pandas()


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
        staged = pq.read_table(w.staged)
        rejected = pq.read_table(w.work_dir / "rejected.parquet").to_pylist()
        if w.feed in DOSE_FEEDS:
            apply_one = _apply_doses
        elif w.feed in ("welfare", "vrs"):
            apply_one = _apply_other
        else:
            apply_one = _apply_resident
        try:
            if apply_one(w, staged, rejected, actor, db_url):
                log.info("applied %s: %s", w.name, json.dumps(w.counts))
        except feeds.FileRejected as exc:  # e.g. a shrunken welfare snapshot: nothing was changed
            _refuse(items, items.index(w), str(exc), actor, db_url)
    return resolutions + _dump(items)


def apply_resolutions(feed: str, actor: ledger.Actor, *, db_url: str | None = None) -> Works:
    """The feed's accepted review items become registry changes, in one transaction, one manifest
    (``review-resolutions/<run_id>/<file>``) per original file; each is reported like a file.

    Runs on every run of a feed that writes review items, whether or not a file arrived. An item
    is applied once: a concurrent run that claimed the same items first makes this one a no-op."""
    from vaxreg.registry import review

    if feed not in review.FEEDS:
        return []
    try:
        with db.transaction(db_url) as conn:
            done = review.apply_resolutions(conn, feed, actor)
    except (IntegrityError, review.ReviewConflict):
        with db.transaction(db_url) as conn:  # fine if another run has taken them all since
            if not review.list_items(conn, feed=feed, status="accepted").empty:
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


def _apply_resident(
    w: FileWork, staged: pa.Table, rejected: list[dict[str, Any]], actor: ledger.Actor, db_url: str | None
) -> bool:
    """Apply one resident diff in one transaction (registry/resident.py)."""
    from vaxreg.registry import resident

    numbers = _checked_my_numbers(w, staged.column("row_no").combine_chunks())
    return _apply_in_transaction(
        w,
        actor,
        db_url,
        lambda conn, mid: resident.apply_file(
            conn, staged, numbers, manifest_id=mid, file_name=w.name, rejected=_rows(rejected), actor=actor
        ),
    )


def _apply_doses(
    w: FileWork, staged: pa.Table, rejected: list[dict[str, Any]], actor: ledger.Actor, db_url: str | None
) -> bool:
    """Reconcile, rule check and load one clinic/other-ward file in one transaction."""
    from vaxreg.registry import doses

    return _apply_in_transaction(
        w,
        actor,
        db_url,
        lambda conn, mid: doses.apply_file(
            conn,
            staged,
            feed=w.feed,
            manifest_id=mid,
            file_name=w.name,
            file_date=feeds.LAYOUTS[w.feed].file_date(w.name),
            rejected=_rows(rejected),
            actor=actor,
        ),
    )


def _apply_other(
    w: FileWork, staged: pa.Table, rejected: list[dict[str, Any]], actor: ledger.Actor, db_url: str | None
) -> bool:
    """Apply one welfare snapshot or VRS file in one transaction (registry/welfare.py, registry/vrs.py)."""
    from vaxreg.registry import vrs, welfare

    layout = feeds.layout_for(w.feed, w.name)
    apply_file = welfare.apply_file if w.feed == "welfare" else vrs.apply_file
    return _apply_in_transaction(
        w,
        actor,
        db_url,
        lambda conn, mid: apply_file(
            conn,
            staged,
            kind=layout.kind,
            manifest_id=mid,
            file_name=w.name,
            file_date=layout.file_date(w.name),
            rejected=_rows(rejected),
            actor=actor,
        ),
    )


def _rows(rejected: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    return [(r["row_no"], r["reason"], r["raw"]) for r in rejected]


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


def vrs_flags(
    works: Works,
    actor: ledger.Actor,
    *,
    date: str | None = None,
    source_url: str | None = None,
    db_url: str | None = None,
) -> Works:
    """Publish ``inbox/vrs/VRS_FLAGS_YYYYMMDD.csv``: move-outs and deaths not yet sent (feeds.md §7)."""
    import datetime as dt

    from vaxreg.registry import vrs

    day = dt.date.fromisoformat(date) if date else config_today()
    with db.transaction(db_url) as conn, open_source(source_url or config.source_url()) as src:
        name = vrs.publish_flags(conn, src, actor, day)
    log.info("vrs flags: %s", name or "nothing new")
    return works


def config_today() -> Any:
    """Today in Asia/Tokyo (the municipality's date)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()


def fees(
    works: Works, actor: ledger.Actor, *, source_url: str | None = None, db_url: str | None = None
) -> Works:
    """Publish the commission-fee statements not yet published (FEES_YYYYMM.csv + detail).

    Works from the registry, not only from this run's files: a statement whose publication
    failed in an earlier run is published by the next one.
    """
    from vaxreg import fees as fee_module

    with db.transaction(db_url) as conn, open_source(source_url or config.source_url()) as src:
        names = fee_module.publish_statements(conn, src, actor)
    log.info("fees: published %s", ", ".join(names) or "nothing new")
    return works


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
            "; ".join(f"{w.name} refused: {w.reason}" for w in refused)
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

    ``date`` (YYYY-MM-DD, default today in Tokyo) names the VRS flags file of the vrs feed."""
    works = fetch(feed, actor, source_url=source_url, db_url=db_url)
    for step in (parse, validate):
        _release_memory()  # each step reads its input from disk: keep one step's peak, not their sum
        works = step(works, actor, db_url=db_url)
    _release_memory()
    works = apply(works, actor, feed=feed, db_url=db_url)
    if feed in DOSE_FEEDS:
        works = fees(works, actor, source_url=source_url, db_url=db_url)
    if feed == "vrs":
        works = vrs_flags(works, actor, date=date, source_url=source_url, db_url=db_url)
    return works
