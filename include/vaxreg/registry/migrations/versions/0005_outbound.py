"""outbound: the ledger of outbound files (prepared → published), exactly-once publication

Files published before this ledger existed are recorded as published from their own ledgers
(``fee_statements``: statement and detail; ``vrs_flag_files``), so that their names stay taken.

Revision ID: 0005_outbound
Revises: 0004_review
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_outbound"
down_revision = "0004_review"  # after the fee and VRS flag ledgers it takes over
branch_labels = ("outbound",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

_COLUMNS = "target, kind, file_name, sha256, rows, state, run_id, prepared_at, published_at, published_run_id"
_BACKFILL = (
    f"INSERT INTO outbound_files ({_COLUMNS}) SELECT 'fees', 'fees', file_name, sha256, institutions, "
    "'published', run_id, published_at, published_at, run_id FROM fee_statements",
    f"INSERT INTO outbound_files ({_COLUMNS}) SELECT 'fees', 'fees_detail', detail_file_name, detail_sha256, "
    "(SELECT COUNT(*) FROM fee_details d WHERE d.feed = s.feed AND d.payment_month = s.payment_month), "
    "'published', run_id, published_at, published_at, run_id FROM fee_statements s",
    f"INSERT INTO outbound_files ({_COLUMNS}) SELECT 'vrs', 'vrs_flags', file_name, sha256, rows, "
    "'published', run_id, published_at, published_at, run_id FROM vrs_flag_files",
)


def upgrade() -> None:
    op.create_table(
        "outbound_files",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("prepared_at", TS, nullable=False),
        sa.Column("published_at", TS, nullable=True),
        sa.Column("published_run_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_files")),
        sa.UniqueConstraint("target", "file_name", name="uq_outbound_files_name"),
    )
    op.create_index("ix_outbound_files_state", "outbound_files", ["state"])
    for sql in _BACKFILL:
        op.execute(sql)


def downgrade() -> None:
    op.drop_index("ix_outbound_files_state", table_name="outbound_files")
    op.drop_table("outbound_files")
