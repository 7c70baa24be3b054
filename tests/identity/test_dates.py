"""Wareki dates with exact era boundaries, name normalisation and institution codes (feeds.md §1)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from vaxreg.identity import dates, normalise, validators

D = dt.date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # era boundaries: last day of one era, first day of the next, and one day outside each
        ("M010125", D(1868, 1, 25)),
        ("M010124", None),
        ("M450729", D(1912, 7, 29)),
        ("M450730", None),
        ("T010730", D(1912, 7, 30)),
        ("T010729", None),
        ("T151224", D(1926, 12, 24)),
        ("T151225", None),
        ("S011225", D(1926, 12, 25)),
        ("S011224", None),
        ("S640107", D(1989, 1, 7)),
        ("S640108", None),
        ("H010108", D(1989, 1, 8)),
        ("H010107", None),
        ("H310430", D(2019, 4, 30)),
        ("H310501", None),  # feeds.md: outside its era
        ("R010501", D(2019, 5, 1)),
        ("R010430", None),  # feeds.md: outside its era
        # calendar
        ("R050230", None),  # feeds.md: not a calendar date
        ("R060229", D(2024, 2, 29)),  # 2024 is a leap year
        ("R070229", None),
        ("H120229", D(2000, 2, 29)),  # 2000: divisible by 400
        ("R080431", None),
        ("R081231", D(2026, 12, 31)),
        # shape
        ("R000101", None),
        ("X010101", None),
        ("r080101", None),
        ("R08010", None),
        ("R0801011", None),
        ("2026-01-01", None),
        ("", None),
        (None, None),
    ],
)
def test_wareki_vectorised_and_scalar_agree(value: str | None, expected: dt.date | None) -> None:
    got = dates.parse_wareki_dates(pa.array([value], pa.string()))[0].as_py()
    assert (got.date() if got else None) == expected
    if expected is not None:
        assert dates.parse_wareki(value or "") == expected
        assert dates.to_wareki(expected) == value
    elif value:
        with pytest.raises(ValueError):
            dates.parse_wareki(value)


def test_wareki_whole_column_round_trip() -> None:
    days = [D(1900, 1, 1) + dt.timedelta(days=k) for k in range(0, 46000, 7)]
    values = pa.array([dates.to_wareki(d) for d in days], pa.string())
    parsed = dates.parse_wareki_dates(values)
    assert [p.date() for p in parsed.to_pylist()] == days


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ﾀｶﾊｼ ﾚﾝ", "タカハシ　レン"),
        ("ﾀｶﾊｼﾚﾝ", "タカハシ レン"),
        ("たかはし れん", "タカハシレン"),
        ("ｺﾞﾄｳ ﾐﾅﾄ", "ゴトウ・ミナト"),
        ("ﾊﾟｸ ｼﾞﾕﾝ", "パク ジユン"),
        ("髙橋 太郎", "高橋太郎"),
        ("山﨑", "山崎"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("齋藤", "斉藤"),
        ("濵田", "浜田"),
        ("SMITH John", "smith　JOHN"),
        ("ＳＭＩＴＨ", "smith"),
    ],
)
def test_names_compare_equal_after_normalisation(a: str, b: str) -> None:
    assert normalise.normalise_name(a) == normalise.normalise_name(b)


@pytest.mark.parametrize(
    ("a", "b"), [("タカハシ レン", "タカハシ レイ"), ("サトウ", "サイトウ"), ("ヨウコ", "ヨーコ")]
)
def test_different_names_stay_different(a: str, b: str) -> None:
    assert normalise.normalise_name(a) != normalise.normalise_name(b)


def test_normalisation_keeps_nulls_and_runs_per_distinct_value() -> None:
    out = normalise.normalise_names(pa.array(["ﾀﾛｳ", None, "ﾀﾛｳ"], pa.string()))
    assert out.to_pylist() == ["タロウ", None, "タロウ"]


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("1317576043", True),
        ("0110000001", True),
        ("4710000001", True),
        ("4810000001", False),  # no prefecture 48
        ("0010000001", False),  # no prefecture 00
        ("1337576043", False),  # score table 3 (dental) is not a medical institution
        ("131757604", False),
        ("13175760431", False),
        ("13175760４3", False),
    ],
)
def test_institution_code(code: str, ok: bool) -> None:
    assert bool(validators.institution_code_valid_mask(pa.array([code]))[0]) is ok


@pytest.mark.parametrize("value", ["Ｒ０１０５０１", "R０10501", " R010501", "R010501\n", "R01-05-01"])
def test_wareki_needs_ascii_and_exact_shape(value: str) -> None:
    assert dates.parse_wareki_dates(pa.array([value], pa.string()))[0].as_py() is None
    with pytest.raises(ValueError):
        dates.parse_wareki(value)


def test_to_wareki_before_meiji_raises() -> None:
    with pytest.raises(ValueError):
        dates.to_wareki(D(1868, 1, 24))
