"""Staff entries and corrections (outputs.md §6): paper records (実施依頼書, reports from other
municipalities) and correction requests (訂正請求), entered by a named person with a reason.

Each goes through the same error check as a clinic row (:func:`vaxreg.rules.check.judge` against
the person's whole history): an invalid record is refused (:class:`EntryRefused`, nothing
written); an off-schedule one is stored with its codes. A correction or a deletion first copies
the current version to ``dose_history`` (privacy.md P5); every change is audited with who and why
(P4). The provision copy (:mod:`vaxreg.outputs.fukuhon`) sends what changed: a correction as U,
a deletion or a move to another person (a review decision, ``atena_no`` corrected) as D.

Staff doses carry ``source=staff``, ``manifest_id`` 0 and ``decided_by`` ``staff <by>: <reason>``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from vaxreg.registry import db, ledger, welfare
from vaxreg.registry.schema_doses import DOSE_ATTRIBUTES, DOSE_KEY
from vaxreg.rules import check

PURPOSE = "職員による接種記録の登録・訂正 (staff entries and corrections of vaccination records)"
FIELDS = (*DOSE_KEY, *DOSE_ATTRIBUTES)
_COPY = (*DOSE_KEY, *DOSE_ATTRIBUTES, "source", "manifest_id", "row_no", "off_schedule", "flags", "version")
_COPY += ("decided_by", "recorded_at")


class EntryRefused(Exception):
    """A staff entry that cannot be stored. One line, no personal data beyond the atena_no."""


@dataclass(frozen=True)
class Staff:
    by: str  # who entered it
    reason: str  # why (the request, the paper record)

    def decided_by(self) -> str:
        return f"staff {self.by}: {self.reason}"


def _dose(conn: Connection, dose_id: int) -> dict[str, Any]:
    m = db.mark(conn)
    cols = ["id", *DOSE_KEY, *DOSE_ATTRIBUTES, "version"]
    row = conn.exec_driver_sql(
        f"SELECT {', '.join('CAST(dose_date AS TEXT)' if c == 'dose_date' else c for c in cols)} "
        f"FROM doses WHERE id = {m}",
        (dose_id,),
    ).first()
    if row is None:
        raise EntryRefused(f"dose {dose_id} is not in the registry")
    return dict(zip(cols, row, strict=True))


def _judge(conn: Connection, dose: dict[str, Any], exclude_id: int | None) -> tuple[str, str]:
    """(off_schedule, flags) of ``dose`` against its person's other doses; refuses an invalid one."""
    m = db.mark(conn)
    person = conn.exec_driver_sql(
        f"SELECT CAST(birth_date AS TEXT), sex FROM persons WHERE atena_no = {m}", (dose["atena_no"],)
    ).first()
    if person is None:
        raise EntryRefused(f"person {dose['atena_no']} is not in the registry")
    hist = pd.DataFrame(
        conn.exec_driver_sql(
            "SELECT atena_no, vaccine_code, phase, dose_no, CAST(dose_date AS TEXT) FROM doses "
            f"WHERE atena_no = {m} AND id <> {m}",
            (dose["atena_no"], exclude_id or -1),
        ).fetchall(),
        columns=check.DOSE_COLUMNS,
    )
    hist["dose_date"] = pd.to_datetime(hist["dose_date"]).to_numpy(dtype="datetime64[D]")
    hist["dose_no"] = hist["dose_no"].astype("int64")
    day = np.array([dose["dose_date"]], dtype="datetime64[D]")
    new = pd.DataFrame(
        {
            "atena_no": [dose["atena_no"]],
            "vaccine_code": [dose["vaccine_code"]],
            "phase": [dose["phase"]],
            "dose_no": [int(dose["dose_no"])],
            "dose_date": day,
            "birth_date": np.array([person[0]], dtype="datetime64[D]"),
            "sex": [person[1]],
            "disability": welfare.disability_letters(conn, pd.Series([dose["atena_no"]]), day).to_numpy(),
        }
    )
    verdict = check.judge(new, hist).iloc[0]
    if verdict["invalid"]:
        raise EntryRefused(f"refused by the error check: {verdict['invalid']}")
    return str(verdict["off_schedule"]), str(verdict["flags"])


def _key_taken(conn: Connection, dose: dict[str, Any], exclude_id: int | None) -> bool:
    m = db.mark(conn)
    where = " AND ".join(f"{c} = {m}" for c in DOSE_KEY)
    found = conn.exec_driver_sql(
        f"SELECT id FROM doses WHERE {where} AND id <> {m}",
        (*(dose[c] for c in DOSE_KEY), exclude_id or -1),
    ).first()
    return found is not None


def _to_history(conn: Connection, dose_id: int) -> None:
    """The current version of the dose copied to ``dose_history`` (P5)."""
    m = db.mark(conn)
    cols = ", ".join(_COPY)
    conn.exec_driver_sql(
        f"INSERT INTO dose_history (dose_id, {cols}, superseded_at, superseded_by) "
        f"SELECT id, {cols}, {m}, 0 FROM doses WHERE id = {m}",
        (ledger.now_text(), dose_id),
    )


def _audit(
    conn: Connection, actor: ledger.Actor, action: str, atena: list[str], fields: str, detail: str
) -> None:
    ledger.write_audit(
        conn,
        actor,
        action=action,
        table_name="doses",
        atena_no=atena,
        fields_changed=[fields] * len(atena),
        detail=[detail] * len(atena),
    )


def add_dose(conn: Connection, actor: ledger.Actor, staff: Staff, dose: dict[str, Any]) -> dict[str, Any]:
    """A paper record as a new dose; returns its id and off-schedule codes."""
    dose = {c: dose.get(c) for c in FIELDS}
    dose["dose_date"] = dt.date.fromisoformat(str(dose["dose_date"])).isoformat()
    if _key_taken(conn, dose, None):
        raise EntryRefused("this dose is already on record: correct it instead (vaxreg dose correct)")
    off, flags = _judge(conn, dose, None)
    m = db.mark(conn)
    cols = [*FIELDS, "source", "manifest_id", "row_no", "off_schedule", "flags", "version", "decided_by"]
    values = [dose[c] for c in FIELDS] + ["staff", 0, 0, off or None, flags or None, 1, staff.decided_by()]
    conn.exec_driver_sql(
        f"INSERT INTO doses ({', '.join(cols)}, recorded_at) VALUES ({', '.join([m] * (len(cols) + 1))})",
        (*values, ledger.now_text()),
    )
    dose_id = int(
        conn.exec_driver_sql(
            f"SELECT id FROM doses WHERE {' AND '.join(f'{c} = {m}' for c in DOSE_KEY)}",
            tuple(dose[c] for c in DOSE_KEY),
        ).scalar_one()
    )
    _audit(conn, actor, "insert", [dose["atena_no"]], "*", f"staff {staff.by}: {staff.reason} dose={dose_id}")
    return {"dose_id": dose_id, "version": 1, "off_schedule": off}


def correct_dose(
    conn: Connection, actor: ledger.Actor, staff: Staff, dose_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """A correction (訂正請求): the prior version to history, the new one checked and stored. A
    changed ``atena_no`` moves the dose to another person (a review decision)."""
    before = _dose(conn, dose_id)
    changes = {k: v for k, v in changes.items() if v is not None and k in FIELDS}
    if "dose_date" in changes:
        changes["dose_date"] = dt.date.fromisoformat(str(changes["dose_date"])).isoformat()
    after = before | changes
    changed = [c for c in FIELDS if str(after[c]) != str(before[c])]
    if not changed:
        raise EntryRefused("nothing to correct: the values are those on record")
    if _key_taken(conn, after, dose_id):
        raise EntryRefused("another dose is on record with this person, vaccine, phase, dose number and date")
    off, flags = _judge(conn, after, dose_id)
    _to_history(conn, dose_id)
    m = db.mark(conn)
    sets = ", ".join(f"{c} = {m}" for c in changed)
    conn.exec_driver_sql(
        f"UPDATE doses SET {sets}, off_schedule = {m}, flags = {m}, version = version + 1, "
        f"decided_by = {m}, recorded_at = {m} WHERE id = {m}",
        (
            *(after[c] for c in changed),
            off or None,
            flags or None,
            staff.decided_by(),
            ledger.now_text(),
            dose_id,
        ),
    )
    persons = sorted({before["atena_no"], after["atena_no"]})
    detail = f"staff {staff.by}: {staff.reason} dose={dose_id}"
    _audit(conn, actor, "update", persons, ",".join(changed), detail)
    return {
        "dose_id": dose_id,
        "version": int(before["version"]) + 1,
        "changed": changed,
        "off_schedule": off,
    }


def delete_dose(conn: Connection, actor: ledger.Actor, staff: Staff, dose_id: int) -> dict[str, Any]:
    """A dose removed (an entry in error): its last version kept in history, then deleted."""
    before = _dose(conn, dose_id)
    _to_history(conn, dose_id)
    m = db.mark(conn)
    conn.exec_driver_sql(f"DELETE FROM doses WHERE id = {m}", (dose_id,))
    _audit(
        conn, actor, "delete", [before["atena_no"]], "*", f"staff {staff.by}: {staff.reason} dose={dose_id}"
    )
    return {"dose_id": dose_id, "deleted": True}
