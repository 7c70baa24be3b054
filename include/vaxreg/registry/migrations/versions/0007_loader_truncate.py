"""loader may truncate due_doses: the registry refresh rebuilds it whole as the pipeline's login

The pipeline runs as a login in ``vaxreg_loader`` (decisions.md §58), which has SELECT,
INSERT, UPDATE and DELETE on the registry tables; ``outputs.due.refresh`` empties
``due_doses`` with ``TRUNCATE`` (PostgreSQL) before writing it again.

Revision ID: 0007_loader_truncate
Revises: 0006_due
Create Date: 2026-12-02
"""

from alembic import op

from vaxreg.registry import vault

revision = "0007_loader_truncate"
down_revision = "0006_due"
branch_labels = None
depends_on = "0002_privacy"  # the role vaxreg_loader


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"GRANT TRUNCATE ON due_doses TO {vault.LOADER_ROLE}")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"REVOKE TRUNCATE ON due_doses FROM {vault.LOADER_ROLE}")
