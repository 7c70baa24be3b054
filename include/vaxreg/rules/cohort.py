"""Who a routine vaccination is for in a fiscal year (対象者): the rules in force in the year and,
per person, the window of each rule, computed from the ONE rule table
(:mod:`vaxreg.rules.table`) with the calendar of :mod:`vaxreg.rules.calendar`. Nothing of the
schedule is written here: every bound (age in days or months, birth range, school years, fiscal
year of an age, sex) is read from the rule's row.

Used by the prefecture statistics (:mod:`vaxreg.outputs.stats`) for ``target_persons`` and
``coverage``. The B-class 60–64 year-olds with a certificate are not in the windows: their
eligibility is a welfare fact, not an age (docs/decisions.md, "Statistics").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from vaxreg.rules.calendar import add_months, fiscal_year, school_entry_year
from vaxreg.rules.table import Rules

EARLIEST = np.datetime64("1800-01-01", "D")
LATEST = np.datetime64("2999-12-31", "D")
ROUTINE_CLASSES = ("A", "B")


def fy_bounds(fy: int) -> tuple[dt.date, dt.date]:
    """1 April of ``fy`` and 31 March of the next year."""
    return dt.date(fy, 4, 1), dt.date(fy + 1, 3, 31)


def rules_in_force(rules: Rules, fy: int) -> pd.DataFrame:
    """The routine rules (class A or B) in force on any day of the fiscal year."""
    start, end = (np.datetime64(d, "D") for d in fy_bounds(fy))
    r = rules.rules
    routine = r["vaccine"].map(lambda v: rules.vaccines.get(v, {}).get("class") in ROUTINE_CLASSES)
    live = (r["eff_from"].to_numpy(dtype="datetime64[D]") <= end) & (
        r["eff_to"].to_numpy(dtype="datetime64[D]") >= start
    )
    return r[routine.to_numpy(dtype=bool) & live].reset_index(drop=True)


def routine_rows(rules: Rules, fy: int) -> pd.DataFrame:
    """vaccine_code, phase, dose_no of every dose of the rules in force (a vaccine whose variants
    differ in doses, HPV, has the largest number)."""
    r = rules_in_force(rules, fy)
    most = r.groupby(["vaccine", "phase"], as_index=False)["doses"].max()
    rows = [(v, p, n) for v, p, d in most.itertuples(index=False) for n in range(1, int(d) + 1)]
    return pd.DataFrame(rows, columns=["vaccine_code", "phase", "dose_no"])


def windows(rules: Rules, persons: pd.DataFrame, fy: int) -> pd.DataFrame:
    """Per person (``atena_no``, ``birth_date``, ``sex``) and routine (vaccine, phase) in force:
    the person's window ``[win_start, win_end]`` where it overlaps the fiscal year. Columns:
    atena_no, vaccine_code, phase, win_start, win_end, per_fiscal_year (bool)."""
    fy_start, fy_end = (np.datetime64(d, "D") for d in fy_bounds(fy))
    birth = persons["birth_date"].to_numpy(dtype="datetime64[D]")
    sex = persons["sex"].astype(str).to_numpy()
    parts = []
    seen: set[tuple[str, str]] = set()
    for rule in rules_in_force(rules, fy).itertuples(index=False):
        key = (str(rule.vaccine), str(rule.phase))
        if key in seen:  # variants of one phase (HPV) share their window
            continue
        seen.add(key)
        start, end, ok = _window(rule, birth, sex, fy)
        ok &= (start <= end) & (start <= fy_end) & (end >= fy_start)
        if not ok.any():
            continue
        per_fy = pd.notna(getattr_any(rule, "per_fiscal_year"))  # flu, COVID-19: once a year
        parts.append(
            pd.DataFrame(
                {
                    "atena_no": persons["atena_no"].to_numpy()[ok],
                    "vaccine_code": key[0],
                    "phase": key[1],
                    "win_start": start[ok],
                    "win_end": end[ok],
                    "per_fiscal_year": per_fy,
                }
            )
        )
    columns = ["atena_no", "vaccine_code", "phase", "win_start", "win_end", "per_fiscal_year"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _window(rule: object, birth: np.ndarray, sex: np.ndarray, fy: int) -> tuple[np.ndarray, ...]:
    """(start, end, applies) per person for one rule: every bound the rule has."""
    n = len(birth)
    start = np.full(n, EARLIEST)
    end = np.full(n, LATEST)
    ok = np.ones(n, dtype=bool)

    def g(name: str) -> Any:
        return getattr(rule, name)

    if pd.notna(g("sex")):
        ok &= sex == str(g("sex"))
    if pd.notna(g("from_days")):
        start = np.maximum(start, birth + np.timedelta64(int(g("from_days")), "D"))
    if pd.notna(g("to_days")):
        end = np.minimum(end, birth + np.timedelta64(int(g("to_days")), "D"))
    if pd.notna(g("from_months")):
        start = np.maximum(start, add_months(birth, int(g("from_months"))))
    if pd.notna(g("before_months")):
        end = np.minimum(end, add_months(birth, int(g("before_months"))) - np.timedelta64(1, "D"))
    if g("born_from") is not None and pd.notna(g("born_from")):
        bf, bt = np.datetime64(g("born_from"), "D"), np.datetime64(g("born_to"), "D")
        ok &= (birth >= bf) & (birth <= bt)
    if pd.notna(g("school_from")):
        entry = school_entry_year(birth)
        first = _april_first(entry + int(g("school_from")))
        last = _april_first(entry + int(g("school_to")) + 1) - np.timedelta64(1, "D")
        start, end = np.maximum(start, first), np.minimum(end, last)
    ages = tuple(g("fy_of_age") or ())
    if ages:
        # The fiscal years containing the listed birthdays: only one can be this year.
        hit = np.zeros(n, dtype=bool)
        for age in ages:
            hit |= fiscal_year(add_months(birth, 12 * int(age))) == fy
        ok &= hit
        first = _april_first(np.full(n, fy))
        start = np.maximum(start, first)
        end = np.minimum(end, _april_first(np.full(n, fy + 1)) - np.timedelta64(1, "D"))
    return start, end, ok


def _april_first(years: np.ndarray) -> np.ndarray:
    y = np.asarray(years, dtype=np.int64)
    months = (y - 1970).astype("datetime64[Y]").astype("datetime64[M]") + np.timedelta64(3, "M")
    return months.astype("datetime64[D]")


def getattr_any(row: object, name: str) -> Any:
    """A field of an ``itertuples`` row, untyped (pandas types rows loosely)."""
    return getattr(row, name)
