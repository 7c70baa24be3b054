"""One person's registry record for staff (``vaxreg person show``, outputs.md §6): attributes
with their history, status, doses with their superseded versions, the due doses as last
refreshed, the forms and reminders sent, the integrated number, the provision-copy state and the
history inquiries. No My Number (privacy.md P1).

The record is built from :data:`SECTIONS`, a list of functions ``(conn, atena_no) -> rows``;
other concerns add theirs (the due doses, the forms and reminders sent) by appending to it.
Showing a record is an access to personal data: :func:`show` writes one audit record with the
stated purpose (P4) in the same transaction as the reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from vaxreg.registry import db, ledger
from vaxreg.registry.schema import PERSON_ATTRIBUTES, VERSION_COLUMNS

Rows = list[dict[str, Any]]
Section = tuple[str, Callable[[Connection, str], Rows]]


def _select(conn: Connection, sql: str, atena_no: str) -> Rows:
    result = conn.exec_driver_sql(sql.replace(":a", db.mark(conn)), (atena_no,))
    keys = list(result.keys())
    return [{k: (None if v is None else str(v)) for k, v in zip(keys, r, strict=True)} for r in result]


def attributes(conn: Connection, atena_no: str) -> Rows:
    cols = ", ".join(("atena_no", "status", *PERSON_ATTRIBUTES, *VERSION_COLUMNS))
    return _select(conn, f"SELECT {cols} FROM persons WHERE atena_no = :a", atena_no)


def attribute_history(conn: Connection, atena_no: str) -> Rows:
    cols = ", ".join(("version", "status", *PERSON_ATTRIBUTES, "valid_from", "valid_to", "event_code"))
    return _select(conn, f"SELECT {cols} FROM person_history WHERE atena_no = :a ORDER BY version", atena_no)


def doses(conn: Connection, atena_no: str) -> Rows:
    return _select(
        conn,
        "SELECT id AS dose_id, vaccine_code, phase, dose_no, dose_date, product_name, lot_no, "
        "institution_code, source, off_schedule, flags, version, decided_by FROM doses WHERE atena_no = :a "
        "ORDER BY dose_date, vaccine_code, phase, dose_no",
        atena_no,
    )


def dose_history(conn: Connection, atena_no: str) -> Rows:
    return _select(
        conn,
        "SELECT dose_id, version, vaccine_code, phase, dose_no, dose_date, product_name, lot_no, source, "
        "decided_by, superseded_at FROM dose_history WHERE atena_no = :a ORDER BY dose_id, version",
        atena_no,
    )


def integrated_number(conn: Connection, atena_no: str) -> Rows:
    return _select(
        conn,
        "SELECT integrated_no, assigned_date, released_date FROM integrated_numbers WHERE atena_no = :a "
        "ORDER BY assigned_date, id",
        atena_no,
    )


def provision_state(conn: Connection, atena_no: str) -> Rows:
    """Per dose of the person: the last row the provision copy sent (none: not sent yet)."""
    return _select(
        conn,
        "SELECT d.id AS dose_id, d.version, s.op AS last_op, s.version AS sent_version, s.file_name "
        "FROM doses d LEFT JOIN provision_sent s ON s.id = "
        "(SELECT MAX(t.id) FROM provision_sent t WHERE t.dose_id = d.id) WHERE d.atena_no = :a ORDER BY d.id",
        atena_no,
    )


def inquiries(conn: Connection, atena_no: str) -> Rows:
    return _select(
        conn,
        "SELECT h.inquiry_no, h.municipality_code, m.move_in_date, h.sent_at, h.answered_at "
        "FROM history_inquiries h JOIN move_ins m ON m.id = h.move_in_id WHERE h.atena_no = :a "
        "ORDER BY h.inquiry_no",
        atena_no,
    )


def due_doses(conn: Connection, atena_no: str) -> Rows:
    """The due doses as last refreshed (``vaxreg refresh``, outputs.md §1)."""
    return _select(
        conn,
        "SELECT vaccine_code, phase, dose_no, cycle, state, reason, window_start, window_end, earliest_date "
        "FROM due_doses WHERE atena_no = :a ORDER BY vaccine_code, phase, dose_no, cycle",
        atena_no,
    )


def forms_sent(conn: Connection, atena_no: str) -> Rows:
    return _select(
        conn,
        "SELECT form_no, vaccine_code, phase, dose_no, file_name, issued_on, reissue_reason "
        "FROM forms_issued WHERE atena_no = :a ORDER BY issued_on, form_no",
        atena_no,
    )


def reminders_sent(conn: Connection, atena_no: str) -> Rows:
    return _select(
        conn,
        "SELECT reminder_no, vaccine_code, phase, dose_no, reason, window_end, file_name, sent_on "
        "FROM reminders_sent WHERE atena_no = :a ORDER BY sent_on, reminder_no",
        atena_no,
    )


# The sections of the record, in display order. Append (name, function) to add one.
SECTIONS: list[Section] = [
    ("attributes", attributes),
    ("attribute_history", attribute_history),
    ("doses", doses),
    ("dose_history", dose_history),
    ("due_doses", due_doses),
    ("forms_sent", forms_sent),
    ("reminders_sent", reminders_sent),
    ("integrated_number", integrated_number),
    ("provision_copy", provision_state),
    ("history_inquiries", inquiries),
]


def show(conn: Connection, actor: ledger.Actor, atena_no: str, purpose: str) -> dict[str, Rows]:
    """The record of ``atena_no``, section by section (``attributes`` empty: no such person); the
    access audited with ``purpose``, found or not."""
    if not purpose.strip():
        raise ValueError("a purpose is required to show a person's record")
    record = {name: fn(conn, atena_no) for name, fn in SECTIONS}
    found = bool(record["attributes"])
    ledger.write_audit(
        conn,
        actor,
        action="view",
        table_name="persons",
        atena_no=[atena_no],
        fields_changed=[None],
        detail=[f"person show ({'found' if found else 'not found'}): {purpose}"],
    )
    return record
