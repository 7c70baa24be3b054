"""vrs and welfare: vouchers, VRS dose details, flags ledger, welfare status periods

Revision ID: 0003_vrs_welfare
Revises: 0002_doses
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_vrs_welfare"
down_revision = "0002_doses"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _periods() -> list[sa.Column]:
    return [
        sa.Column("first_month", sa.String(length=6), nullable=False),
        sa.Column("closed_month", sa.String(length=6), nullable=True),
        sa.Column("opened_by", sa.BigInteger(), nullable=False),
        sa.Column("closed_by", sa.BigInteger(), nullable=True),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
    ]


def _subject() -> list[sa.Column]:
    return [
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("voucher_no", sa.String(length=10), nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    ]


def upgrade() -> None:
    # VRS doses have no institution or place code (vrs.md): both become optional.
    for table in ("doses", "dose_history"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("institution_code", existing_type=sa.String(length=10), nullable=True)
            batch.alter_column("place_code", existing_type=sa.String(length=6), nullable=True)

    op.create_table(
        "welfare_seiho_periods",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("case_no", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        *_periods(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welfare_seiho_periods")),
    )
    op.create_index("ix_welfare_seiho_periods_atena_no", "welfare_seiho_periods", ["atena_no"])
    op.create_table(
        "welfare_techo_periods",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("techo_type", sa.String(length=1), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("part", sa.String(length=1), nullable=True),
        sa.Column("issued_date", sa.Date(), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        *_periods(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welfare_techo_periods")),
    )
    op.create_index("ix_welfare_techo_periods_atena_no", "welfare_techo_periods", ["atena_no"])
    op.create_table(
        "welfare_snapshots",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("month", sa.String(length=6), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welfare_snapshots")),
        sa.UniqueConstraint("kind", "month", name="uq_welfare_snapshots_month"),
    )
    op.create_table(
        "vrs_subjects",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        *_subject(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vrs_subjects")),
        sa.UniqueConstraint("municipality_code", "voucher_no", name="uq_vrs_subjects_voucher"),
    )
    op.create_table(
        "vrs_subject_history",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        *_subject(),
        sa.Column("superseded_at", TS, nullable=False),
        sa.Column("superseded_by", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vrs_subject_history")),
        sa.UniqueConstraint("subject_id", "version", name="uq_vrs_subject_history_version"),
    )
    op.create_table(
        "vrs_dose_details",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("dose_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("voucher_no", sa.String(length=10), nullable=True),
        sa.Column("voucher_municipality", sa.String(length=6), nullable=True),
        sa.Column("venue", sa.Text(), nullable=True),
        sa.Column("doctor", sa.Text(), nullable=True),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vrs_dose_details")),
        sa.UniqueConstraint("dose_id", "version", name="uq_vrs_dose_details_version"),
    )
    op.create_table(
        "vrs_flags",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("voucher_no", sa.String(length=10), nullable=False),
        sa.Column("flag", sa.String(length=10), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vrs_flags")),
        sa.UniqueConstraint("voucher_no", "flag", "event_date", name="uq_vrs_flags_event"),
    )
    op.create_table(
        "vrs_flag_files",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vrs_flag_files")),
        sa.UniqueConstraint("file_name", name="uq_vrs_flag_files_name"),
    )


def downgrade() -> None:
    for name in ("vrs_flag_files", "vrs_flags", "vrs_dose_details", "vrs_subject_history", "vrs_subjects"):
        op.drop_table(name)
    op.drop_table("welfare_snapshots")
    op.drop_index("ix_welfare_techo_periods_atena_no", "welfare_techo_periods")
    op.drop_table("welfare_techo_periods")
    op.drop_index("ix_welfare_seiho_periods_atena_no", "welfare_seiho_periods")
    op.drop_table("welfare_seiho_periods")
    for table in ("dose_history", "doses"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("institution_code", existing_type=sa.String(length=10), nullable=False)
            batch.alter_column("place_code", existing_type=sa.String(length=6), nullable=False)
