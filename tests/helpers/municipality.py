"""A generated municipality for the statistics tests, and its expected figures computed here,
independently of the code under test (plain Python dates, one person at a time).

Persons (generated, no real data) with a status history: resident all along, moved in during the
year (some with doses from before, not routine), moved out during the year (their doses while
resident count), moved out before or moved in after 1 October (not target), deceased. Their doses:
valid or off-schedule, in the fiscal year, the year before and the year after.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from dataclasses import dataclass, field

import pyarrow as pa

from vaxreg.registry import db, ledger

FY = 2025
FY_START, FY_END = dt.date(FY, 4, 1), dt.date(FY + 1, 3, 31)
OCT1 = dt.date(FY, 10, 1)
FAR = dt.date(9999, 12, 31)

# (vaccine, phase, dose_no) the generator gives; the first six have their windows below.
GIVEN = [
    ("09", "00", 1),
    ("10", "11", 1),
    ("10", "20", 1),
    ("13", "00", 1),
    ("13", "00", 2),
    ("21", "00", 1),
    ("24", "00", 1),
    ("01", "11", 1),
    ("12", "90", 1),
]


def add_months(d: dt.date, k: int) -> dt.date:
    """Same day k months on; a missing day is the 1st of the next month (vaccines.md)."""
    y, m = divmod(d.month - 1 + k, 12)
    year, month = d.year + y, m + 1
    if d.day <= calendar.monthrange(year, month)[1]:
        return dt.date(year, month, d.day)
    y2, m2 = divmod(month, 12)
    return dt.date(year + y2, m2 + 1, 1)


def school_entry(birth: dt.date) -> int:
    y = birth.year if (birth.month, birth.day) >= (4, 2) else birth.year - 1
    return y + 7


def fy_of(d: dt.date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def window(vaccine: str, phase: str, birth: dt.date, sex: str) -> tuple[dt.date, dt.date] | None:
    """The routine window, written out by hand from vaccines.md (not from the rule table)."""
    one_day = dt.timedelta(days=1)
    if (vaccine, phase) == ("09", "00"):
        return birth, add_months(birth, 12) - one_day
    if (vaccine, phase) == ("10", "11"):
        return add_months(birth, 12), add_months(birth, 24) - one_day
    if (vaccine, phase) == ("10", "20"):
        e = school_entry(birth)
        return dt.date(e - 1, 4, 1), dt.date(e, 3, 31)
    if (vaccine, phase) == ("13", "00"):
        if sex != "2":
            return None
        e = school_entry(birth)
        return dt.date(e + 5, 4, 1), dt.date(e + 10, 3, 31)
    if (vaccine, phase) == ("21", "00"):
        return add_months(birth, 780), FAR
    if (vaccine, phase) == ("24", "00"):
        for age in (65, 70, 75, 80, 85, 90, 95, 100):
            if fy_of(add_months(birth, 12 * age)) == FY:
                return FY_START, FY_END
        return None
    return None


WINDOWED = {("09", "00"), ("10", "11"), ("10", "20"), ("13", "00"), ("21", "00"), ("24", "00")}


@dataclass
class Person:
    atena_no: str
    birth: dt.date
    sex: str
    versions: list[tuple[str, dt.date, dt.date]] = field(default_factory=list)  # status, from, to

    def resident_on(self, d: dt.date) -> bool:
        return any(s == "resident" and a <= d < b for s, a, b in self.versions)


@dataclass
class Dose:
    atena_no: str
    vaccine: str
    phase: str
    dose_no: int
    date: dt.date
    off: str | None


def generate(seed: int = 7, n: int = 360) -> tuple[list[Person], list[Dose]]:
    rnd = random.Random(seed)
    persons, doses = [], []

    def day_between(a: dt.date, b: dt.date) -> dt.date:
        return a + dt.timedelta(days=rnd.randint(0, (b - a).days))

    for i in range(n):
        kind = ("infant", "child", "teen", "elder")[i % 4]
        today = dt.date(FY, 10, 1)
        span = {"infant": (0, 3), "child": (4, 8), "teen": (10, 17), "elder": (60, 90)}[kind]
        birth = today - dt.timedelta(days=rnd.randint(span[0] * 365, span[1] * 365 + 364))
        p = Person(f"{2000000000 + i:010d}", birth, rnd.choice("12"))
        story = rnd.choice(("always", "always", "in_year", "out_year", "out_before", "in_after", "died"))
        since = max(birth, dt.date(2000, 1, 1)) if story != "in_year" else day_between(FY_START, OCT1)
        if story == "in_after":
            since = day_between(OCT1 + dt.timedelta(days=1), FY_END)
        if story in ("out_year", "out_before", "died"):
            lo, hi = (OCT1 + dt.timedelta(days=1), FY_END) if story != "out_before" else (FY_START, OCT1)
            end = day_between(lo, hi)
            gone = "deceased" if story == "died" else "moved_out"
            p.versions = [("resident", since, end), (gone, end, FAR)]
        else:
            p.versions = [("resident", since, FAR)]
        persons.append(p)
        for _ in range(rnd.randint(1, 4)):
            v, ph, no = rnd.choice(GIVEN)
            lo = max(birth, FY_START - dt.timedelta(days=400))
            d = day_between(lo, FY_END + dt.timedelta(days=60))
            off = "outside_age_window" if rnd.random() < 0.15 else None
            if not any(
                (x.vaccine, x.phase, x.dose_no, x.date) == (v, ph, no, d)
                for x in doses
                if x.atena_no == p.atena_no
            ):
                doses.append(Dose(p.atena_no, v, ph, no, d, off))
    return persons, doses


def expected(persons: list[Person], doses: list[Dose]) -> dict[tuple[str, str, int], dict[str, int | None]]:
    """Per (vaccine, phase, dose_no): doses_routine, doses_off_schedule, and for the windowed
    vaccines target_persons and covered."""
    out: dict[tuple[str, str, int], dict[str, int | None]] = {}
    by_id = {p.atena_no: p for p in persons}
    for d in doses:
        row = out.setdefault((d.vaccine, d.phase, d.dose_no), {"doses_routine": 0, "doses_off_schedule": 0})
        if FY_START <= d.date <= FY_END:
            if d.off is not None:
                row["doses_off_schedule"] = int(row["doses_off_schedule"] or 0) + 1
            elif by_id[d.atena_no].resident_on(d.date):
                row["doses_routine"] = int(row["doses_routine"] or 0) + 1
    for v, ph, no in GIVEN:
        if (v, ph) not in WINDOWED:
            continue
        row = out.setdefault((v, ph, no), {"doses_routine": 0, "doses_off_schedule": 0})
        target = covered = 0
        for p in persons:
            if not p.resident_on(OCT1):
                continue
            w = window(v, ph, p.birth, p.sex)
            if w is None or w[0] > FY_END or w[1] < FY_START:
                continue
            target += 1
            lo = max(w[0], FY_START) if v == "21" else w[0]
            hi = min(w[1], FY_END)
            if any(
                (d.atena_no, d.vaccine, d.phase, d.dose_no) == (p.atena_no, v, ph, no)
                and d.off is None
                and lo <= d.date <= hi
                for d in doses
            ):
                covered += 1
        row["target_persons"], row["covered"] = target, covered
    return out


def seed(db_url: str, persons: list[Person], doses: list[Dose]) -> None:
    """Write the municipality straight into ``persons``, ``person_history`` and ``doses``."""
    now = ledger.now_text()
    current, history = [], []
    for p in persons:
        for k, (status, a, b) in enumerate(p.versions, start=1):
            row = {
                "atena_no": p.atena_no,
                "status": status,
                "name_kanji": "試験　花子",
                "name_kana": "シケン　ハナコ",
                "birth_date": p.birth.isoformat(),
                "sex": p.sex,
                "household_no": p.atena_no,
                "version": k,
                "valid_from": a.isoformat(),
                "event_code": "01" if k == 1 else "20",
                "manifest_id": 0,
                "seq": k,
                "decided_by": "test",
                "recorded_at": now,
            }
            if b == FAR:
                current.append(row)
            else:
                history.append(row | {"valid_to": b.isoformat()})
    dose_rows = [
        {
            "atena_no": d.atena_no,
            "vaccine_code": d.vaccine,
            "phase": d.phase,
            "dose_no": d.dose_no,
            "dose_date": d.date.isoformat(),
            "source": "clinic",
            "manifest_id": 0,
            "row_no": i + 1,
            "off_schedule": d.off,
            "version": 1,
            "decided_by": "test",
            "recorded_at": now,
        }
        for i, d in enumerate(doses)
    ]
    with db.transaction(db_url) as conn:
        db.bulk_insert(conn, "persons", pa.Table.from_pylist(current))
        db.bulk_insert(conn, "person_history", pa.Table.from_pylist(history))
        db.bulk_insert(conn, "doses", pa.Table.from_pylist(dose_rows))
