"""Registry tables (SQLAlchemy Core). The alembic migrations create exactly these.

Dates are DATE columns (ISO text on SQLite). Timestamps are UTC. The same
definitions serve SQLite (embedded) and PostgreSQL (production); a test checks
that the migrated database matches this metadata on both.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid

PERSON_STATUSES = ("resident", "moved_out", "deceased", "removed")


def _person_attributes() -> list[Column]:
    """Every attribute the resident feed (住民異動差分) carries, except My Number."""
    return [
        Column("name_kanji", Text, nullable=False),
        Column("name_kana", Text, nullable=False),
        Column("name_alpha", Text),
        Column("birth_date", Date, nullable=False),
        Column("sex", String(1), nullable=False),
        Column("household_no", String(10), nullable=False),
        Column("relationship", Text),
        Column("householder_name", Text),
        Column("address", Text),
        Column("address_date", Date),
        Column("resident_since", Date),
        Column("resident_class", String(1)),
        Column("foreign_resident_since", Date),
        Column("removed_date", Date),
    ]


PERSON_ATTRIBUTES = tuple(c.name for c in _person_attributes())


def _version_columns() -> list[Column]:
    """What made a version: the event, its date, the file row, and who decided (privacy.md P5)."""
    return [
        Column("version", Integer, nullable=False),
        Column("valid_from", Date, nullable=False),  # the event date
        Column("event_code", String(2), nullable=False),
        Column("manifest_id", BigInteger, nullable=False),
        Column("seq", Integer, nullable=False),
        Column("decided_by", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    ]


VERSION_COLUMNS = tuple(c.name for c in _version_columns())

# The current version of each person (宛名). Removed and deceased persons stay.
persons = Table(
    "persons",
    metadata,
    Column("atena_no", String(10), primary_key=True),
    Column("status", String(10), nullable=False),
    *_person_attributes(),
    *_version_columns(),
)

# Every superseded version: the same columns as persons, valid until valid_to.
person_history = Table(
    "person_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("atena_no", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    *_person_attributes(),
    *_version_columns(),
    Column("valid_to", Date, nullable=False),
    UniqueConstraint("atena_no", "version"),
)

# My Number (個人番号) is not here: it lives encrypted in the vault, registry/schema_privacy.py (P1).

# One row per file seen: applied, duplicate content under another name, or refused.
ingest_manifest = Table(
    "ingest_manifest",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed", String(16), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),  # applied | duplicate | refused
    Column("reason", Text),
    Column("rows_read", Integer, nullable=False, server_default=text("0")),
    Column("accepted", Integer, nullable=False, server_default=text("0")),
    Column("quarantined", Integer, nullable=False, server_default=text("0")),
    Column("review", Integer, nullable=False, server_default=text("0")),
    Column("duplicates", Integer, nullable=False, server_default=text("0")),
    Column("run_id", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # Exactly once: a file name, and a content, are applied at most once per feed.
    Index(
        "uq_ingest_manifest_name",
        "feed",
        "file_name",
        unique=True,
        sqlite_where=text("status IN ('applied', 'duplicate')"),
        postgresql_where=text("status IN ('applied', 'duplicate')"),
    ),
    Index(
        "uq_ingest_manifest_content",
        "feed",
        "sha256",
        unique=True,
        sqlite_where=text("status = 'applied'"),
        postgresql_where=text("status = 'applied'"),
    ),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed", String(16), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("manifest_id", BigInteger, nullable=False),
    Column("row_no", Integer, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("raw_row", Text, nullable=False),  # JSON of the received row, My Number removed
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    UniqueConstraint("manifest_id", "row_no"),
)

# 操作記録: every registry change and every export of personal data (privacy.md P4).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("dag_id", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("task_id", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("action", String(16), nullable=False),  # insert | update | export | ingest
    Column("table_name", String(32), nullable=False),
    Column("atena_no", String(10)),
    Column("fields_changed", Text),
    Column("detail", Text),
    Index("ix_audit_log_atena_no", "atena_no"),
)
