"""The migrated registry equals the SQLAlchemy metadata, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vaxreg.registry import db
from vaxreg.registry.db import MIGRATIONS
from vaxreg.registry.schema_privacy import is_registry_object
from vaxreg.registry.tables import all_metadata


def test_migrations_match_metadata(db_url: str) -> None:
    with db.engine(db_url).connect() as conn:
        # The My Number vault has its own metadata and, on PostgreSQL, its own schema (test_privacy_vault).
        ctx = MigrationContext.configure(conn, opts={"include_object": is_registry_object})
        diff = compare_metadata(ctx, all_metadata())
    assert diff == []


def test_upgrade_reaches_every_head_and_is_idempotent(db_url: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = ",".join(sorted(ScriptDirectory.from_config(cfg).get_heads()))
    assert db.upgrade(db_url) == db.upgrade(db_url) == heads
