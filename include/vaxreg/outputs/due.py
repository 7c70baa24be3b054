"""The registry refresh (outputs.md §1): ``due_doses`` rebuilt whole from persons, doses and the
welfare periods on an explicit as-of date, atomically, with its Great Expectations checkpoint.

:func:`refresh` reads the residents, their valid routine doses and (for 60–64 year-olds) the
障害部位 of their grade-1 身体 certificates on the as-of date, computes the states with
:func:`vaxreg.rules.due.compute` (columns, no loop per person), and in ONE transaction replaces
``due_doses``, records the refresh (``due_refreshes``) and its audit record, then validates the
counts by state with the suite ``expectations/due_doses.json`` — a failed checkpoint rolls the
whole refresh back (the previous due doses stay) and raises :class:`DueCheckFailed`.

Only residents get rows (outputs.md §1: only they may be ``due``); the checkpoint proves it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.registry import db, ledger, welfare
from vaxreg.rules import due as due_rules
from vaxreg.rules.calendar import add_months
from vaxreg.rules.table import Rules, default_rules

log = logging.getLogger(__name__)
SUITE = "due_doses"
CHUNK_PERSONS = 100_000  # persons computed at once: bounds the memory of a refresh


class DueCheckFailed(Exception):
    """The refreshed due doses broke their checkpoint; nothing was changed. One line, counts only."""


@dataclass(frozen=True)
class Refreshed:
    as_of: dt.date
    rows: int
    counts: dict[str, int]  # state -> rows (every state, 0 included)
    seconds: dict[str, float] = field(default_factory=dict)  # read, compute, write, checkpoint

    def as_dict(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "rows": self.rows,
            "counts": self.counts,
            "seconds": self.seconds,
        }


def _empty_for_load(conn: Connection) -> None:
    """Empty ``due_doses`` inside the refresh's transaction (a rollback restores it). Its indexes
    stay: dropping them needs table ownership, and the pipeline login does not own tables
    (decisions §58)."""
    conn.exec_driver_sql("TRUNCATE due_doses" if db.is_postgres(conn) else "DELETE FROM due_doses")


def _lap(clock: dict[str, float], phase: str, since: float) -> float:
    now = time.perf_counter()
    clock[phase] += now - since
    return now


def _years_before(day: dt.date, years: int) -> str:
    return str(add_months(np.array([np.datetime64(day, "D")]), -12 * years)[0])


def _who(m: str) -> str:
    """Residents who are children (under 20) or 60 and over on the as-of date."""
    return f"p.status = 'resident' AND ((p.birth_date > {m} AND p.birth_date <= {m}) OR p.birth_date <= {m})"


def load_persons(conn: Connection, as_of: dt.date) -> pd.DataFrame:
    """The persons of :func:`vaxreg.rules.due.compute`, ordered by atena_no."""
    m = db.mark(conn)
    params = (_years_before(as_of, 20), as_of.isoformat(), _years_before(as_of, 60))
    persons = db.read_table(
        conn,
        "SELECT p.atena_no, CAST(p.birth_date AS TEXT), p.sex FROM persons p "
        f"WHERE {_who(m)} ORDER BY p.atena_no",
        due_rules.PERSON_COLUMNS,
        params,
    ).to_pandas()
    persons["birth_date"] = pd.to_datetime(persons["birth_date"]).to_numpy(dtype="datetime64[D]")
    return persons


def load_chunk(
    conn: Connection, persons: pd.DataFrame, as_of: dt.date, rules: Rules
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(persons with their 障害部位 letters where 60–64, their valid routine doses up to ``as_of``)
    for a slice of :func:`load_persons` (one atena_no range). Of the vaccines given once per fiscal
    year only this fiscal year's doses are read: earlier ones decide nothing."""
    m = db.mark(conn)
    yearly = due_rules.once_a_year(rules, as_of)
    fy_start = dt.date(as_of.year if as_of.month >= 4 else as_of.year - 1, 4, 1).isoformat()
    codes = ", ".join(f"'{v}'" for v in yearly)
    this_year = f"AND (d.vaccine_code NOT IN ({codes}) OR d.dose_date >= {m})" if yearly else ""
    lo, hi = str(persons["atena_no"].iloc[0]), str(persons["atena_no"].iloc[-1])
    params = (_years_before(as_of, 20), as_of.isoformat(), _years_before(as_of, 60))
    doses = db.read_table(
        conn,
        "SELECT d.atena_no, d.vaccine_code, d.phase, d.dose_no, CAST(d.dose_date AS TEXT), d.off_schedule "
        f"FROM doses d JOIN persons p ON p.atena_no = d.atena_no WHERE {_who(m)} "
        f"AND d.atena_no >= {m} AND d.atena_no <= {m} "
        "AND d.vaccine_code < '30' AND (d.off_schedule IS NULL OR d.off_schedule = '') "
        f"AND d.dose_date <= {m} {this_year}",
        due_rules.DOSE_COLUMNS,
        (*params, lo, hi, as_of.isoformat(), *((fy_start,) if yearly else ())),
        types={"dose_no": pa.int64()},
    ).to_pandas()
    doses["dose_date"] = pd.to_datetime(doses["dose_date"]).to_numpy(dtype="datetime64[D]")
    persons = persons.reset_index(drop=True).assign(disability=None)
    birth = persons["birth_date"].to_numpy(dtype="datetime64[D]")
    day = np.datetime64(as_of, "D")
    sixties = (add_months(birth, 720) <= day) & (day < add_months(birth, 780))
    if sixties.any():
        idx = np.flatnonzero(sixties)
        letters = welfare.disability_letters(
            conn, persons["atena_no"].iloc[idx].reset_index(drop=True), np.full(len(idx), day)
        )
        persons.loc[idx, "disability"] = letters.to_numpy()
    return persons, doses


def _as_table(out: pd.DataFrame) -> pa.Table:
    def dates(col: str) -> pa.Array:
        return pa.array(out[col].to_numpy(dtype="datetime64[D]"), pa.date32()).cast(pa.string())

    return pa.table(
        {
            "atena_no": pa.array(out["atena_no"].astype(str), pa.string()),
            "vaccine_code": pa.array(out["vaccine_code"].astype(str), pa.string()),
            "phase": pa.array(out["phase"].astype(str), pa.string()),
            "dose_no": pa.array(out["dose_no"].to_numpy(dtype=np.int64), pa.int64()),
            "cycle": pa.array(out["cycle"].to_numpy(dtype=np.int64), pa.int64()),
            "state": pa.array(out["state"].astype(str), pa.string()),
            "reason": pa.array(out["reason"].where(out["reason"].notna(), None), pa.string()),
            "window_start": dates("window_start"),
            "window_end": dates("window_end"),
            "earliest_date": dates("earliest_date"),
        }
    )


def refresh(
    actor: ledger.Actor,
    as_of: dt.date,
    *,
    db_url: str | None = None,
    rules: Rules | None = None,
    chunk: int = CHUNK_PERSONS,
) -> Refreshed:
    """Rebuild ``due_doses`` for ``as_of`` in one transaction, checkpoint included; the persons
    are computed in slices of ``chunk`` (atena_no ranges), each slice set-based."""
    rules = rules or default_rules()
    with db.transaction(db_url) as conn:
        _empty_for_load(conn)
        everyone = load_persons(conn, as_of)
        counts = dict.fromkeys(due_rules.STATES, 0)
        written = 0
        clock = dict.fromkeys(("read", "compute", "write", "checkpoint"), 0.0)
        t = time.perf_counter()
        for start in range(0, len(everyone), chunk):  # memory bounded by the chunk, not the registry
            persons, doses = load_chunk(conn, everyone.iloc[start : start + chunk], as_of, rules)
            t = _lap(clock, "read", t)
            out = due_rules.compute(persons, doses, as_of, rules)
            for k, v in out["state"].value_counts().items():
                counts[str(k)] += int(v)
            t = _lap(clock, "compute", t)
            written += db.bulk_insert(conn, "due_doses", _as_table(out))
            t = _lap(clock, "write", t)
        m = db.mark(conn)
        conn.exec_driver_sql(
            "INSERT INTO due_refreshes (as_of, rows, counts, run_id, refreshed_at) "
            f"VALUES ({m}, {m}, {m}, {m}, {m})",
            (
                as_of.isoformat(),
                written,
                json.dumps(counts, sort_keys=True),
                actor.run_id,
                ledger.now_text(),
            ),
        )
        ledger.audit_event(
            conn, actor, "update", "due_doses", {"as_of": as_of.isoformat(), "rows": written} | counts
        )
        checkpoint(conn, as_of, rules)
        _lap(clock, "checkpoint", t)
    result = Refreshed(as_of, written, counts, {k: round(v, 2) for k, v in clock.items()})
    log.info("due doses refreshed: %s", json.dumps(result.as_dict()))
    return result


def checkpoint_frame(conn: Connection, as_of: dt.date, rules: Rules) -> pd.DataFrame:
    """What the checkpoint validates: rows by (state, person status, a valid dose of the slot
    exists), and one ``children`` row: resident children lacking a routine series."""
    rows = conn.exec_driver_sql(
        "SELECT d.state, COALESCE(p.status, 'unknown'), COUNT(*) FROM due_doses d "
        "LEFT JOIN persons p ON p.atena_no = d.atena_no GROUP BY d.state, COALESCE(p.status, 'unknown')"
    ).fetchall()
    # done rows without a valid dose of their slot (index lookups on the doses key, done rows only)
    done_without = conn.exec_driver_sql(
        "SELECT COALESCE(p.status, 'unknown'), COUNT(*) FROM due_doses d "
        "LEFT JOIN persons p ON p.atena_no = d.atena_no WHERE d.state = 'done' AND NOT EXISTS "
        "(SELECT 1 FROM doses v WHERE v.atena_no = d.atena_no AND v.vaccine_code = d.vaccine_code "
        "AND v.phase = d.phase AND v.dose_no = d.dose_no "
        "AND (v.off_schedule IS NULL OR v.off_schedule = '')) "
        "GROUP BY COALESCE(p.status, 'unknown')"
    ).fetchall()
    series = due_rules.rules_in_force(rules, as_of)
    a_class = series[series["vaccine"].map(lambda v: rules.vaccines[v]["class"] == "A")]
    expected = len(a_class[["vaccine", "phase"]].drop_duplicates())
    m = db.mark(conn)
    missing = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM persons p LEFT JOIN (SELECT atena_no, "
        "COUNT(DISTINCT vaccine_code || phase) AS n FROM due_doses WHERE vaccine_code < '20' "
        "GROUP BY atena_no) d ON d.atena_no = p.atena_no WHERE p.status = 'resident' "
        f"AND p.birth_date > {m} AND p.birth_date <= {m} AND COALESCE(d.n, 0) < {m}",
        (_years_before(as_of, 20), as_of.isoformat(), expected),
    ).scalar_one()
    frame = pd.DataFrame(
        [("state", s, st, 1, int(n)) for s, st, n in rows]
        + [("state", "done", st, 0, int(n)) for st, n in done_without]
        + [("children", "", "", 0, int(missing))],
        columns=["check", "state", "person_status", "has_valid_dose", "rows"],
    )
    return frame


def checkpoint(conn: Connection, as_of: dt.date, rules: Rules) -> None:
    """Run the suite on the counts; raise :class:`DueCheckFailed` naming the failed checks."""
    from vaxreg.quality.suites import run_suite

    result = run_suite(checkpoint_frame(conn, as_of, rules), SUITE)
    failed = sorted({s["reason"] for s in result.summary if s["failed"]})
    if failed:
        raise DueCheckFailed(
            f"due doses checkpoint failed ({', '.join(failed)}); the refresh was rolled back"
        )


def last_refresh(conn: Connection) -> dict[str, object] | None:
    row = conn.exec_driver_sql(
        "SELECT CAST(as_of AS TEXT), rows, counts FROM due_refreshes ORDER BY id DESC LIMIT 1"
    ).first()
    return None if row is None else {"as_of": row[0], "rows": int(row[1]), "counts": json.loads(row[2])}
