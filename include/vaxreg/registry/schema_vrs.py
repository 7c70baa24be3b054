"""Tables of the VRS files (vrs.md): vouchers of the subjects file with history, the VRS
attributes of each COVID-19 dose version, and the outbound flags ledger (feeds.md §7).

The doses themselves are in ``doses`` (vaccine ``31``), in the same history as every
other vaccine. Alembic branch ``doses``, ``0003_vrs_welfare``. No My Number here.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, String, Table, Text, UniqueConstraint

from vaxreg.registry.schema import Id, metadata


def _subject_columns() -> list[Column]:
    return [
        Column("municipality_code", String(6), nullable=False),
        Column("voucher_no", String(10), nullable=False),
        Column("atena_no", String(10), nullable=False),
        Column("name_kana", Text),
        Column("birth_date", Date),
        Column("sex", String(1)),
        Column("manifest_id", BigInteger, nullable=False),
        Column("row_no", Integer, nullable=False),
        Column("version", Integer, nullable=False),
        Column("decided_by", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    ]


# 接種者情報: who holds which voucher (the current version).
vrs_subjects = Table(
    "vrs_subjects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    *_subject_columns(),
    UniqueConstraint("municipality_code", "voucher_no", name="uq_vrs_subjects_voucher"),
)

vrs_subject_history = Table(
    "vrs_subject_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subject_id", BigInteger, nullable=False),
    *_subject_columns(),
    Column("superseded_at", DateTime(timezone=True), nullable=False),
    Column("superseded_by", BigInteger, nullable=False),
    UniqueConstraint("subject_id", "version", name="uq_vrs_subject_history_version"),
)

# The VRS attributes of each version of a vaccine-31 dose (doses.version); never updated.
vrs_dose_details = Table(
    "vrs_dose_details",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dose_id", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("registered_at", DateTime(timezone=False), nullable=False),  # 接種履歴登録日時 (JST as sent)
    Column("voucher_no", String(10)),
    Column("voucher_municipality", String(6)),
    Column("venue", Text),
    Column("doctor", Text),
    Column("manifest_id", BigInteger, nullable=False),
    Column("row_no", Integer, nullable=False),
    UniqueConstraint("dose_id", "version", name="uq_vrs_dose_details_version"),
)

# Every move-out or death sent to VRS (VRS_FLAGS_YYYYMMDD.csv): never the same event twice.
vrs_flags = Table(
    "vrs_flags",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("atena_no", String(10), nullable=False),
    Column("voucher_no", String(10), nullable=False),
    Column("flag", String(10), nullable=False),  # MOVED_OUT | DECEASED
    Column("event_date", Date, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("voucher_no", "flag", "event_date", name="uq_vrs_flags_event"),
)

vrs_flag_files = Table(
    "vrs_flag_files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("file_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("file_name", name="uq_vrs_flag_files_name"),
)
