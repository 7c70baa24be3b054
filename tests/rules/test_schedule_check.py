"""Every schedule rule at its boundary: the day before, the day of, the day after; births on
the 29th-31st; leap years (vaccines.md §Counting, §Rules). The rules come from the reviewed
data file; these tests pin the shipped defaults."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from vaxreg.rules import calendar, check, table
from vaxreg.rules.check import judge_one

D = dt.date
ON = ""  # on schedule


def off(vaccine: str, phase: str, dose_no: int, day: dt.date, birth: dt.date, **kw: object) -> str:
    return judge_one(vaccine, phase, dose_no, day, birth, **kw)["off_schedule"]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- counting helpers


@pytest.mark.parametrize(
    ("birth", "months", "reached"),
    [
        (D(2026, 1, 31), 2, D(2026, 3, 31)),  # vaccines.md example
        (D(2025, 12, 30), 2, D(2026, 3, 1)),  # vaccines.md example: February has no 30th
        (D(2023, 12, 29), 2, D(2024, 2, 29)),  # leap year: 29 February exists
        (D(2024, 12, 29), 2, D(2025, 3, 1)),  # common year: it does not
        (D(2023, 12, 31), 2, D(2024, 3, 1)),
        (D(2024, 1, 31), 1, D(2024, 3, 1)),
        (D(2024, 2, 29), 12, D(2025, 3, 1)),  # born 29 February: first birthday on 1 March
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
        (D(2026, 3, 31), 6, D(2026, 10, 1)),
    ],
)
def test_months_by_same_day_of_month(birth: dt.date, months: int, reached: dt.date) -> None:
    got = calendar.add_months(np.array([birth], dtype="datetime64[D]"), months)[0]
    assert got == np.datetime64(reached)


@pytest.mark.parametrize(
    ("birth", "entry"),
    [(D(2019, 4, 1), 2025), (D(2019, 4, 2), 2026), (D(2020, 3, 31), 2026), (D(2020, 4, 1), 2026)],
)
def test_school_entry_year(birth: dt.date, entry: int) -> None:
    assert calendar.school_entry_year(np.array([birth], dtype="datetime64[D]"))[0] == entry


def test_fiscal_year_boundary() -> None:
    days = np.array(["2026-03-31", "2026-04-01"], dtype="datetime64[D]")
    assert list(calendar.fiscal_year(days)) == [2025, 2026]


# --------------------------------------------------------------------------- age windows


@pytest.mark.parametrize(
    ("birth", "day", "expected"),
    [
        (D(2026, 1, 31), D(2026, 3, 30), "outside_age_window"),  # born on the 31st
        (D(2026, 1, 31), D(2026, 3, 31), ON),
        (D(2026, 1, 31), D(2026, 4, 1), ON),
        (D(2025, 12, 30), D(2026, 2, 28), "outside_age_window"),  # born on the 30th
        (D(2025, 12, 30), D(2026, 3, 1), ON),
        (D(2023, 12, 29), D(2024, 2, 28), "outside_age_window"),  # born on the 29th, leap year
        (D(2023, 12, 29), D(2024, 2, 29), ON),
        (D(2024, 12, 29), D(2025, 2, 28), "outside_age_window"),  # born on the 29th, common year
        (D(2024, 12, 29), D(2025, 3, 1), ON),
        # before 60 months
        (D(2021, 3, 5), D(2026, 3, 4), ON),
        (D(2021, 3, 5), D(2026, 3, 5), "outside_age_window"),
        (D(2021, 3, 5), D(2026, 3, 6), "outside_age_window"),
    ],
)
def test_hib_age_window(birth: dt.date, day: dt.date, expected: str) -> None:
    assert off("01", "11", 1, day, birth) == expected


@pytest.mark.parametrize(
    ("vaccine", "day", "expected"),
    [
        ("04", D(2026, 2, 11), "outside_age_window"),  # 6 weeks 0 days is 12 February
        ("04", D(2026, 2, 12), ON),
        ("04", D(2026, 2, 13), ON),
        ("04", D(2026, 6, 17), ON),
        ("04", D(2026, 6, 18), ON),  # 24 weeks 0 days
        ("04", D(2026, 6, 19), "outside_age_window"),
        ("05", D(2026, 8, 13), ON),  # 32 weeks 0 days
        ("05", D(2026, 8, 14), "outside_age_window"),
    ],
)
def test_rotavirus_weeks(vaccine: str, day: dt.date, expected: str) -> None:
    assert off(vaccine, "00", 1, day, D(2026, 1, 1)) == expected


@pytest.mark.parametrize(
    ("vaccine", "phase", "birth", "day", "expected"),
    [
        ("03", "00", D(2025, 5, 31), D(2026, 5, 30), ON),  # HepB before 12 months
        ("03", "00", D(2025, 5, 31), D(2026, 5, 31), "outside_age_window"),
        ("09", "00", D(2024, 2, 29), D(2025, 2, 28), ON),  # BCG, born 29 Feb: 12 months on 1 March
        ("09", "00", D(2024, 2, 29), D(2025, 3, 1), "outside_age_window"),
        ("10", "11", D(2025, 3, 31), D(2026, 3, 30), "outside_age_window"),  # MR1 from 12 months
        ("10", "11", D(2025, 3, 31), D(2026, 3, 31), ON),
        ("10", "11", D(2025, 3, 31), D(2027, 3, 30), ON),
        ("10", "11", D(2025, 3, 31), D(2027, 3, 31), "outside_age_window"),  # before 24 months
        ("11", "00", D(2023, 10, 31), D(2026, 10, 30), ON),  # varicella before 36 months
        ("11", "00", D(2023, 10, 31), D(2026, 10, 31), "outside_age_window"),
        ("08", "20", D(2015, 3, 31), D(2026, 3, 30), "outside_age_window"),  # DT from 11 years
        ("08", "20", D(2015, 3, 31), D(2026, 3, 31), ON),
        ("08", "20", D(2013, 3, 31), D(2026, 3, 30), ON),
        ("08", "20", D(2013, 3, 31), D(2026, 3, 31), "outside_age_window"),  # before 13 years
        ("12", "20", D(2017, 5, 1), D(2026, 4, 30), "outside_age_window"),  # JE2 from 9 years
        ("12", "20", D(2017, 5, 1), D(2026, 5, 1), ON),
        ("12", "11", D(2025, 8, 31), D(2026, 2, 28), "outside_age_window"),  # JE from 6 months
        ("12", "11", D(2025, 8, 31), D(2026, 3, 1), ON),
        ("07", "11", D(2018, 10, 15), D(2026, 4, 14), ON),  # 4-in-1 before 90 months
        ("07", "11", D(2018, 10, 15), D(2026, 4, 15), "outside_age_window"),
    ],
)
def test_age_windows(vaccine: str, phase: str, birth: dt.date, day: dt.date, expected: str) -> None:
    assert off(vaccine, phase, 1, day, birth) == expected


@pytest.mark.parametrize(
    ("birth", "day", "expected"),
    [
        # born 1 April 2020: enters school April 2026; window = FY2025
        (D(2020, 4, 1), D(2025, 3, 31), "outside_age_window"),
        (D(2020, 4, 1), D(2025, 4, 1), ON),
        (D(2020, 4, 1), D(2026, 3, 31), ON),
        (D(2020, 4, 1), D(2026, 4, 1), "outside_age_window"),
        # born 2 April 2020: one school year later; window = FY2026
        (D(2020, 4, 2), D(2026, 3, 31), "outside_age_window"),
        (D(2020, 4, 2), D(2026, 4, 1), ON),
        (D(2020, 4, 2), D(2027, 3, 31), ON),
        (D(2020, 4, 2), D(2027, 4, 1), "outside_age_window"),
    ],
)
def test_mr_phase_2_fiscal_year_before_school_entry(birth: dt.date, day: dt.date, expected: str) -> None:
    assert off("10", "20", 1, day, birth) == expected


def test_je_special_cohort_born_window() -> None:
    assert off("12", "90", 1, D(2014, 4, 1), D(1995, 4, 1)) == "outside_age_window"
    assert off("12", "90", 1, D(2014, 4, 1), D(1995, 4, 2)) == ON
    assert off("12", "90", 1, D(2015, 4, 1), D(1995, 4, 2)) == ON  # the day before the 20th birthday
    assert off("12", "90", 1, D(2015, 4, 2), D(1995, 4, 2)) == "outside_age_window"  # 20th birthday
    assert off("12", "90", 1, D(2026, 4, 1), D(2007, 4, 1)) == ON
    assert off("12", "90", 1, D(2026, 4, 1), D(2007, 4, 2)) == "outside_age_window"


# --------------------------------------------------------------------------- intervals (中N日, months)


@pytest.mark.parametrize(
    ("gap", "off_codes", "flags"),
    [
        (20, "interval_too_short", ""),  # not even the doctor's 20 days
        (21, ON, "interval_doctor_judgement"),
        (27, ON, "interval_doctor_judgement"),  # 中27日 means > 27 days
        (28, ON, ""),
        (29, ON, ""),
    ],
)
def test_hib_primary_interval_27_days_or_20_with_judgement(gap: int, off_codes: str, flags: str) -> None:
    birth, first = D(2025, 11, 1), D(2026, 1, 5)
    got = judge_one("01", "11", 2, first + dt.timedelta(days=gap), birth, history=[("01", "11", 1, first)])
    assert (got["off_schedule"], got["flags"]) == (off_codes, flags)


def test_27_days_apart_example_of_the_spec() -> None:
    """ "27 days apart: a dose on 1 April allows the next on 29 April"."""
    h = [("02", "11", 1, D(2026, 4, 1))]
    assert off("02", "11", 2, D(2026, 4, 28), D(2026, 1, 1), history=h) == "interval_too_short"
    assert off("02", "11", 2, D(2026, 4, 29), D(2026, 1, 1), history=h) == ON


@pytest.mark.parametrize(("gap", "expected"), [(20, "interval_too_short"), (21, ON)])
def test_five_in_one_primary_20_days(gap: int, expected: str) -> None:
    first = D(2026, 1, 10)
    h = [("06", "11", 1, first)]
    assert off("06", "11", 2, first + dt.timedelta(days=gap), D(2025, 10, 1), history=h) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [(D(2026, 8, 30), "interval_too_short"), (D(2026, 8, 31), ON), (D(2026, 9, 1), ON)],
)
def test_booster_months_after_last_primary_dose(day: dt.date, expected: str) -> None:
    # Hib booster 7 months after the LAST phase-11 dose (the third, 31 January): 31 August.
    h = [("01", "11", 1, D(2025, 11, 30)), ("01", "11", 2, D(2025, 12, 31)), ("01", "11", 3, D(2026, 1, 31))]
    assert off("01", "12", 1, day, D(2025, 9, 1), history=h) == expected


def test_month_interval_from_the_31st_rolls_to_the_first() -> None:
    # 4-in-1 booster 6 months after 31 August -> 28/29 February does not exist as 31 -> 1 March
    h = [("07", "11", 3, D(2025, 8, 31))]
    assert off("07", "12", 1, D(2026, 2, 28), D(2025, 3, 1), history=h) == "interval_too_short"
    assert off("07", "12", 1, D(2026, 3, 1), D(2025, 3, 1), history=h) == ON


def test_pcv_booster_60_days_and_12_months() -> None:
    h = [("02", "11", 3, D(2026, 1, 1))]
    birth = D(2025, 1, 15)
    assert off("02", "12", 1, D(2026, 3, 2), birth, history=h) == "interval_too_short"  # 60 days
    assert off("02", "12", 1, D(2026, 3, 3), birth, history=h) == ON  # 61 days: 中60日
    assert off("02", "12", 1, D(2026, 3, 3), D(2025, 3, 4), history=h) == "outside_age_window"


def test_hepb_third_dose_counts_from_the_first() -> None:
    h = [("03", "00", 1, D(2026, 1, 10)), ("03", "00", 2, D(2026, 2, 10))]
    birth = D(2025, 11, 1)
    assert off("03", "00", 3, D(2026, 5, 29), birth, history=h) == "interval_too_short"  # 139 days
    assert off("03", "00", 3, D(2026, 5, 30), birth, history=h) == ON  # 140 days


def test_varicella_three_months_and_je_six_days() -> None:
    h = [("11", "00", 1, D(2025, 11, 30))]
    assert off("11", "00", 2, D(2026, 2, 28), D(2024, 6, 1), history=h) == "interval_too_short"
    assert off("11", "00", 2, D(2026, 3, 1), D(2024, 6, 1), history=h) == ON  # 30 Feb -> 1 March
    h = [("12", "11", 1, D(2026, 5, 1))]
    assert off("12", "11", 2, D(2026, 5, 7), D(2023, 1, 1), history=h) == "interval_too_short"
    assert off("12", "11", 2, D(2026, 5, 8), D(2023, 1, 1), history=h) == ON


# --------------------------------------------------------------------------- HPV


def test_hpv_two_or_three_doses_by_age_at_dose_one() -> None:
    birth = D(2011, 6, 10)  # 15 on 2026-06-10
    two = [("13", "00", 1, D(2026, 6, 9))]  # dose 1 the day before the 15th birthday
    three = [("13", "00", 1, D(2026, 6, 10))]  # dose 1 on the birthday
    # 2-dose schedule: dose 2 five months after dose 1; a third dose is too many.
    assert off("13", "00", 2, D(2026, 11, 8), birth, sex="2", history=two) == "interval_too_short"
    assert off("13", "00", 2, D(2026, 11, 9), birth, sex="2", history=two) == ON
    assert "dose_count_exceeded" in off(
        "13", "00", 3, D(2027, 3, 1), birth, sex="2", history=[*two, ("13", "00", 2, D(2026, 11, 9))]
    )
    # 3-dose schedule: dose 2 one month after dose 1, dose 3 three months after dose 2.
    assert off("13", "00", 2, D(2026, 7, 9), birth, sex="2", history=three) == "interval_too_short"
    assert off("13", "00", 2, D(2026, 7, 10), birth, sex="2", history=three) == ON
    h3 = [*three, ("13", "00", 2, D(2026, 7, 31))]
    assert off("13", "00", 3, D(2026, 10, 30), birth, sex="2", history=h3) == "interval_too_short"
    assert off("13", "00", 3, D(2026, 10, 31), birth, sex="2", history=h3) == ON


def test_hpv_school_years_and_sex() -> None:
    birth = D(2013, 4, 1)  # enters school 2019: grade 6 = FY2024, high-school 1st year = FY2028
    assert off("13", "00", 1, D(2024, 3, 31), birth, sex="2") == "outside_age_window"
    assert off("13", "00", 1, D(2024, 4, 1), birth, sex="2") == ON
    assert off("13", "00", 1, D(2029, 3, 31), birth, sex="2") == ON
    assert off("13", "00", 1, D(2029, 4, 1), birth, sex="2") == "outside_age_window"
    assert off("13", "00", 1, D(2025, 3, 31), D(2013, 4, 2), sex="2") == "outside_age_window"  # 2 April
    assert off("13", "00", 1, D(2024, 4, 1), birth, sex="1") == "sex_not_eligible"


# --------------------------------------------------------------------------- B class


@pytest.mark.parametrize(
    ("birth", "day", "disability", "expected"),
    [
        (D(1961, 11, 1), D(2026, 10, 31), None, "b_class_eligibility_unverified"),  # 64, no data
        (D(1961, 11, 1), D(2026, 11, 1), None, ON),  # 65th birthday
        (D(1961, 11, 1), D(2026, 10, 31), "H", ON),  # 60-64 with a heart grade-1 certificate
        (D(1961, 11, 1), D(2026, 10, 31), "O", "outside_age_window"),  # other part: not eligible
        (D(1961, 11, 1), D(2026, 10, 31), "", "outside_age_window"),  # data, no certificate
        (D(1966, 11, 1), D(2026, 10, 31), "H", "outside_age_window"),  # 59
        (D(1966, 11, 1), D(2026, 11, 1), "H", ON),  # 60th birthday
        (D(1960, 2, 29), D(2025, 2, 28), "", "outside_age_window"),  # born 29 Feb
        (D(1960, 2, 29), D(2025, 3, 1), "", ON),  # 65 on 1 March in a common year
    ],
)
def test_influenza_elderly(birth: dt.date, day: dt.date, disability: str | None, expected: str) -> None:
    assert off("21", "00", 1, day, birth, disability=disability) == expected


def test_influenza_once_per_fiscal_year() -> None:
    birth = D(1950, 1, 1)
    h = [("21", "00", 1, D(2025, 10, 15))]
    assert off("21", "00", 1, D(2026, 3, 31), birth, history=h) == "per_fiscal_year_exceeded"
    assert off("21", "00", 1, D(2026, 4, 1), birth, history=h) == ON


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2026, 3, 31), "outside_age_window"),
        (D(2026, 4, 1), ON),  # FY2026: the 65th birthday (1 April 2026) falls in it
        (D(2027, 3, 31), ON),
        (D(2027, 4, 1), "outside_age_window"),
    ],
)
def test_ppsv23_fiscal_year_of_turning_65(day: dt.date, expected: str) -> None:
    assert off("22", "00", 1, day, D(1961, 4, 1), disability="") == expected


def test_ppsv23_once_per_lifetime() -> None:
    h = [("22", "00", 1, D(2026, 5, 1))]
    assert "per_lifetime_exceeded" in off("22", "00", 1, D(2026, 9, 1), D(1961, 6, 1), history=h)


def test_zoster_transitional_ages_end_with_fy2029() -> None:
    assert off("24", "00", 1, D(2026, 6, 1), D(1956, 5, 1)) == ON  # 70 in FY2026
    assert off("24", "00", 1, D(2026, 6, 1), D(1957, 5, 1)) == "outside_age_window"  # 69
    assert off("24", "00", 1, D(2030, 3, 31), D(1959, 5, 1)) == ON  # 70 in FY2029
    assert off("24", "00", 1, D(2030, 4, 1), D(1960, 5, 1)) == "outside_age_window"  # 70 in FY2030
    assert off("24", "00", 1, D(2030, 4, 1), D(1965, 5, 1)) == ON  # 65 in FY2030
    assert off("25", "00", 1, D(2025, 3, 31), D(1960, 5, 1)) == "no_routine_rule_on_date"
    assert off("24", "00", 1, D(2026, 6, 1), D(1964, 5, 1), disability="I") == ON  # 62, immune grade 1
    assert off("24", "00", 1, D(2026, 6, 1), D(1964, 5, 1), disability="H") == "outside_age_window"


def test_recombinant_zoster_second_dose_two_months() -> None:
    h = [("25", "00", 1, D(2026, 4, 30))]
    assert off("25", "00", 2, D(2026, 6, 29), D(1961, 6, 1), history=h) == "interval_too_short"
    assert off("25", "00", 2, D(2026, 6, 30), D(1961, 6, 1), history=h) == ON


# --------------------------------------------------------------------------- across vaccines, counts, dates


@pytest.mark.parametrize(
    ("gap", "expected"),
    [(0, ON), (1, "live_vaccine_interval"), (27, "live_vaccine_interval"), (28, ON)],
)
def test_different_live_injectables_27_days_apart(gap: int, expected: str) -> None:
    mr = D(2026, 4, 1)
    h = [("10", "11", 1, mr)]
    assert off("11", "00", 1, mr + dt.timedelta(days=gap), D(2025, 3, 1), history=h) == expected


def test_same_live_vaccine_or_oral_live_is_not_cross_checked() -> None:
    h = [("04", "00", 1, D(2026, 3, 1))]  # rotavirus is oral, not injectable
    assert off("09", "00", 1, D(2026, 3, 10), D(2026, 1, 1), history=h) == ON


def test_dose_count_and_repeat() -> None:
    birth = D(2024, 6, 1)
    h = [("11", "00", 1, D(2025, 6, 1)), ("11", "00", 2, D(2025, 10, 1))]
    assert off("11", "00", 3, D(2026, 2, 1), birth, history=h) == "dose_count_exceeded"
    assert off("11", "00", 1, D(2025, 12, 1), birth, history=h) == "dose_already_recorded"


def test_effective_dates_choose_the_rule() -> None:
    assert off("06", "11", 1, D(2024, 3, 31), D(2024, 1, 1)) == "no_routine_rule_on_date"
    assert off("06", "11", 1, D(2024, 4, 1), D(2024, 1, 1)) == ON


def test_unknown_phase_is_invalid() -> None:
    assert judge_one("09", "11", 1, D(2026, 3, 1), D(2026, 1, 1))["invalid"] == "phase_not_for_vaccine"


def test_history_in_the_same_batch_counts() -> None:
    """Doses of one batch are each other's history (a whole file judged at once)."""
    import pandas as pd

    new = pd.DataFrame(
        {
            "atena_no": ["1", "1"],
            "vaccine_code": ["01", "01"],
            "phase": ["11", "11"],
            "dose_no": [1, 2],
            "dose_date": np.array(["2026-03-01", "2026-03-10"], dtype="datetime64[D]"),
            "birth_date": np.array(["2025-12-01", "2025-12-01"], dtype="datetime64[D]"),
            "sex": ["1", "1"],
        }
    )
    out = check.judge(new, pd.DataFrame(columns=check.DOSE_COLUMNS))
    assert list(out["off_schedule"]) == ["", "interval_too_short"]


def test_rules_file_is_checked_for_overlaps(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = table.RULES_FILE.read_text(encoding="utf-8")
    text += '\n[[rule]]\nvaccine = "09"\nphase = "00"\nfrom = 2020-01-01\ndoses = 1\n'
    bad = tmp_path / "rules.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="overlap"):
        table.load_rules(bad)
