"""due: due doses (derived), their refreshes, the form ledger, form reissues, the reminder ledger

Revision ID: 0006_due
Revises: 0005_outbound
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_due"
down_revision = "0005_outbound"  # publishes through the outbound ledger
branch_labels = ("due",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _slot() -> list[sa.Column]:
    return [
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("vaccine_code", sa.String(length=2), nullable=False),
        sa.Column("phase", sa.String(length=2), nullable=False),
        sa.Column("dose_no", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "due_doses",
        *_slot(),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=8), nullable=True),
        sa.Column("window_start", sa.Date(), nullable=True),
        sa.Column("window_end", sa.Date(), nullable=True),
        sa.Column("earliest_date", sa.Date(), nullable=True),
        sa.UniqueConstraint(
            "atena_no", "vaccine_code", "phase", "dose_no", "cycle", name="uq_due_doses_slot"
        ),
    )
    op.create_index("ix_due_doses_state", "due_doses", ["state"])
    op.create_table(
        "due_refreshes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("refreshed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_due_refreshes")),
    )
    op.create_table(
        "forms_issued",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("form_no", sa.String(length=12), nullable=False),
        *_slot(),
        sa.Column("window_start", sa.Date(), nullable=True),
        sa.Column("window_end", sa.Date(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("reissue_reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forms_issued")),
        sa.UniqueConstraint("form_no", name="uq_forms_issued_form_no"),
    )
    op.create_index(
        "uq_forms_issued_slot",
        "forms_issued",
        ["atena_no", "vaccine_code", "phase", "dose_no", "cycle"],
        unique=True,
        sqlite_where=sa.text("reissue_reason IS NULL"),
        postgresql_where=sa.text("reissue_reason IS NULL"),
    )
    op.create_index("ix_forms_issued_atena_no", "forms_issued", ["atena_no"])
    op.create_table(
        "form_reissues",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        *_slot(),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("form_no", sa.String(length=12), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_reissues")),
    )
    op.create_index("ix_form_reissues_form_no", "form_reissues", ["form_no"])
    op.create_table(
        "reminders_sent",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("reminder_no", sa.String(length=14), nullable=False),
        *_slot(),
        sa.Column("reason", sa.String(length=8), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders_sent")),
        sa.UniqueConstraint("reminder_no", name="uq_reminders_sent_reminder_no"),
    )
    op.create_index("ix_reminders_sent_atena_no", "reminders_sent", ["atena_no"])


def downgrade() -> None:
    op.drop_index("ix_reminders_sent_atena_no", table_name="reminders_sent")
    op.drop_table("reminders_sent")
    op.drop_index("ix_form_reissues_form_no", table_name="form_reissues")
    op.drop_table("form_reissues")
    op.drop_index("ix_forms_issued_atena_no", table_name="forms_issued")
    op.drop_index("uq_forms_issued_slot", table_name="forms_issued")
    op.drop_table("forms_issued")
    op.drop_table("due_refreshes")
    op.drop_index("ix_due_doses_state", table_name="due_doses")
    op.drop_table("due_doses")
