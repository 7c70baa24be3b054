"""Tables of the exchange with other municipalities (outputs.md §5–§6): integrated numbers,
the provision copy's sent state, move-ins and their history inquiries.

* ``integrated_numbers``: 団体内統合宛名番号, one row per assignment (``released_date`` NULL while
  it holds). Kept apart from ``persons`` like the vault: read by the network outputs only, never
  used for matching. The history of assignments and releases is the rows themselves.
* ``provision_sent``: what the provision copy (副本) has sent, one row per dose version and
  operation (A/U/D). It holds no atena_no: a purged person's doses are found gone and sent as D
  with the number stored here. ``closed_at`` is set on every row of a dose once its D is sent
  (the retention clock).
* ``move_ins``: a move-in (event 10) that carried ``prev_municipality_code``, written by the
  resident feed.
* ``history_inquiries``: one inquiry (転入者の接種歴照会) per qualifying move-in, once.

Alembic branch ``exchange`` (``0006_exchange``). No My Number here.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from vaxreg.registry.schema import Id, metadata

integrated_numbers = Table(
    "integrated_numbers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("atena_no", String(10), nullable=False),
    Column("integrated_no", String(15), nullable=False),
    Column("assigned_date", Date, nullable=False),
    Column("released_date", Date),  # NULL: the number holds
    Column("assigned_by", BigInteger, nullable=False),  # manifest id
    Column("released_by", BigInteger),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_integrated_numbers_atena_no", "atena_no"),
    Index("ix_integrated_numbers_integrated_no", "integrated_no"),
    Index(
        "uq_integrated_numbers_open",
        "atena_no",
        unique=True,
        sqlite_where=text("released_date IS NULL"),
        postgresql_where=text("released_date IS NULL"),
    ),
)

provision_sent = Table(
    "provision_sent",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dose_id", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),  # the dose's version sent (for D: the last one sent)
    Column("op", String(1), nullable=False),  # A | U | D
    Column("integrated_no", String(15), nullable=False),
    Column("vaccine_code", String(2), nullable=False),
    Column("dose_date", Date, nullable=False),
    Column("product_name", Text),
    Column("file_name", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),  # when the dose's D was sent
    Index("ix_provision_sent_dose_id", "dose_id"),
)

move_ins = Table(
    "move_ins",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("atena_no", String(10), nullable=False),
    Column("move_in_date", Date, nullable=False),
    Column("prev_municipality_code", String(6), nullable=False),
    Column("manifest_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("manifest_id", "seq", name="uq_move_ins_row"),
    Index("ix_move_ins_atena_no", "atena_no"),
)

history_inquiries = Table(
    "history_inquiries",
    metadata,
    Column("inquiry_no", String(14), primary_key=True),  # YYYYMMDD of the file + 6 digits
    Column("move_in_id", BigInteger, nullable=False),
    Column("atena_no", String(10), nullable=False),
    Column("integrated_no", String(15), nullable=False),
    Column("municipality_code", String(6), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Column("answered_manifest_id", BigInteger),
    UniqueConstraint("move_in_id", name="uq_history_inquiries_move_in"),
    Index("ix_history_inquiries_atena_no", "atena_no"),
)
