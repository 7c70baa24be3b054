"""Running feeds and reading the registry in tests: SQL rows, a feed run with its report, a
snapshot of registry contents without clock columns, and a throwaway PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from vaxreg import pipeline
from vaxreg.registry import db, vault


def run(feed: str, source: str, db_url: str, date: str | None = "2026-06-01") -> list[dict]:
    """Every step of ``feed`` as ``vaxreg run`` does; the per-file summaries (raises on a refusal)."""
    actor = pipeline.make_actor(feed, run_id=f"test-{feed}", task_id="test")
    return pipeline.report(pipeline.run_feed(feed, actor, source_url=source, db_url=db_url, date=date))


def rows(db_url: str, sql: str) -> list[tuple]:
    with db.transaction(db_url) as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


TABLES = ("persons", "person_history", "my_number", "quarantine")


def snapshot(db_url: str, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple]]:
    """Registry contents without the columns a clock fills."""
    out = {}
    with db.transaction(db_url) as conn:
        for t in tables:
            if t == "my_number":  # the vault, decrypted (privacy.md P1)
                out[t] = sorted(vault.read_all(conn).items())
                continue
            cols = [
                c
                for c in db.engine(db_url).dialect.get_columns(conn, t)
                if c["name"] not in ("id", "recorded_at", "updated_at", "manifest_id")
            ]
            names = ", ".join(f"CAST({c['name']} AS TEXT)" for c in cols)
            out[t] = sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT {names} FROM {t}"))
        out["applied"] = sorted(
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT file_name, status, rows_read, accepted, quarantined, duplicates FROM ingest_manifest "
                "WHERE status <> 'refused'"
            )
        )
    return out


def pg_schema_url(base: str) -> Iterator[str]:
    from sqlalchemy import create_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        db.engine(url).dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema}_vault CASCADE")  # the test's vault (P1)
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
