"""exchange: integrated numbers, provision copy sent state, move-ins, history inquiries

Revision ID: 0006_exchange
Revises: 0005_outbound
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_exchange"
down_revision = "0005_outbound"
branch_labels = ("exchange",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "integrated_numbers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("integrated_no", sa.String(length=15), nullable=False),
        sa.Column("assigned_date", sa.Date(), nullable=False),
        sa.Column("released_date", sa.Date(), nullable=True),
        sa.Column("assigned_by", sa.BigInteger(), nullable=False),
        sa.Column("released_by", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrated_numbers")),
    )
    op.create_index("ix_integrated_numbers_atena_no", "integrated_numbers", ["atena_no"])
    op.create_index("ix_integrated_numbers_integrated_no", "integrated_numbers", ["integrated_no"])
    op.create_index(
        "uq_integrated_numbers_open",
        "integrated_numbers",
        ["atena_no"],
        unique=True,
        sqlite_where=sa.text("released_date IS NULL"),
        postgresql_where=sa.text("released_date IS NULL"),
    )
    op.create_table(
        "provision_sent",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("dose_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=1), nullable=False),
        sa.Column("integrated_no", sa.String(length=15), nullable=False),
        sa.Column("vaccine_code", sa.String(length=2), nullable=False),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provision_sent")),
    )
    op.create_index("ix_provision_sent_dose_id", "provision_sent", ["dose_id"])
    op.create_table(
        "move_ins",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("move_in_date", sa.Date(), nullable=False),
        sa.Column("prev_municipality_code", sa.String(length=6), nullable=False),
        sa.Column("manifest_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_move_ins")),
        sa.UniqueConstraint("manifest_id", "seq", name="uq_move_ins_row"),
    )
    op.create_index("ix_move_ins_atena_no", "move_ins", ["atena_no"])
    op.create_table(
        "history_inquiries",
        sa.Column("inquiry_no", sa.String(length=14), nullable=False),
        sa.Column("move_in_id", sa.BigInteger(), nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("integrated_no", sa.String(length=15), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("answered_manifest_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("inquiry_no", name=op.f("pk_history_inquiries")),
        sa.UniqueConstraint("move_in_id", name="uq_history_inquiries_move_in"),
    )
    op.create_index("ix_history_inquiries_atena_no", "history_inquiries", ["atena_no"])


def downgrade() -> None:
    op.drop_index("ix_history_inquiries_atena_no", table_name="history_inquiries")
    op.drop_table("history_inquiries")
    op.drop_index("ix_move_ins_atena_no", table_name="move_ins")
    op.drop_table("move_ins")
    op.drop_index("ix_provision_sent_dose_id", table_name="provision_sent")
    op.drop_table("provision_sent")
    for ix in (
        "uq_integrated_numbers_open",
        "ix_integrated_numbers_integrated_no",
        "ix_integrated_numbers_atena_no",
    ):
        op.drop_index(ix, table_name="integrated_numbers")
    op.drop_table("integrated_numbers")
