"""review queue: matcher scores, the resolver's note and when an accepted item was applied

Revision ID: 0004_review
Revises: 0003_vrs_welfare
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_review"
down_revision = "0003_vrs_welfare"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("scores", sa.Text(), nullable=True))
        batch.add_column(sa.Column("resolution_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("applied_manifest_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        for name in ("applied_manifest_id", "applied_at", "resolution_note", "scores"):
            batch.drop_column(name)
