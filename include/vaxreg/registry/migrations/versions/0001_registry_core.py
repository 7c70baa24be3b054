"""registry core: persons with history, My Number table, manifest, quarantine, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dag_id", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=True),
        sa.Column("fields_changed", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_atena_no", ["atena_no"], unique=False)

    op.create_table(
        "ingest_manifest",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("feed", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rows_read", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accepted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("quarantined", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("review", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("duplicates", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_manifest")),
    )
    with op.batch_alter_table("ingest_manifest", schema=None) as batch_op:
        batch_op.create_index(
            "uq_ingest_manifest_content",
            ["feed", "sha256"],
            unique=True,
            sqlite_where=sa.text("status = 'applied'"),
            postgresql_where=sa.text("status = 'applied'"),
        )
        batch_op.create_index(
            "uq_ingest_manifest_name",
            ["feed", "file_name"],
            unique=True,
            sqlite_where=sa.text("status IN ('applied', 'duplicate')"),
            postgresql_where=sa.text("status IN ('applied', 'duplicate')"),
        )

    op.create_table(
        "my_number",
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("kojin_no", sa.String(length=12), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("atena_no", name=op.f("pk_my_number")),
    )
    op.create_table(
        "person_history",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("name_kanji", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=False),
        sa.Column("name_alpha", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("household_no", sa.String(length=10), nullable=False),
        sa.Column("relationship", sa.Text(), nullable=True),
        sa.Column("householder_name", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("address_date", sa.Date(), nullable=True),
        sa.Column("resident_since", sa.Date(), nullable=True),
        sa.Column("resident_class", sa.String(length=1), nullable=True),
        sa.Column("foreign_resident_since", sa.Date(), nullable=True),
        sa.Column("removed_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("event_code", sa.String(length=2), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_history")),
        sa.UniqueConstraint("atena_no", "version", name=op.f("uq_person_history_atena_no_version")),
    )
    op.create_table(
        "persons",
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("name_kanji", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=False),
        sa.Column("name_alpha", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("household_no", sa.String(length=10), nullable=False),
        sa.Column("relationship", sa.Text(), nullable=True),
        sa.Column("householder_name", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("address_date", sa.Date(), nullable=True),
        sa.Column("resident_since", sa.Date(), nullable=True),
        sa.Column("resident_class", sa.String(length=1), nullable=True),
        sa.Column("foreign_resident_since", sa.Date(), nullable=True),
        sa.Column("removed_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("event_code", sa.String(length=2), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("atena_no", name=op.f("pk_persons")),
    )
    op.create_table(
        "quarantine",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("feed", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("raw_row", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
        sa.UniqueConstraint("manifest_id", "row_no", name=op.f("uq_quarantine_manifest_id_row_no")),
    )


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_table("persons")
    op.drop_table("person_history")
    op.drop_table("my_number")
    with op.batch_alter_table("ingest_manifest", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ingest_manifest_name",
            sqlite_where=sa.text("status IN ('applied', 'duplicate')"),
            postgresql_where=sa.text("status IN ('applied', 'duplicate')"),
        )
        batch_op.drop_index(
            "uq_ingest_manifest_content",
            sqlite_where=sa.text("status = 'applied'"),
            postgresql_where=sa.text("status = 'applied'"),
        )

    op.drop_table("ingest_manifest")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_atena_no")

    op.drop_table("audit_log")
