"""The ledger of outbound files (feeds.md §7, outputs.md): one row per file the registry gives
out, the unit that makes publishing a file and recording it exactly-once
(:func:`vaxreg.outputs.outbound.publish_once`).

A row is ``prepared`` with the file's bytes (zlib-compressed, they may hold names and
addresses) in the same transaction as the output's own records (flags sent, statement totals,
forms issued …); it becomes ``published`` once the file and its marker are in the inbox, and its
bytes are then cleared. Alembic branch ``outbound`` (``0005_outbound``). No My Number here.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from vaxreg.registry.schema import Id, metadata

OUTBOUND_STATES = ("prepared", "published")

outbound_files = Table(
    "outbound_files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("target", String(32), nullable=False),  # folder under inbox/
    Column("kind", String(32), nullable=False),  # the layout (outputs/outbound.LAYOUTS)
    Column("file_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger),  # NULL only for files recorded before this ledger existed
    Column("rows", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # prepared | published
    Column("content", LargeBinary),  # zlib of the file's bytes while prepared; NULL once published
    Column("run_id", Text, nullable=False),  # the run that prepared it
    Column("prepared_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("published_run_id", Text),
    Column("outcome", String(10)),  # written | adopted (the file was found in place with our bytes)
    Column("last_error", Text),  # one line: why the last attempt to complete it failed
    UniqueConstraint("target", "file_name", name="uq_outbound_files_name"),
    Index("ix_outbound_files_state", "state"),
)
