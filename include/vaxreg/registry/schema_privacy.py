"""Privacy tables (privacy.md P1, P4, P6): the My Number vault, the audit hash chain, the deletion log.

* ``audit_log`` (core) gains ``prev_hash`` and ``row_hash``: each record is chained
  to the one before it (:mod:`vaxreg.registry.audit`).
* ``deletion_log``: one row per retention policy per real purge run; never purged.
* ``my_number_vault``: My Number, encrypted (AES-256-GCM) with a keyed HMAC for
  equality look-ups. It is declared on its **own** metadata, :data:`vault_metadata`,
  not on the registry's: on PostgreSQL it lives in a schema of its own
  (``<registry schema>_vault``), readable only by the role ``vaxreg_vault``; on
  SQLite (no schemas, no roles) it is a table of the same file, encrypted all the
  same. :func:`is_registry_object` tells schema comparisons to leave it out.

Created by the alembic branch ``privacy`` (``0002_privacy``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from vaxreg.registry.schema import Id, audit_log, metadata

# The audit hash chain (privacy.md P4): appended to the core table, created by 0002_privacy.
if "row_hash" not in audit_log.c:
    audit_log.append_column(Column("prev_hash", String(64), nullable=False))
    audit_log.append_column(Column("row_hash", String(64), nullable=False))

# Deletion log (privacy.md P6): what a purge deleted, per policy, never the data itself. Never purged.
deletion_log = Table(
    "deletion_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("policy", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("basis", String(24), nullable=False),
    Column("period", String(16), nullable=False),
    Column("as_of", Date, nullable=False),  # the run's logical date (never the clock)
    Column("cutoff", Date, nullable=False),  # data whose basis date is before this day was deleted
    Column("deleted", Integer, nullable=False),
    Column("counts", Text, nullable=False),  # JSON {table or area: rows or files}
    Column("digest", String(64), nullable=False),  # SHA-256 of the sorted deleted keys
    Column("note", Text),  # e.g. a table that does not exist (yet) and was skipped
    Column("anchor_id", BigInteger),  # audit policy: the first audit record kept ...
    Column("anchor_hash", String(64)),  # ... and the hash it continues from (the last one deleted)
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Index("ix_deletion_log_run_id", "run_id"),
)

# The My Number vault: its own metadata, its own schema on PostgreSQL (privacy.md P1).
vault_metadata = MetaData()
VAULT_TABLE = "my_number_vault"
my_number_vault = Table(
    VAULT_TABLE,
    vault_metadata,
    Column("atena_no", String(10), primary_key=True),
    Column("key_id", String(16), nullable=False),  # which key encrypted it (rotation)
    Column("ciphertext", LargeBinary, nullable=False),  # 12-byte nonce + AES-256-GCM ciphertext and tag
    Column("lookup_hmac", String(64), nullable=False),  # HMAC-SHA256 of the number: equality look-ups
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_my_number_vault_lookup_hmac", "lookup_hmac"),
)


def is_registry_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """alembic ``include_object``: everything but the vault, which has its own metadata and schema."""
    return not (type_ == "table" and name == VAULT_TABLE) and not (
        type_ == "index" and getattr(getattr(obj, "table", None), "name", None) == VAULT_TABLE
    )


__all__ = ["VAULT_TABLE", "deletion_log", "is_registry_object", "my_number_vault", "vault_metadata"]
