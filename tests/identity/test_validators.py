"""Identifier check digits (feeds.md §1), scalar and vectorised forms agree."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from vaxreg.identity import dates, validators


@pytest.mark.parametrize("code", ["131032", "011011", "131016", "131237"])
def test_published_municipality_codes(code: str) -> None:
    assert validators.is_valid_municipality_code(code)


def test_municipality_rule_at_remainders_0_and_1() -> None:
    # r = 0 gives check 1 (Sapporo Chuo-ku 01101 -> s = 11); r = 1 gives check 0.
    assert validators.municipality_check_digit("01101") == 1
    body_r1 = next(
        f"{n:05d}"
        for n in range(100000)
        if sum(w * int(d) for w, d in zip((6, 5, 4, 3, 2), f"{n:05d}", strict=True)) % 11 == 1
    )
    assert validators.municipality_check_digit(body_r1) == 0


def test_my_number_rule_at_remainders_0_and_1() -> None:
    # Unlike the municipality code, remainders 0 and 1 both give check digit 0.
    def r(body: str) -> int:
        digits = [int(c) for c in reversed(body)]
        return sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(digits, start=1)) % 11

    for target in (0, 1):
        body = next(f"{n:011d}" for n in range(10**6) if r(f"{n:011d}") == target)
        assert validators.my_number_check_digit(body) == 0


def test_sample_my_numbers_are_valid_and_one_digit_off_is_not() -> None:
    for number in ("082462819486", "579754323190", "189555979717"):
        assert validators.is_valid_my_number(number)
        wrong = number[:11] + str((int(number[11]) + 1) % 10)
        assert not validators.is_valid_my_number(wrong)
    assert not validators.is_valid_my_number("08246281948")
    assert not validators.is_valid_my_number("０８２４６２８１９４８６")  # full-width digits


def test_vectorised_forms_agree_with_scalar() -> None:
    rnd = random.Random(7)
    values = [f"{rnd.randrange(10**12):012d}" for _ in range(2000)] + ["", "12", "abcdefghijkl", None]
    mask = validators.my_number_valid_mask(pa.array(values, pa.string()))
    assert list(mask) == [v is not None and validators.is_valid_my_number(v) for v in values]
    codes = [f"{rnd.randrange(10**6):06d}" for _ in range(2000)] + [None, "13103"]
    mask = validators.municipality_code_valid_mask(pa.array(codes, pa.string()))
    assert list(mask) == [v is not None and validators.is_valid_municipality_code(v) for v in codes]


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
    assert list(dates.iso_date_valid_mask(pa.array([value], pa.string()))) == [ok]


# --------------------------------------------------------------------------- exhaustive boundaries

MY_NUMBER_Q = [n + 1 if n <= 6 else n - 5 for n in range(1, 12)]


def _my_number_remainder(body: str) -> int:
    """r of feeds.md §1, written independently of the module: P1 is the 11th digit."""
    return sum(int(p) * q for p, q in zip(reversed(body), MY_NUMBER_Q, strict=True)) % 11


def test_published_my_number_example() -> None:
    # 123456789018: r = 212 mod 11 = 3, check 11 - 3 = 8.
    assert _my_number_remainder("12345678901") == 3
    assert validators.my_number_check_digit("12345678901") == 8
    assert validators.is_valid_my_number("123456789018")
    for d in "012345679":
        assert not validators.is_valid_my_number("12345678901" + d)


def test_my_number_check_digit_for_every_remainder() -> None:
    found: dict[int, str] = {}
    n = 0
    while len(found) < 11:
        body = f"{n:011d}"
        found.setdefault(_my_number_remainder(body), body)
        n += 1
    for r, body in found.items():
        expected = 0 if r <= 1 else 11 - r
        assert validators.my_number_check_digit(body) == expected, (r, body)
        assert validators.is_valid_my_number(body + str(expected))
        mask = validators.my_number_valid_mask(pa.array([body + str(d) for d in range(10)], pa.string()))
        assert list(mask) == [d == expected for d in range(10)]


def test_check_digit_functions_reject_bad_bodies() -> None:
    for body in ("1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１", "1234567890٠"):
        with pytest.raises(ValueError):
            validators.my_number_check_digit(body)
    for body in ("1310", "131032", "1310a", "１３１０３"):
        with pytest.raises(ValueError):
            validators.municipality_check_digit(body)


def test_my_number_mask_equals_scalar_on_a_large_messy_sample() -> None:
    rnd = random.Random(20240501)
    values: list[str | None] = []
    for _ in range(20000):
        body = f"{rnd.randrange(10**11):011d}"
        good = body + str(validators.my_number_check_digit(body))
        kind = rnd.randrange(8)
        if kind <= 2:
            values.append(good)
        elif kind == 3:
            values.append(body + str((int(good[11]) + rnd.randrange(1, 10)) % 10))
        elif kind == 4:
            values.append(good[: rnd.choice((0, 1, 11))] + good[rnd.choice((11, 12)) :] * rnd.randrange(2))
        elif kind == 5:  # one full-width (or other non-ASCII) digit
            i = rnd.randrange(12)
            other = rnd.choice((chr(0xFF10 + int(good[i])), chr(0x0660 + int(good[i])), "x", " "))
            values.append(good[:i] + other + good[i + 1 :])
        elif kind == 6:
            values.append(rnd.choice((None, "", " " + good, good + "\n", good[:6] + "-" + good[6:])))
        else:
            values.append(good + str(rnd.randrange(10)))
    mask = validators.my_number_valid_mask(pa.array(values, pa.string()))
    assert list(mask) == [v is not None and validators.is_valid_my_number(v) for v in values]
    assert 5000 < mask.sum() < 10000
    # A sliced array and a chunked array give the same answers.
    arr = pa.array(values, pa.string())
    assert list(validators.my_number_valid_mask(arr.slice(7, 500))) == list(mask[7:507])
    chunked = pa.chunked_array([arr.slice(0, 1000), arr.slice(1000)])
    assert list(validators.my_number_valid_mask(chunked)) == list(mask)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("131016", "千代田区"),
        ("131032", "港区"),
        ("011002", "札幌市"),
        ("011011", "札幌市中央区 (r = 0 -> 1)"),
        ("281000", "神戸市 (r = 1 -> 0)"),
        ("130001", "東京都 (r = 10 -> 1)"),
        ("010006", "北海道"),
        ("272078", "高槻市"),
        ("401005", "北九州市"),
        ("141003", "横浜市"),
        ("271004", "大阪市"),
    ],
)
def test_more_published_municipality_codes(code: str, name: str) -> None:
    assert validators.is_valid_municipality_code(code), name
    for d in range(10):
        if str(d) != code[5]:
            assert not validators.is_valid_municipality_code(code[:5] + str(d)), name


def test_municipality_mask_equals_scalar_on_every_body() -> None:
    bodies = np.arange(100000)
    digits = (bodies[:, None] // 10 ** np.arange(4, -1, -1)) % 10
    s = digits @ np.array([6, 5, 4, 3, 2])
    check = (11 - s % 11) % 10  # feeds.md §1: r = 1 gives 0, r = 0 gives 1
    assert set(check[s % 11 == 0]) == {1} and set(check[s % 11 == 1]) == {0}
    good = [f"{b:05d}{c}" for b, c in zip(bodies, check, strict=True)]
    bad = [f"{b:05d}{(c + 1 + b % 9) % 10}" for b, c in zip(bodies, check, strict=True)]
    mask = validators.municipality_code_valid_mask(pa.array(good + bad, pa.string()))
    assert mask[:100000].all() and not mask[100000:].any()
    assert all(validators.is_valid_municipality_code(v) for v in good)
    assert not any(validators.is_valid_municipality_code(v) for v in bad)
    # Every check digit of every body, vectorised, against the rule.
    every = pa.array([f"{b:05d}{d}" for b in range(0, 100000, 7) for d in range(10)], pa.string())
    expected = [d == check[b] for b in range(0, 100000, 7) for d in range(10)]
    assert list(validators.municipality_code_valid_mask(every)) == expected


@pytest.mark.parametrize(
    "value", ["13103", "1310321", "１３１０３２", "13103２", " 131032", "131032\n", "", None, "13a032"]
)
def test_malformed_municipality_codes(value: str | None) -> None:
    assert not validators.municipality_code_valid_mask(pa.array([value], pa.string()))[0]
    if value is not None:
        assert not validators.is_valid_municipality_code(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0000000000", True),
        ("0123456789", True),
        ("9999999999", True),
        ("012345678", False),
        ("01234567890", False),
        ("０１２３４５６７８９", False),
        ("012345678９", False),
        ("01234-6789", False),
        (" 123456789", False),
        ("0123456789\n", False),
        ("", False),
        (None, False),
    ],
)
def test_atena_no(value: str | None, ok: bool) -> None:
    assert bool(validators.atena_no_valid_mask(pa.array([value], pa.string()))[0]) is ok
    if value is not None:
        assert validators.is_valid_atena_no(value) is ok


@pytest.mark.parametrize(
    ("voucher", "municipality", "number", "status"),
    [
        ("0000012345", "131032", "0000012345", "valid"),
        ("11131032000001234", "131032", None, "format"),  # 17 digits
        ("111310320000012345", "131032", "0000012345", "valid"),
        ("121310329876543210", "131032", "9876543210", "valid"),
        ("111310160000012345", "131032", None, "municipality_mismatch"),
        ("111310320000012345", None, None, "municipality_mismatch"),
        ("000001234", "131032", None, "format"),
        ("00000123456", "131032", None, "format"),
        ("1113103200000123456", "131032", None, "format"),
        ("０００００１２３４５", "131032", None, "format"),
        ("00000-12345", "131032", None, "format"),
        (None, "131032", None, "absent"),
    ],
)
def test_voucher_numbers(
    voucher: str | None, municipality: str | None, number: str | None, status: str
) -> None:
    got_number, got_status = validators.voucher_numbers(
        pa.array([voucher], pa.string()), pa.array([municipality], pa.string())
    )
    assert (got_number[0].as_py(), got_status[0].as_py()) == (number, status)
    if status == "valid":
        assert voucher is not None and municipality is not None
        assert validators.voucher_number(voucher, municipality) == number
    elif voucher is not None and municipality is not None:
        with pytest.raises(ValueError, match=status):
            validators.voucher_number(voucher, municipality)


def test_institution_code_every_prefecture_and_score_table() -> None:
    codes = [f"{p:02d}{t}1234567" for p in range(100) for t in range(10)]
    mask = validators.institution_code_valid_mask(pa.array([*codes, None], pa.string()))
    assert list(mask) == [1 <= p <= 47 and t == 1 for p in range(100) for t in range(10)] + [False]
