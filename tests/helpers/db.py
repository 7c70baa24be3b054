"""Running feeds and reading the registry in tests: SQL rows, a feed run with its report, a
snapshot of registry contents without clock columns, and a throwaway PostgreSQL schema."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

from sqlalchemy import make_url

from vaxreg import pipeline
from vaxreg.registry import db, vault

from helpers.paths import REPO


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
    if "my_number" in tables:  # the vault, decrypted (privacy.md P1), as the vault login; its own
        # transaction, not nested in the one below (on SQLite both are the same file's write lock)
        with db.transaction(vault_url(db_url)) as vconn:
            out["my_number"] = sorted(vault.read_all(vconn).items())
    with db.transaction(db_url) as conn:
        for t in tables:
            if t == "my_number":
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


# The login roles of docker/registry-roles.sql, as the suite creates them (test names: roles are
# cluster-wide). The PostgreSQL registry of a test is migrated by OWNER and used by APP.
OWNER, APP, KEEPER = "vaxreg_test_owner", "vaxreg_test_app", "vaxreg_test_keeper"
ROLES_SQL = REPO / "docker" / "registry-roles.sql"


def create_logins(base: str, owner: str = OWNER, app: str = APP, keeper: str = KEEPER) -> None:
    """Replay docker/registry-roles.sql (the compose init's roles) with psql as the superuser of ``base``."""
    u = make_url(base)
    pw = {"owner_pw": "owner", "app_pw": "app", "keeper_pw": "keeper"}
    args = [f"-v{k}={v}" for k, v in {"owner": owner, "app": app, "keeper": keeper, **pw}.items()]
    env = {**os.environ, "PGHOST": u.host or "127.0.0.1", "PGPORT": str(u.port or 5432)}
    env |= {"PGUSER": u.username or "postgres", "PGDATABASE": u.database or "postgres"}
    if u.password:
        env["PGPASSWORD"] = u.password
    for attempt in range(3):  # two sessions creating the same role at once: the loser retries
        done = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args, "-f", str(ROLES_SQL)],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return
        if attempt == 2 or "already exists" not in done.stderr:
            raise RuntimeError(f"registry-roles.sql failed: {done.stderr.strip()}")


def login_url(url: str, login: str) -> str:
    """``url`` with another user (PostgreSQL); a SQLite URL unchanged."""
    if url.startswith("sqlite"):
        return url
    return make_url(url).set(username=login, password=None).render_as_string(hide_password=False)


def owner_url(url: str) -> str:
    """The owner login's URL of a test registry (migrations, the retention purge)."""
    return login_url(url, OWNER)


def vault_url(url: str) -> str:
    """The vault login's URL of a test registry (reads and rotates the vault, purges)."""
    return login_url(url, KEEPER)


def pg_schema_url(base: str, owner: str | None = None) -> Iterator[str]:
    """A throwaway schema (owned by ``owner`` when given) and the URL that uses it."""
    from sqlalchemy import create_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}" + (f" AUTHORIZATION {owner}" if owner else ""))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        for login in (None, OWNER, APP, KEEPER):
            db.engine(login_url(url, login) if login else url).dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema}_vault CASCADE")  # the test's vault (P1)
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
