"""Identifier check digits (feeds.md §1), scalar and vectorised forms agree."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from vaxreg import identity


@pytest.mark.parametrize("code", ["131032", "011011", "131016", "131237"])
def test_published_municipality_codes(code: str) -> None:
    assert identity.is_valid_municipality_code(code)


def test_municipality_rule_at_remainders_0_and_1() -> None:
    # r = 0 gives check 1 (Sapporo Chuo-ku 01101 -> s = 11); r = 1 gives check 0.
    assert identity.municipality_check_digit("01101") == 1
    body_r1 = next(
        f"{n:05d}"
        for n in range(100000)
        if sum(w * int(d) for w, d in zip((6, 5, 4, 3, 2), f"{n:05d}", strict=True)) % 11 == 1
    )
    assert identity.municipality_check_digit(body_r1) == 0


def test_my_number_rule_at_remainders_0_and_1() -> None:
    # Unlike the municipality code, remainders 0 and 1 both give check digit 0.
    def r(body: str) -> int:
        digits = [int(c) for c in reversed(body)]
        return sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(digits, start=1)) % 11

    for target in (0, 1):
        body = next(f"{n:011d}" for n in range(10**6) if r(f"{n:011d}") == target)
        assert identity.my_number_check_digit(body) == 0


def test_sample_my_numbers_are_valid_and_one_digit_off_is_not() -> None:
    for number in ("082462819486", "579754323190", "189555979717"):
        assert identity.is_valid_my_number(number)
        wrong = number[:11] + str((int(number[11]) + 1) % 10)
        assert not identity.is_valid_my_number(wrong)
    assert not identity.is_valid_my_number("08246281948")
    assert not identity.is_valid_my_number("０８２４６２８１９４８６")  # full-width digits


def test_vectorised_forms_agree_with_scalar() -> None:
    rnd = random.Random(7)
    values = [f"{rnd.randrange(10**12):012d}" for _ in range(2000)] + ["", "12", "abcdefghijkl", None]
    mask = identity.my_number_valid_mask(pa.array(values, pa.string()))
    assert list(mask) == [bool(v) and identity.is_valid_my_number(v) for v in values]
    codes = [f"{rnd.randrange(10**6):06d}" for _ in range(2000)] + [None, "13103"]
    mask = identity.municipality_code_valid_mask(pa.array(codes, pa.string()))
    assert list(mask) == [bool(v) and identity.is_valid_municipality_code(v) for v in codes]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2024-02-29", True),
        ("2023-02-29", False),
        ("2023-04-31", False),
        ("2023-12-31", True),
        ("2023-13-01", False),
        ("2023-1-01", False),
        ("20230101", False),
        ("", False),
        (None, False),
    ],
)
def test_iso_dates(value: str | None, ok: bool) -> None:
    assert list(identity.iso_date_valid_mask(pa.array([value], pa.string()))) == [ok]
