"""Due doses per vaccine family (outputs.md §1) with the counting rules of vaccines.md: month-end
birthdays, fiscal years, HPV's 2- vs 3-dose rule, B class 60–64, one flu dose per fiscal year,
predecessors and intervals (an off-schedule dose does not count). Pure frames, no database."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from vaxreg.rules import due

D = dt.date
A = "0000000001"


def states(
    birth: D,
    as_of: D,
    doses: list[tuple[str, str, int, D] | tuple[str, str, int, D, str]] = (),  # type: ignore[assignment]
    sex: str = "1",
    disability: str | None = "",
) -> pd.DataFrame:
    persons = pd.DataFrame([{"atena_no": A, "birth_date": birth, "sex": sex, "disability": disability}])
    rows = [(A, d[0], d[1], d[2], np.datetime64(d[3], "D"), d[4] if len(d) > 4 else None) for d in doses]
    frame = pd.DataFrame(rows, columns=due.DOSE_COLUMNS)
    return due.compute(persons, frame, as_of)


def state(out: pd.DataFrame, vaccine: str, phase: str, dose_no: int) -> str:
    hit = out[(out["vaccine_code"] == vaccine) & (out["phase"] == phase) & (out["dose_no"] == dose_no)]
    assert len(hit) == 1, f"{vaccine}/{phase}/{dose_no}: {len(hit)} rows"
    return str(hit["state"].iloc[0])


def row(out: pd.DataFrame, vaccine: str, phase: str, dose_no: int) -> pd.Series:
    return out[(out["vaccine_code"] == vaccine) & (out["phase"] == phase) & (out["dose_no"] == dose_no)].iloc[
        0
    ]


def test_month_end_birthday_opens_the_window_on_the_last_day() -> None:
    # Born 31 January: 2 months on 31 March; born 30 December: on 1 March (no 30 February).
    assert state(states(D(2026, 1, 31), D(2026, 3, 30)), "06", "11", 1) == "not_yet"
    assert state(states(D(2026, 1, 31), D(2026, 3, 31)), "06", "11", 1) == "due"
    out = states(D(2025, 12, 30), D(2026, 2, 28))
    assert state(out, "06", "11", 1) == "not_yet"
    assert row(out, "06", "11", 1)["window_start"] == np.datetime64("2026-03-01")
    assert state(states(D(2025, 12, 30), D(2026, 3, 1)), "06", "11", 1) == "due"


def test_primary_series_waits_for_its_predecessor_and_interval() -> None:
    birth = D(2026, 1, 10)
    out = states(birth, D(2026, 4, 20), [("06", "11", 1, D(2026, 4, 10))])
    assert state(out, "06", "11", 1) == "done"
    assert state(out, "06", "11", 2) == "not_yet"  # 中20日: from 1 May
    assert row(out, "06", "11", 2)["earliest_date"] == np.datetime64("2026-05-01")
    assert state(out, "06", "11", 3) == "not_yet"  # its predecessor is not done
    assert pd.isna(row(out, "06", "11", 3)["earliest_date"])
    assert state(states(birth, D(2026, 5, 1), [("06", "11", 1, D(2026, 4, 10))]), "06", "11", 2) == "due"


def test_an_off_schedule_dose_is_not_done_and_the_interval_counts_from_the_valid_one() -> None:
    birth = D(2026, 1, 10)
    doses = [("06", "11", 1, D(2026, 4, 10)), ("06", "11", 2, D(2026, 4, 20), "interval_too_short")]
    out = states(birth, D(2026, 5, 5), doses)
    assert state(out, "06", "11", 2) == "due"
    assert row(out, "06", "11", 2)["earliest_date"] == np.datetime64("2026-05-01")


def test_booster_waits_for_the_last_primary_dose_and_its_months() -> None:
    birth = D(2025, 1, 10)
    primary = [("06", "11", k, D(2025, 3 + k, 15)) for k in (1, 2, 3)]
    out = states(birth, D(2025, 10, 1), primary)
    assert state(out, "06", "12", 1) == "not_yet"
    assert row(out, "06", "12", 1)["earliest_date"] == np.datetime64("2025-12-15")  # 6 months after
    assert state(states(birth, D(2025, 12, 15), primary), "06", "12", 1) == "due"
    assert state(states(birth, D(2025, 12, 15), primary[:2]), "06", "12", 1) == "not_yet"


def test_alternative_series_and_overdue_past_the_standard_age() -> None:
    birth = D(2025, 1, 10)
    out = states(birth, D(2025, 12, 1), [("06", "11", 1, D(2025, 3, 15))])
    assert state(out, "07", "11", 1) == "not_eligible"  # follows 5種混合 instead
    assert state(out, "01", "11", 1) == "not_eligible"  # Hib is in 5種混合
    assert state(out, "06", "11", 2) == "due"
    # No dose at 13 months: past the standard age of the primary series (12 months).
    late = states(birth, D(2026, 2, 10))
    assert state(late, "06", "11", 1) == "overdue"
    assert row(late, "06", "11", 1)["reason"] == "OVERDUE"


def test_closing_window_and_closed() -> None:
    birth = D(2025, 4, 1)  # BCG before 12 months: last day 2026-03-31
    assert state(states(birth, D(2026, 1, 5)), "09", "00", 1) == "overdue"
    assert row(states(birth, D(2026, 1, 5)), "09", "00", 1)["reason"] == "CLOSING"
    assert state(states(birth, D(2026, 4, 1)), "09", "00", 1) == "closed"
    assert state(states(birth, D(2025, 5, 1)), "09", "00", 1) == "due"


def test_mr_phase_2_is_the_fiscal_year_before_school_entry() -> None:
    # Born 2 April 2020: school in April 2027, MR 2 in FY2026; born 1 April 2020: FY2025.
    late = row(states(D(2020, 4, 2), D(2026, 4, 1)), "10", "20", 1)
    assert (late["window_start"], late["window_end"]) == (
        np.datetime64("2026-04-01"),
        np.datetime64("2027-03-31"),
    )
    assert late["state"] == "due"
    early = states(D(2020, 4, 1), D(2026, 4, 1))
    assert state(early, "10", "20", 1) == "closed"


def test_hpv_two_or_three_doses_by_age_at_dose_1_and_sex() -> None:
    birth = D(2011, 6, 1)  # 15 on 2026-06-01
    two = states(birth, D(2026, 7, 1), [("13", "00", 1, D(2026, 5, 1))], sex="2")
    assert set(two[two["vaccine_code"] == "13"]["dose_no"]) == {1, 2}
    assert state(two, "13", "00", 2) == "not_yet"  # 5 months after dose 1: 1 October
    three = states(birth, D(2026, 7, 1), sex="2")  # no dose 1 before 15: 3 doses
    assert set(three[three["vaccine_code"] == "13"]["dose_no"]) == {1, 2, 3}
    assert state(three, "13", "00", 1) == "overdue"  # past the standard year (中1)
    boy = states(birth, D(2026, 7, 1), sex="1")
    assert state(boy, "13", "00", 1) == "not_eligible"


def test_flu_once_per_fiscal_year_and_b_class_60_64() -> None:
    old = D(1950, 5, 5)
    fresh = states(old, D(2026, 10, 1), [("21", "00", 1, D(2026, 1, 10))])  # FY2025's dose
    assert state(fresh, "21", "00", 1) == "due"
    assert row(fresh, "21", "00", 1)["cycle"] == 2026
    assert state(states(old, D(2026, 10, 1), [("21", "00", 1, D(2026, 4, 10))]), "21", "00", 1) == "done"
    sixty_two = D(1964, 5, 5)
    assert state(states(sixty_two, D(2026, 10, 1), disability="H"), "21", "00", 1) == "due"
    assert state(states(sixty_two, D(2026, 10, 1), disability=""), "21", "00", 1) == "not_yet"
    assert state(states(sixty_two, D(2026, 10, 1), disability=None), "21", "00", 1) == "not_yet"
    # Zoster: only the immune part (I) qualifies a 60–64 year-old.
    assert state(states(sixty_two, D(2026, 10, 1), disability="H"), "24", "00", 1) == "not_yet"
    assert state(states(sixty_two, D(2026, 10, 1), disability="I"), "24", "00", 1) == "due"


def test_ppsv23_in_the_fiscal_year_of_turning_65_then_closed() -> None:
    out = states(D(1961, 8, 1), D(2026, 9, 1))  # 65 in FY2026
    r = row(out, "22", "00", 1)
    assert (r["window_start"], r["window_end"], r["state"]) == (
        np.datetime64("2026-04-01"),
        np.datetime64("2027-03-31"),
        "due",
    )
    assert state(states(D(1958, 8, 1), D(2026, 9, 1)), "22", "00", 1) == "closed"


def test_children_and_elders_only_and_je_catch_up_by_cohort() -> None:
    out = states(D(1990, 1, 1), D(2026, 9, 1))
    assert out.empty  # 36 years old: neither a child nor 60
    kid = states(D(2019, 1, 1), D(2026, 9, 1))
    assert state(kid, "12", "90", 1) == "not_eligible"  # born after 2007-04-01
    assert set(kid["state"]) <= set(due.STATES)
