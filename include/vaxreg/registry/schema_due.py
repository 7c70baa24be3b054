"""Due doses and what was sent because of them (outputs.md §1–§3). Alembic branch ``due``
(``0006_due``).

* ``due_doses``: derived, rebuilt whole by each refresh (:mod:`vaxreg.outputs.due`); one row per
  person, vaccine, phase, dose number and cycle (the fiscal year for once-per-year vaccines, else 0).
* ``due_refreshes``: one row per refresh: the as-of date and the counts by state.
* ``forms_issued``: the form ledger (予診票送付履歴): every pre-examination form issued, never the
  same form twice (a reissue is a new form number with its reason).
* ``form_reissues``: reissues asked for by staff, waiting for the next forms file.
* ``reminders_sent``: the reminder ledger (勧奨), which also feeds the 180-day rule.

No My Number here; names and addresses stay in ``persons`` (the files hold them, the ledgers not).
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, Integer, String, Table, Text, UniqueConstraint, text

from vaxreg.registry.schema import Id, metadata


def _slot() -> list[Column]:
    return [
        Column("atena_no", String(10), nullable=False),
        Column("vaccine_code", String(2), nullable=False),
        Column("phase", String(2), nullable=False),
        Column("dose_no", Integer, nullable=False),
        Column("cycle", Integer, nullable=False),  # fiscal year (flu, COVID-19) or 0
    ]


due_doses = Table(
    "due_doses",
    metadata,
    *_slot(),
    Column("state", String(12), nullable=False),  # done | not_yet | due | overdue | closed | not_eligible
    Column("reason", String(8)),  # OVERDUE | CLOSING for overdue rows
    Column("window_start", Date),
    Column("window_end", Date),
    Column("earliest_date", Date),  # after the predecessor's minimum interval; NULL: waits for it
    UniqueConstraint("atena_no", "vaccine_code", "phase", "dose_no", "cycle", name="uq_due_doses_slot"),
    Index("ix_due_doses_state", "state"),
)

due_refreshes = Table(
    "due_refreshes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("as_of", Date, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("counts", Text, nullable=False),  # JSON: state -> rows
    Column("run_id", Text, nullable=False),
    Column("refreshed_at", DateTime(timezone=True), nullable=False),
)

forms_issued = Table(
    "forms_issued",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("form_no", String(12), nullable=False),
    *_slot(),
    Column("window_start", Date),
    Column("window_end", Date),
    Column("file_name", Text, nullable=False),
    Column("issued_on", Date, nullable=False),  # the file's run date
    Column("reissue_reason", Text),  # NULL: the first form of the slot
    Column("run_id", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("form_no", name="uq_forms_issued_form_no"),
    Index(
        "uq_forms_issued_slot",
        "atena_no",
        "vaccine_code",
        "phase",
        "dose_no",
        "cycle",
        unique=True,
        sqlite_where=text("reissue_reason IS NULL"),
        postgresql_where=text("reissue_reason IS NULL"),
    ),
    Index("ix_forms_issued_atena_no", "atena_no"),
)

form_reissues = Table(
    "form_reissues",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    *_slot(),
    Column("reason", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("form_no", String(12)),  # NULL until the next forms file carries it
    Index("ix_form_reissues_form_no", "form_no"),
)

reminders_sent = Table(
    "reminders_sent",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("reminder_no", String(14), nullable=False),
    *_slot(),
    Column("reason", String(8), nullable=False),  # OVERDUE | CLOSING
    Column("window_end", Date),
    Column("file_name", Text, nullable=False),
    Column("sent_on", Date, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("reminder_no", name="uq_reminders_sent_reminder_no"),
    Index("ix_reminders_sent_atena_no", "atena_no"),
)
