"""The migrated registry equals the SQLAlchemy metadata, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vaxreg.registry import db
from vaxreg.registry.schema import metadata


def test_migrations_match_metadata(db_url: str) -> None:
    with db.engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    assert db.upgrade(db_url) == db.upgrade(db_url) == "0001"
