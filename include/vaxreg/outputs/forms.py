"""Pre-examination forms (予診票, outputs.md §2): ``inbox/forms/YOSHIN_YYYYMM.csv``, monthly on the
1st, UTF-8 with BOM and CRLF, published exactly once (:func:`vaxreg.outputs.outbound.publish_once`)
with the form ledger ``forms_issued`` (予診票送付履歴) written in the same unit.

Which forms, from the due doses as last refreshed (:mod:`vaxreg.outputs.due`) and the rule table's
form timing (``form`` of each rule, ``offered`` of each vaccine), for residents, never issued before
(the ledger's unique slot), window not closed, not ``done`` nor ``not_eligible``:

* every open window (``due``/``overdue``): move-ins and everyone the earlier runs missed;
* ``form.at = "birth"``: every form of the series at once (the infant series at birth registration);
* ``form.lead_days = N``: the window opens before the end of the month plus N days;
* ``form.at = "april"``: B class, in April, for a window opening within the fiscal year;
* the reissues staff asked for (:func:`request_reissue`), each a new form number with its reason.

``form_no`` is ``YYYYMM`` + 6 digits, numbered within the month's one file: never reused.
Each person in the file gets one audit record (privacy.md P4).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.outputs import outbound
from vaxreg.registry import db, ledger, welfare
from vaxreg.rules.calendar import add_months
from vaxreg.rules.due import rules_in_force
from vaxreg.rules.table import Rules, default_rules
from vaxreg.transport import Source

COLUMNS = (
    "form_no",
    "atena_no",
    "vaccine_code",
    "phase",
    "dose_no",
    "window_start",
    "window_end",
    "name_kanji",
    "name_kana",
    "birth_date",
    "sex",
    "guardian_name",
    "address",
    "self_pay_class",
)
outbound.register("forms", outbound.OutboundLayout("forms", "YOSHIN_{month}.csv", COLUMNS, True, "\r\n"))

GUARDIAN_BEFORE_YEARS = 16  # a person under 16 gets the householder's name as guardian
_SLOT = ["atena_no", "vaccine_code", "phase", "dose_no", "cycle"]
_PERSON = "p.name_kanji, p.name_kana, CAST(p.birth_date AS TEXT), p.sex, p.householder_name, p.address"
_PERSON_COLS = ["name_kanji", "name_kana", "birth_date", "sex", "householder_name", "address"]


class FormsError(Exception):
    """A reissue that cannot be recorded (unknown person or vaccine). One line, no personal data."""


def _month_end(day: dt.date) -> np.datetime64:
    first = np.datetime64(day.replace(day=1), "D")
    return add_months(np.array([first]), 1)[0] - np.timedelta64(1, "D")


def _timing(rules: Rules, day: dt.date) -> pd.DataFrame:
    """Per vaccine and phase in force: form_at, form_lead_days, offered, class."""
    r = rules_in_force(rules, day)[["vaccine", "phase", "form_at", "form_lead_days"]]
    r = r.drop_duplicates(["vaccine", "phase"]).rename(columns={"vaccine": "vaccine_code"})
    r["offered"] = r["vaccine_code"].map(lambda v: bool(rules.vaccines[v].get("offered", True)))
    r["b_class"] = r["vaccine_code"].map(lambda v: rules.vaccines[v]["class"] == "B")
    return r


def candidates(conn: Connection, day: dt.date, rules: Rules | None = None) -> pd.DataFrame:
    """The first forms due in the month of ``day`` (see the module docstring), with the person."""
    rules = rules or default_rules()
    m = db.mark(conn)
    rows = conn.exec_driver_sql(
        "SELECT d.atena_no, d.vaccine_code, d.phase, d.dose_no, d.cycle, d.state, "
        f"CAST(d.window_start AS TEXT), CAST(d.window_end AS TEXT), {_PERSON} "
        "FROM due_doses d JOIN persons p ON p.atena_no = d.atena_no "
        f"WHERE p.status = 'resident' AND d.state IN ('not_yet', 'due', 'overdue') "
        f"AND (d.window_end IS NULL OR d.window_end >= {m}) AND NOT EXISTS (SELECT 1 FROM forms_issued f "
        "WHERE f.atena_no = d.atena_no AND f.vaccine_code = d.vaccine_code AND f.phase = d.phase "
        "AND f.dose_no = d.dose_no AND f.cycle = d.cycle AND f.reissue_reason IS NULL)",
        (day.isoformat(),),
    ).fetchall()
    cols = [*_SLOT, "state", "window_start", "window_end", *_PERSON_COLS]
    c = pd.DataFrame(rows, columns=cols).merge(_timing(rules, day), on=["vaccine_code", "phase"])
    start = pd.to_datetime(c["window_start"]).to_numpy(dtype="datetime64[D]")
    fy_end = np.datetime64(f"{day.year + (1 if day.month >= 4 else 0)}-03-31", "D")
    take = (
        c["state"].isin(["due", "overdue"]).to_numpy()
        | (c["form_at"] == "birth").to_numpy()
        | (
            (c["form_at"] == "lead").to_numpy()
            & (start - c["form_lead_days"].to_numpy(dtype="timedelta64[D]") <= _month_end(day))
        )
        | ((c["form_at"] == "april").to_numpy() & (day.month == 4) & (start <= fy_end))
    )
    c = c[take & c["offered"].to_numpy()].assign(reissue_reason=None, reissue_id=None)
    return c.sort_values(_SLOT, ignore_index=True)


def reissues(conn: Connection, rules: Rules | None = None) -> pd.DataFrame:
    """The reissues waiting for a form number, with the person and the slot's window if known."""
    rows = conn.exec_driver_sql(
        "SELECT r.atena_no, r.vaccine_code, r.phase, r.dose_no, r.cycle, d.state, "
        f"CAST(d.window_start AS TEXT), CAST(d.window_end AS TEXT), {_PERSON}, r.reason, r.id "
        "FROM form_reissues r JOIN persons p ON p.atena_no = r.atena_no LEFT JOIN due_doses d "
        "ON d.atena_no = r.atena_no AND d.vaccine_code = r.vaccine_code AND d.phase = r.phase "
        "AND d.dose_no = r.dose_no AND d.cycle = r.cycle WHERE r.form_no IS NULL AND p.status = 'resident' "
        "ORDER BY r.id"
    ).fetchall()
    cols = [*_SLOT, "state", "window_start", "window_end", *_PERSON_COLS, "reissue_reason", "reissue_id"]
    out = pd.DataFrame(rows, columns=cols)
    classes = {v: spec["class"] for v, spec in (rules or default_rules()).vaccines.items()}
    out["b_class"] = out["vaccine_code"].map(lambda v: classes.get(v) == "B").astype(bool)
    return out


def guardian_names(people: pd.DataFrame, day: dt.date) -> np.ndarray:
    """``guardian_name`` of §2 (and §3): the householder's name for a person under 16 on ``day``,
    else empty."""
    birth = pd.to_datetime(people["birth_date"]).to_numpy(dtype="datetime64[D]")
    minor = np.datetime64(day, "D") < add_months(birth, 12 * GUARDIAN_BEFORE_YEARS)
    return np.where(minor, people["householder_name"].fillna("").to_numpy(dtype=object), "")


def file_table(conn: Connection, forms: pd.DataFrame, day: dt.date) -> pa.Table:
    """The file's rows, numbered ``YYYYMM`` + 6 digits in their order."""
    k = len(forms)
    month = day.strftime("%Y%m")
    guardian = guardian_names(forms, day)
    b_class = forms["b_class"].to_numpy(dtype=bool)
    pay = welfare.self_pay_class(
        conn, forms["atena_no"].reset_index(drop=True), np.full(k, np.datetime64(day, "D"))
    )
    pay_text = np.where(b_class, pay.fillna("1").to_numpy(dtype=object), "")  # unknown: ordinary

    def text(col: str) -> pa.Array:
        return pa.array(forms[col].fillna("").astype(str).to_numpy(dtype=object), pa.string())

    return pa.table(
        {
            "form_no": pa.array([f"{month}{i:06d}" for i in range(1, k + 1)], pa.string()),
            "atena_no": text("atena_no"),
            "vaccine_code": text("vaccine_code"),
            "phase": text("phase"),
            "dose_no": pa.array(forms["dose_no"].astype(int).astype(str).to_numpy(dtype=object), pa.string()),
            "window_start": text("window_start"),
            "window_end": text("window_end"),
            "name_kanji": text("name_kanji"),
            "name_kana": text("name_kana"),
            "birth_date": text("birth_date"),
            "sex": text("sex"),
            "guardian_name": pa.array(guardian, pa.string()),
            "address": text("address"),
            "self_pay_class": pa.array(pay_text, pa.string()),
        }
    )


def publish(source: Source, actor: ledger.Actor, day: dt.date, *, db_url: str | None = None) -> list[str]:
    """``YOSHIN_<month of day>.csv`` once, with the form ledger, the reissues' numbers and one
    audit record per person, in the publication's prepare transaction. Nothing to send: no file."""
    built: list[tuple[pd.DataFrame, pa.Table]] = []

    def build(conn: Connection) -> pa.Table | None:
        forms = pd.concat([candidates(conn, day), reissues(conn)], ignore_index=True)
        if forms.empty:
            return None
        table = file_table(conn, forms, day)
        built.append((forms, table))
        return table

    def record(conn: Connection, files: dict[str, outbound.OutboundFile]) -> None:
        forms, table = built[-1]
        _record(conn, actor, forms, table, files["forms"].name, day)

    done = outbound.publish_once(
        source, actor, "forms", {"month": day.strftime("%Y%m")}, build, record, db_url=db_url
    )
    return [f.name for f in done]


def _record(
    conn: Connection, actor: ledger.Actor, forms: pd.DataFrame, table: pa.Table, name: str, day: dt.date
) -> None:
    k = len(forms)

    def same(value: object) -> pa.Array:
        return pa.repeat(pa.scalar(value, pa.string()), k)

    def dates(col: str) -> pa.Array:
        return pa.array(forms[col].where(forms[col].notna(), None).to_numpy(dtype=object), pa.string())

    db.bulk_insert(
        conn,
        "forms_issued",
        pa.table(
            {
                "form_no": table.column("form_no"),
                "atena_no": table.column("atena_no"),
                "vaccine_code": table.column("vaccine_code"),
                "phase": table.column("phase"),
                "dose_no": pa.array(forms["dose_no"].astype(np.int64), pa.int64()),
                "cycle": pa.array(forms["cycle"].astype(np.int64), pa.int64()),
                "window_start": dates("window_start"),
                "window_end": dates("window_end"),
                "file_name": same(name),
                "issued_on": same(day.isoformat()),
                "reissue_reason": dates("reissue_reason"),
                "run_id": same(actor.run_id),
                "recorded_at": same(ledger.now_text()),
            }
        ),
    )
    is_reissue = forms["reissue_id"].notna().to_numpy()
    if is_reissue.any():
        m = db.mark(conn)
        pairs = zip(
            table.column("form_no").to_numpy(zero_copy_only=False)[is_reissue],
            forms["reissue_id"][is_reissue],
            strict=True,
        )
        conn.exec_driver_sql(
            f"UPDATE form_reissues SET form_no = {m} WHERE id = {m}", [(f, int(i)) for f, i in pairs]
        )
    per_person = forms.groupby("atena_no", sort=True).size()
    ledger.write_audit(
        conn,
        actor,
        action="export",
        table_name="forms_issued",
        atena_no=per_person.index.to_numpy(dtype=object),
        fields_changed=np.full(len(per_person), None, dtype=object),
        detail=np.array([f"{name} forms={n}" for n in per_person.to_numpy()], dtype=object),
    )


def request_reissue(
    conn: Connection,
    actor: ledger.Actor,
    atena_no: str,
    vaccine: str,
    phase: str,
    dose_no: int,
    reason: str,
    by: str,
) -> int:
    """Record a reissue for the next forms file (outputs.md §2); audited. Returns its id."""
    rules = default_rules()
    m = db.mark(conn)
    if conn.exec_driver_sql(f"SELECT 1 FROM persons WHERE atena_no = {m}", (atena_no,)).first() is None:
        raise FormsError("forms reissue: no such person in the registry")
    if (vaccine, phase) not in rules.known_phases() or dose_no < 1 or not reason.strip():
        raise FormsError(
            f"forms reissue: vaccine {vaccine} phase {phase} dose {dose_no} with a reason is required"
        )
    cycle = conn.exec_driver_sql(
        f"SELECT MAX(cycle) FROM due_doses WHERE atena_no = {m} AND vaccine_code = {m} AND phase = {m} "
        f"AND dose_no = {m}",
        (atena_no, vaccine, phase, dose_no),
    ).scalar()
    conn.exec_driver_sql(
        "INSERT INTO form_reissues (atena_no, vaccine_code, phase, dose_no, cycle, reason, requested_by, "
        f"requested_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m})",
        (atena_no, vaccine, phase, dose_no, int(cycle or 0), reason, by, ledger.now_text()),
    )
    new_id = int(conn.exec_driver_sql("SELECT MAX(id) FROM form_reissues").scalar_one())
    ledger.write_audit(
        conn,
        actor,
        action="insert",
        table_name="form_reissues",
        atena_no=[atena_no],
        fields_changed=[None],
        detail=[f"reissue {vaccine}/{phase}/{dose_no}: {reason}"],
    )
    return new_id


def history(conn: Connection, atena_no: str) -> list[dict[str, object]]:
    """Every form sent to one person, oldest first (予診票送付履歴の照会)."""
    m = db.mark(conn)
    rows = conn.exec_driver_sql(
        "SELECT form_no, vaccine_code, phase, dose_no, CAST(issued_on AS TEXT), file_name, reissue_reason "
        f"FROM forms_issued WHERE atena_no = {m} ORDER BY form_no",
        (atena_no,),
    ).fetchall()
    keys = ("form_no", "vaccine_code", "phase", "dose_no", "issued_on", "file", "reissue_reason")
    return [dict(zip(keys, r, strict=True)) for r in rows]
