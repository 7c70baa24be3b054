"""A generated municipality for the due-doses truth test: residents and non-residents, children
and elders, dose histories with valid and off-schedule doses, and the expected state of each
checked slot computed here by plain scalar date logic (one person at a time, ``datetime`` only),
independently of :mod:`vaxreg.rules.due` and its rule table.

Checked families: BCG (09), MR phases 1 and 2 (10/11, 10/20), 5-in-1 primary series (06/11,
doses 1–3, 中20日), elderly influenza (21, once per fiscal year). Same seed, same municipality.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from dataclasses import dataclass, field

CLOSING_DAYS = 90


def add_months(d: dt.date, k: int) -> dt.date:
    """Same day ``k`` months on; a missing day gives the 1st of the next month."""
    y, m = divmod(d.month - 1 + k, 12)
    year, month = d.year + y, m + 1
    if d.day <= calendar.monthrange(year, month)[1]:
        return dt.date(year, month, d.day)
    return dt.date(year + (month == 12), month % 12 + 1, 1)


def fiscal_year(d: dt.date) -> int:
    return d.year if d.month >= 4 else d.year - 1


@dataclass
class Town:
    persons: list[tuple[str, str, str, str]] = field(default_factory=list)  # atena, birth, sex, status
    doses: list[tuple[str, str, str, int, str, str | None]] = field(default_factory=list)
    expected: dict[tuple[str, str, str, int], str] = field(default_factory=dict)


def _open_state(start: dt.date, end: dt.date, as_of: dt.date, standard: dt.date | None) -> str:
    if as_of > end:
        return "closed"
    if as_of < start:
        return "not_yet"
    if (end - as_of).days < CLOSING_DAYS or (standard is not None and as_of >= standard):
        return "overdue"
    return "due"


def _child(
    town: Town, rng: random.Random, atena: str, birth: dt.date, as_of: dt.date, resident: bool
) -> None:
    def give(v: str, p: str, n: int, when: dt.date, off: str | None = None) -> None:
        if when <= as_of:
            town.doses.append((atena, v, p, n, when.isoformat(), off))

    expect: dict[tuple[str, str, int], str] = {}
    # BCG: before 12 months; standard to 8 months.
    bcg_end = add_months(birth, 12) - dt.timedelta(days=1)
    if rng.random() < 0.6:
        when = birth + dt.timedelta(days=rng.randint(150, 330))
        give("09", "00", 1, when)
    given = {(d[1], d[2], d[3]) for d in town.doses if d[0] == atena and d[5] is None}
    expect[("09", "00", 1)] = (
        "done" if ("09", "00", 1) in given else _open_state(birth, bcg_end, as_of, add_months(birth, 8))
    )
    # MR 1: 12 to before 24 months; MR 2: the fiscal year before school entry.
    if rng.random() < 0.5:
        give("10", "11", 1, add_months(birth, 12) + dt.timedelta(days=rng.randint(0, 300)))
    entry = birth.year + 7 if (birth.month, birth.day) >= (4, 2) else birth.year + 6
    if rng.random() < 0.3:
        give("10", "20", 1, dt.date(entry - 1, 4, 1) + dt.timedelta(days=rng.randint(0, 200)))
    # 5-in-1 primary: doses 1..k at 中20日 or more; sometimes dose 2 too early (off schedule).
    last = add_months(birth, 2) + dt.timedelta(days=rng.randint(0, 60))
    for n in range(1, rng.randint(0, 3) + 1):
        if n > 1:
            short = rng.random() < 0.2
            last = last + dt.timedelta(days=rng.randint(10, 20) if short else rng.randint(21, 60))
            give("06", "11", n, last, "interval_too_short" if short else None)
            if short:
                break
        else:
            give("06", "11", n, last)
    done = {
        (d[1], d[2], d[3]): dt.date.fromisoformat(d[4]) for d in town.doses if d[0] == atena and d[5] is None
    }
    mr1_start, mr1_end = add_months(birth, 12), add_months(birth, 24) - dt.timedelta(days=1)
    expect[("10", "11", 1)] = (
        "done" if ("10", "11", 1) in done else _open_state(mr1_start, mr1_end, as_of, None)
    )
    mr2 = _open_state(dt.date(entry - 1, 4, 1), dt.date(entry, 3, 31), as_of, None)
    expect[("10", "20", 1)] = "done" if ("10", "20", 1) in done else mr2
    start, end = add_months(birth, 2), add_months(birth, 90) - dt.timedelta(days=1)
    for n in (1, 2, 3):
        if ("06", "11", n) in done:
            expect[("06", "11", n)] = "done"
            continue
        state = _open_state(start, end, as_of, add_months(birth, 12))
        prev = done.get(("06", "11", n - 1))
        if state in ("due", "overdue") and n > 1 and (prev is None or as_of <= prev + dt.timedelta(days=20)):
            state = "not_yet"
        expect[("06", "11", n)] = state
    if resident:
        town.expected |= {(atena, *k): s for k, s in expect.items()}


def _elder(
    town: Town, rng: random.Random, atena: str, birth: dt.date, as_of: dt.date, resident: bool
) -> None:
    fy = fiscal_year(as_of)
    if rng.random() < 0.5:  # last season's dose: does not count this fiscal year
        town.doses.append((atena, "21", "00", 1, dt.date(fy, 1, 15).isoformat(), None))
    this_year = rng.random() < 0.4 and as_of >= dt.date(fy, 10, 2)
    if this_year:
        town.doses.append((atena, "21", "00", 1, dt.date(fy, 10, 1).isoformat(), None))
    if resident:
        fy_end = dt.date(fy + 1, 3, 31)
        town.expected[(atena, "21", "00", 1)] = (
            "done" if this_year else _open_state(dt.date(fy, 4, 1), fy_end, as_of, None)
        )


def municipality(seed: int, persons: int, as_of: dt.date) -> Town:
    """``persons`` generated persons (children 0–7 years, elders 66–90), 10 % not resident."""
    rng = random.Random(seed)
    town = Town()
    for i in range(persons):
        atena = f"7{i + 1:09d}"
        child = rng.random() < 0.6
        age_days = rng.randint(0, 7 * 365) if child else rng.randint(66 * 366, 90 * 365)
        birth = as_of - dt.timedelta(days=age_days)
        resident = rng.random() >= 0.1
        town.persons.append(
            (atena, birth.isoformat(), rng.choice("12"), "resident" if resident else "moved_out")
        )
        (_child if child else _elder)(town, rng, atena, birth, as_of, resident)
    return town
