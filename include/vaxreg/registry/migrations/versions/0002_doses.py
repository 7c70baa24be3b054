"""doses: vaccination records with history, pre-examination-only records, review items, fees

Revision ID: 0002_doses
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_doses"
down_revision = "0001"
branch_labels = ("doses",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dose_history",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("dose_id", sa.BigInteger(), nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("vaccine_code", sa.String(length=2), nullable=False),
        sa.Column("phase", sa.String(length=2), nullable=False),
        sa.Column("dose_no", sa.Integer(), nullable=False),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=True),
        sa.Column("lot_no", sa.Text(), nullable=True),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("place_code", sa.String(length=6), nullable=False),
        sa.Column("self_pay_declared", sa.String(length=1), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("off_schedule", sa.Text(), nullable=True),
        sa.Column("flags", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_history")),
        sa.UniqueConstraint("dose_id", "version", name="uq_dose_history_version"),
    )
    op.create_table(
        "doses",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("vaccine_code", sa.String(length=2), nullable=False),
        sa.Column("phase", sa.String(length=2), nullable=False),
        sa.Column("dose_no", sa.Integer(), nullable=False),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=True),
        sa.Column("lot_no", sa.Text(), nullable=True),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("place_code", sa.String(length=6), nullable=False),
        sa.Column("self_pay_declared", sa.String(length=1), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("off_schedule", sa.Text(), nullable=True),
        sa.Column("flags", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doses")),
        sa.UniqueConstraint("atena_no", "vaccine_code", "phase", "dose_no", "dose_date", name="uq_doses_key"),
    )
    op.create_table(
        "fee_details",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("feed", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("payment_month", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("vaccine_code", sa.String(length=2), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("self_pay_class", sa.String(length=1), nullable=False),
        sa.Column("self_pay_source", sa.String(length=10), nullable=False),
        sa.Column("flags", sa.Text(), nullable=True),
        sa.Column("unit_price", sa.Integer(), nullable=False),
        sa.Column("self_pay_amount", sa.Integer(), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_details")),
        sa.UniqueConstraint("manifest_id", "row_no", name="uq_fee_details_row"),
    )
    with op.batch_alter_table("fee_details", schema=None) as batch_op:
        batch_op.create_index("ix_fee_details_payment_month", ["payment_month"], unique=False)

    op.create_table(
        "fee_statements",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("feed", sa.String(length=16), nullable=False),
        sa.Column("payment_month", sa.String(length=6), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("detail_file_name", sa.Text(), nullable=False),
        sa.Column("detail_sha256", sa.String(length=64), nullable=False),
        sa.Column("institutions", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_statements")),
        sa.UniqueConstraint("feed", "payment_month", name="uq_fee_statements_month"),
    )
    op.create_table(
        "preliminary_exams",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("vaccine_code", sa.String(length=2), nullable=False),
        sa.Column("phase", sa.String(length=2), nullable=False),
        sa.Column("dose_no", sa.Integer(), nullable=False),
        sa.Column("exam_date", sa.Date(), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("place_code", sa.String(length=6), nullable=False),
        sa.Column("self_pay_declared", sa.String(length=1), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preliminary_exams")),
        sa.UniqueConstraint(
            "atena_no",
            "vaccine_code",
            "phase",
            "dose_no",
            "exam_date",
            "institution_code",
            name="uq_prelim_key",
        ),
    )
    op.create_table(
        "review_items",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("feed", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("raw_row", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column("resolved_atena_no", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("manifest_id", "row_no", name="uq_review_items_row"),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_status", ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_status")

    op.drop_table("review_items")
    op.drop_table("preliminary_exams")
    op.drop_table("fee_statements")
    with op.batch_alter_table("fee_details", schema=None) as batch_op:
        batch_op.drop_index("ix_fee_details_payment_month")

    op.drop_table("fee_details")
    op.drop_table("doses")
    op.drop_table("dose_history")
