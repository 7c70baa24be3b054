"""Tables of the vaccination records (clinic and other-ward feeds): doses with history,
pre-examination-only records, review items and commission-fee details.

Declared on the shared ``schema.metadata``; created by the alembic branch ``doses``
(``0002_doses``). No My Number anywhere here (privacy.md P1).
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
)

from vaxreg.registry.schema import Id, metadata


def _dose_attributes() -> list[Column]:
    """What a received record says about one dose, besides its key."""
    return [
        Column("product_name", Text),
        Column("lot_no", Text),
        # NULL for VRS doses (vrs.md has neither; their venue is in vrs_dose_details), 0003_vrs_welfare.
        Column("institution_code", String(10)),
        Column("place_code", String(6)),
        Column("self_pay_declared", String(1)),
    ]


DOSE_ATTRIBUTES = tuple(c.name for c in _dose_attributes())
DOSE_KEY = ("atena_no", "vaccine_code", "phase", "dose_no", "dose_date")


def _provenance() -> list[Column]:
    """Which file row made the version and who decided (privacy.md P5)."""
    return [
        Column("source", String(16), nullable=False),  # the feed
        Column("manifest_id", BigInteger, nullable=False),
        Column("row_no", Integer, nullable=False),
        Column("off_schedule", Text),  # ';'-joined reason codes; NULL: on schedule
        Column("flags", Text),  # ';'-joined notes that are not errors (e.g. doctor's judgement)
        Column("version", Integer, nullable=False),
        Column("decided_by", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    ]


# One row per dose given (the current version). Unique per person, vaccine, phase, dose number, date.
doses = Table(
    "doses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("atena_no", String(10), nullable=False),
    Column("vaccine_code", String(2), nullable=False),
    Column("phase", String(2), nullable=False),
    Column("dose_no", Integer, nullable=False),
    Column("dose_date", Date, nullable=False),
    *_dose_attributes(),
    *_provenance(),
    UniqueConstraint(*DOSE_KEY, name="uq_doses_key"),
)

# Superseded versions of a dose (a corrected record keeps the prior values).
dose_history = Table(
    "dose_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dose_id", BigInteger, nullable=False),
    Column("atena_no", String(10), nullable=False),
    Column("vaccine_code", String(2), nullable=False),
    Column("phase", String(2), nullable=False),
    Column("dose_no", Integer, nullable=False),
    Column("dose_date", Date, nullable=False),
    *_dose_attributes(),
    *_provenance(),
    Column("superseded_at", DateTime(timezone=True), nullable=False),
    Column("superseded_by", BigInteger, nullable=False),  # manifest id of the correcting file
    UniqueConstraint("dose_id", "version", name="uq_dose_history_version"),
)

# 予診のみ: examined, not vaccinated. Kept for payment only; no dose.
preliminary_exams = Table(
    "preliminary_exams",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("atena_no", String(10), nullable=False),
    Column("vaccine_code", String(2), nullable=False),
    Column("phase", String(2), nullable=False),
    Column("dose_no", Integer, nullable=False),
    Column("exam_date", Date, nullable=False),
    Column("institution_code", String(10), nullable=False),
    Column("place_code", String(6), nullable=False),
    Column("self_pay_declared", String(1)),
    Column("source", String(16), nullable=False),
    Column("manifest_id", BigInteger, nullable=False),
    Column("row_no", Integer, nullable=False),
    Column("decided_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(
        "atena_no", "vaccine_code", "phase", "dose_no", "exam_date", "institution_code", name="uq_prelim_key"
    ),
)

# Records that could not be attached to a person without guessing (privacy.md §Matching).
review_items = Table(
    "review_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed", String(16), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("manifest_id", BigInteger, nullable=False),
    Column("row_no", Integer, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("candidates", Text, nullable=False),  # ';'-joined atena_no of possible persons, may be ''
    # JSON list of the matcher's candidates, best first: atena_no, weight and per-field levels.
    Column("scores", Text),
    Column("raw_row", Text, nullable=False),  # JSON of the received row
    # open → accepted | rejected (by a person) → applied (an accepted item, by the feed's next run)
    Column("status", String(10), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", Text),
    Column("resolved_atena_no", String(10)),
    Column("resolution_note", Text),  # why, in the resolver's words
    Column("applied_at", DateTime(timezone=True)),
    Column("applied_manifest_id", BigInteger),  # the manifest of the run that applied it
    UniqueConstraint("manifest_id", "row_no", name="uq_review_items_row"),
    Index("ix_review_items_status", "status"),
)

# Commission fee (委託料) per record of a file: what the fee table said on the service date.
fee_details = Table(
    "fee_details",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("manifest_id", BigInteger, nullable=False),
    Column("feed", String(16), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("row_no", Integer, nullable=False),
    Column("institution_code", String(10), nullable=False),
    Column("payment_month", String(6), nullable=False),  # YYYYMM: the month after the file month
    Column("kind", String(12), nullable=False),  # dose | preliminary
    Column("vaccine_code", String(2), nullable=False),
    Column("service_date", Date, nullable=False),
    Column("self_pay_class", String(1), nullable=False),
    Column("self_pay_source", String(10), nullable=False),  # registry | declared
    Column("flags", Text),
    Column("unit_price", Integer, nullable=False),
    Column("self_pay_amount", Integer, nullable=False),
    Column("fee", Integer, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("manifest_id", "row_no", name="uq_fee_details_row"),
    Index("ix_fee_details_payment_month", "payment_month"),
)

# Outbound fee statements published (FEES_YYYYMM.csv + detail), once per feed and payment month.
fee_statements = Table(
    "fee_statements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed", String(16), nullable=False),
    Column("payment_month", String(6), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("detail_file_name", Text, nullable=False),
    Column("detail_sha256", String(64), nullable=False),
    Column("institutions", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("feed", "payment_month", name="uq_fee_statements_month"),
)
