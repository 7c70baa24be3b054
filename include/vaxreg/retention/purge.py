"""Retention purge with logged deletion (privacy.md P6): the ``retention_purge`` DAG and ``vaxreg purge``.

Policies are data (``data/retention.yaml``, reviewed like code). A run takes its
logical date ``as_of``; each policy's cut-off is ``as_of`` minus its period (never
the clock), and data whose basis date is before the cut-off is expired. Each
policy runs in **one transaction**: it selects the expired keys, deletes exactly
them (a different row count rolls the policy back), writes one ``deletion_log``
row (run, policy, cut-off, counts, SHA-256 of the sorted deleted keys; no personal
data) and one audit record. A dry run selects the same keys and reports the same
figures, and writes and deletes nothing. After a real run PostgreSQL tables that
lost rows are vacuumed (SQLite: the file is vacuumed and the WAL truncated), and a
deletion certificate (消去証明) is written as HTML and CSV.

A living resident (status ``resident``) is never purged: person policies select
only deceased, moved-out or removed persons, by their 消除日.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, inspect

from vaxreg import config
from vaxreg.registry import audit, db, ledger, vault
from vaxreg.retention.certificate import write_certificate
from vaxreg.retention.policies import PERSON_STATUSES, Policy, load_policies

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Tokyo")
PURPOSE = "保存期間経過データの消去 (retention purge, privacy.md P6)"


@dataclasses.dataclass
class PolicyResult:
    policy: str
    kind: str
    basis: str
    period: str
    as_of: str
    cutoff: str | None
    deleted: int = 0
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    digest: str = hashlib.sha256(b"").hexdigest()
    note: str = ""
    anchor_id: int | None = None
    anchor_hash: str | None = None


@dataclasses.dataclass
class RunResult:
    run_id: str
    as_of: str
    dry_run: bool
    policies: list[PolicyResult]
    vacuumed: list[str] = dataclasses.field(default_factory=list)
    certificate: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _digest(keys: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()


def _instant(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` in Asia/Tokyo, in UTC (timestamps are stored in UTC)."""
    return dt.datetime.combine(day, dt.time(0), TZ).astimezone(dt.UTC)


def _instant_param(conn: Connection, day: dt.date) -> Any:
    at = _instant(day)
    return at if db.is_postgres(conn) else at.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def _ts(conn: Connection, expr: str) -> str:
    """A timestamp expression comparable as a time (SQLite keeps text; julianday reads any ISO form,
    with or without an offset, to the millisecond)."""
    return expr if db.is_postgres(conn) else f"julianday({expr})"


def _table_sql(conn: Connection, table: str) -> str | None:
    """The table's SQL name, or None when it does not exist (yet)."""
    if table == vault.VAULT_TABLE:
        schema = vault.schema_name(conn)
        return vault.table(conn) if inspect(conn).has_table(table, schema=schema) else None
    return table if inspect(conn).has_table(table) else None


def _delete_exactly(conn: Connection, sql_table: str, where: str, params: tuple, expected: int) -> None:
    n = conn.exec_driver_sql(f"DELETE FROM {sql_table} WHERE {where}", params).rowcount
    if n != expected:
        raise RuntimeError(f"{sql_table}: {n} rows matched at delete, {expected} at selection; rolled back")


# --- the kinds of policy ---------------------------------------------------------------------------


def _files(p: Policy, res: PolicyResult, cutoff: dt.date, dry_run: bool) -> list[Path]:
    """Units under staging/<area>/<feed>/: a content folder (or stray file); its time is its newest file."""
    root = config.staging_dir() / str(p.area)
    limit = _instant(cutoff).timestamp()
    expired: list[Path] = []
    files = 0
    for feed in sorted(x for x in root.glob("*") if x.is_dir()) if root.exists() else []:
        for unit in sorted(feed.iterdir()):
            members = [unit] if unit.is_file() else [f for f in unit.rglob("*") if f.is_file()]
            newest = max((f.stat().st_mtime for f in members), default=unit.stat().st_mtime)
            if newest < limit:
                expired.append(unit)
                files += len(members)
    res.counts = {"folders": len(expired), "files": files}
    res.deleted = len(expired)
    res.digest = _digest(str(u.relative_to(config.staging_dir())) for u in expired)
    return expired


def _rows(conn: Connection, p: Policy, res: PolicyResult, cutoff: dt.date, dry_run: bool) -> None:
    table = _table_sql(conn, str(p.table))
    if table is None:
        res.note = f"table {p.table} does not exist: skipped"
        res.counts = {str(p.table): 0}
        return
    where = f"{p.date_column} IS NOT NULL AND {_ts(conn, str(p.date_column))} < {_ts(conn, db.mark(conn))}"
    params = (_instant_param(conn, cutoff),)
    keys = [str(r[0]) for r in conn.exec_driver_sql(f"SELECT {p.key} FROM {table} WHERE {where}", params)]
    res.counts, res.deleted = {str(p.table): len(keys)}, len(keys)
    res.digest = _digest(f"{p.table}:{k}" for k in keys)
    if not dry_run and keys:
        _delete_exactly(conn, table, where, params, len(keys))


def _audit(conn: Connection, p: Policy, res: PolicyResult, cutoff: dt.date, dry_run: bool) -> None:
    """The oldest records, as a prefix of the chain: up to the first record that is not expired."""
    at = _instant_param(conn, cutoff)
    m = db.mark(conn)
    first_kept = conn.exec_driver_sql(
        f"SELECT MIN(id) FROM audit_log WHERE at >= {m}",
        (at,),  # one text form on SQLite: exact to the µs
    ).scalar()
    where = "id < " + m if first_kept is not None else "id IS NOT NULL"
    params: tuple = (first_kept,) if first_kept is not None else ()
    rows = conn.exec_driver_sql(
        f"SELECT id, row_hash FROM audit_log WHERE {where} ORDER BY id", params
    ).fetchall()
    res.counts, res.deleted = {"audit_log": len(rows)}, len(rows)
    res.digest = _digest(f"audit_log:{r[0]}" for r in rows)
    if rows:
        res.anchor_id, res.anchor_hash = int(rows[-1][0]), str(rows[-1][1])
    if not dry_run and rows:
        audit.lock_and_last_hash(conn)  # no audit writer may interleave
        _delete_exactly(conn, "audit_log", where, params, len(rows))


def _persons(conn: Connection, p: Policy, res: PolicyResult, cutoff: dt.date, dry_run: bool) -> None:
    statuses = PERSON_STATUSES[p.basis]
    m = db.mark(conn)
    who = (
        f"SELECT atena_no FROM persons WHERE status IN ({', '.join(m for _ in statuses)}) "
        f"AND COALESCE(removed_date, valid_from) < {m}"
    )
    params = (*statuses, cutoff if db.is_postgres(conn) else cutoff.isoformat())
    keys: list[str] = []
    skipped = []
    for name, key, column, through in p.tables:  # through: "table" or "table.column"
        other, _, other_key = through.partition(".")
        table = _table_sql(conn, name)
        if table is None or (other and _table_sql(conn, other) is None):
            skipped.append(name)
            continue
        where = f"atena_no IN ({who})"
        if other:  # rows keyed by a column of the person's rows in another table
            where = f"{column} IN (SELECT {other_key or 'id'} FROM {other} WHERE {where})"
        found = [str(r[0]) for r in conn.exec_driver_sql(f"SELECT {key} FROM {table} WHERE {where}", params)]
        res.counts[name] = res.counts.get(name, 0) + len(found)
        keys += [f"{name}:{k}" for k in found]
        if not dry_run and found:
            _delete_exactly(conn, table, where, params, len(found))
    res.deleted = res.counts.get("persons", 0)
    res.digest = _digest(keys)
    if skipped:
        res.note = f"table(s) {', '.join(skipped)} do not exist: skipped"


def _log(conn: Connection, run_id: str, p: Policy, res: PolicyResult, started: str) -> None:
    from vaxreg.registry.schema_privacy import deletion_log

    conn.execute(
        deletion_log.insert().values(
            run_id=run_id,
            policy=p.name,
            kind=p.kind,
            basis=p.basis,
            period=p.period,
            as_of=dt.date.fromisoformat(res.as_of),
            cutoff=dt.date.fromisoformat(res.cutoff or res.as_of),
            deleted=res.deleted,
            counts=json.dumps(res.counts, sort_keys=True),
            digest=res.digest,
            note=res.note or None,
            anchor_id=res.anchor_id,
            anchor_hash=res.anchor_hash,
            started_at=dt.datetime.fromisoformat(started),
            finished_at=ledger.now(),
        )
    )


def purge(
    as_of: dt.date,
    *,
    dry_run: bool,
    run_id: str,
    db_url: str | None = None,
    policies_path: Path | None = None,
    actor: ledger.Actor | None = None,
    certificate_dir: Path | None = None,
    certificate: bool = True,
) -> RunResult:
    """Apply every policy as of ``as_of``; returns the figures (the same in a dry run)."""
    policies, vacuum_mode = load_policies(policies_path)
    actor = actor or ledger.Actor(dag_id="cli", run_id=run_id, task_id="purge", purpose=PURPOSE)
    result = RunResult(run_id=run_id, as_of=as_of.isoformat(), dry_run=dry_run, policies=[])
    touched: set[str] = set()
    for p in policies:
        cutoff = p.cutoff(as_of)
        res = PolicyResult(
            p.name, p.kind, p.basis, p.period, as_of.isoformat(), cutoff.isoformat() if cutoff else None
        )
        started = ledger.now().isoformat()
        with db.transaction(db_url) as conn:
            expired: list[Path] = []
            if cutoff is None:
                res.note = "kept for ever"
            elif p.kind == "files":
                expired = _files(p, res, cutoff, dry_run)
            elif p.kind == "rows":
                _rows(conn, p, res, cutoff, dry_run)
            elif p.kind == "audit":
                _audit(conn, p, res, cutoff, dry_run)
            elif p.kind == "person":
                _persons(conn, p, res, cutoff, dry_run)
            if not dry_run:
                _log(conn, run_id, p, res, started)
                detail: dict[str, object] = {"policy": p.name, "cutoff": res.cutoff, "deleted": res.deleted}
                ledger.audit_event(
                    conn,
                    actor,
                    "purge",
                    str(p.table or p.area or "persons")[:32],
                    detail | {"digest": res.digest},
                )
                for unit in expired:  # files go inside the policy's transaction: a failure rolls the log back
                    shutil.rmtree(unit) if unit.is_dir() else unit.unlink()
                touched |= {t for t, n in res.counts.items() if n and p.kind in ("rows", "audit", "person")}
        result.policies.append(res)
        log.debug("purge %s%s: %s", p.name, " (dry run)" if dry_run else "", res.counts or res.note)
    if not dry_run:
        result.vacuumed = vacuum(sorted(touched), full=vacuum_mode == "full", db_url=db_url)
        result.certificate = [
            str(x) for x in write_certificate(run_id, db_url=db_url, folder=certificate_dir)
        ]
    return result


def vacuum(tables: list[str], *, full: bool = False, db_url: str | None = None) -> list[str]:
    """Make deleted rows unrecoverable from the database files (outside any transaction)."""
    if not tables:
        return []
    eng = db.engine(db_url)
    if eng.dialect.name == "postgresql":
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            names = [_table_sql(conn, t) or t for t in tables]
            for name in names:
                conn.exec_driver_sql(f"VACUUM ({'FULL, ' if full else ''}ANALYZE) {name}")
        return names
    raw = eng.raw_connection()
    try:
        dbapi = raw.driver_connection
        assert dbapi is not None
        dbapi.execute("VACUUM")
        dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    return ["(database file)"]


def format_result(r: RunResult) -> str:
    lines = [
        f"retention purge as of {r.as_of}{' — DRY RUN, nothing deleted' if r.dry_run else ''} "
        f"(run {r.run_id})",
        f"  {'policy':<20} {'basis':<17} {'period':<9} {'cut-off':<10} {'deleted':>8}  counts",
    ]
    for p in r.policies:
        counts = ", ".join(f"{k} {v:,}" for k, v in p.counts.items())
        lines.append(
            f"  {p.policy:<20} {p.basis:<17} {p.period:<9} {p.cutoff or '-':<10} {p.deleted:>8,}  "
            f"{counts}{'; ' if counts and p.note else ''}{p.note}"
        )
    if r.vacuumed:
        lines.append(f"vacuumed: {', '.join(r.vacuumed)}")
    if r.certificate:
        lines.append(f"deletion certificate: {', '.join(r.certificate)}")
    return "\n".join(lines)


def logical_day(context: dict[str, Any]) -> dt.date:
    """The run's logical date in Asia/Tokyo (never the clock): logical_date, else run_after."""
    when = context.get("logical_date") or context["dag_run"].run_after
    return when.astimezone(TZ).date()


def run_is_dry(param: object, run_type: object) -> bool:
    """A run of the ``retention_purge`` DAG: scheduled runs purge; any other run (triggered by hand,
    a test) follows its ``dry_run`` param, which defaults to a dry run."""
    if str(getattr(run_type, "value", run_type)) == "scheduled":
        return False
    return dry_run_param(param)


def dry_run_param(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
