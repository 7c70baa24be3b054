"""Calendar arithmetic of the schedule (vaccines.md §Counting), vectorised over numpy dates.

中N日 means ``date2 − date1 > N``; months are calendar months on the same day (a missing day
is the first of the next month); a child reaches ``k`` months, and ``n`` years, on that day; a
fiscal year (年度) runs April to March; children born 2 April Y – 1 April Y+1 enter primary
school in April Y+7.
"""

from __future__ import annotations

import numpy as np


def _ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = d.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    years = months.astype("datetime64[Y]")
    return (
        years.astype(np.int64) + 1970,
        (months - years).astype(np.int64) + 1,
        (d - months).astype(np.int64) + 1,
    )


def add_months(d: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """``d`` plus ``k`` calendar months, same day of month; a missing day gives the 1st of the next month."""
    d = np.asarray(d, dtype="datetime64[D]")
    month = d.astype("datetime64[M]") + np.asarray(k, dtype=np.int64)
    first = month.astype("datetime64[D]")
    days_in_month = ((month + 1).astype("datetime64[D]") - first).astype(np.int64)
    day = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return np.where(day <= days_in_month, first + (day - 1), first + days_in_month)


def fiscal_year(d: np.ndarray) -> np.ndarray:
    """The fiscal year (年度) of each date: April–March, named by the April's year."""
    y, m, _ = _ymd(np.asarray(d, dtype="datetime64[D]"))
    return np.where(m >= 4, y, y - 1)


def school_entry_year(birth: np.ndarray) -> np.ndarray:
    """The year a child enters primary school (April): born 2 April Y – 1 April Y+1 → Y+7."""
    y, m, day = _ymd(np.asarray(birth, dtype="datetime64[D]"))
    from_april_2 = (m > 4) | ((m == 4) & (day >= 2))
    return np.where(from_april_2, y, y - 1) + 7


def days_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.asarray(b, dtype="datetime64[D]") - np.asarray(a, dtype="datetime64[D]")).astype(np.int64)
