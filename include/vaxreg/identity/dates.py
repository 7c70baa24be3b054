"""Dates as the feeds write them (feeds.md §1, vrs.md): ISO ``YYYY-MM-DD``, wareki ``EYYMMDD`` with
exact era boundaries, and VRS's compact ``YYYYMMDD`` / ``YYYYMMDDHHMMSS``; each vectorised over a
column (null where not a real date) and, where the CLI or the generator need it, scalar.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ISO_DATE_RE = r"^(18|19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}$"


def parse_iso_dates(values: pa.Array) -> pa.Array:
    """Timestamps of the values that are real calendar dates written ``YYYY-MM-DD``, else null."""
    values = values.cast(pa.string())
    shaped = pc.if_else(pc.fill_null(pc.match_substring_regex(values, ISO_DATE_RE), False), values, None)
    parsed = pc.strptime(shaped, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2023-02-30 over to 2023-03-02: a real date keeps its month and day.
    real = pc.and_(
        pc.equal(pc.month(parsed), pc.cast(pc.utf8_slice_codeunits(shaped, 5, 7), pa.int64())),
        pc.equal(pc.day(parsed), pc.cast(pc.utf8_slice_codeunits(shaped, 8, 10), pa.int64())),
    )
    return pc.if_else(pc.fill_null(real, False), parsed, None)


def iso_date_valid_mask(values: pa.Array) -> np.ndarray:
    """True where the value is a real calendar date written ``YYYY-MM-DD``."""
    return pc.is_valid(parse_iso_dates(values)).to_numpy(zero_copy_only=False)


def parse_iso_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


# --------------------------------------------------------------------------- wareki (和暦) dates

# Era letter -> (first day, last day) of the era (feeds.md §1). Year 1 of an era is "01".
ERAS: dict[str, tuple[dt.date, dt.date]] = {
    "M": (dt.date(1868, 1, 25), dt.date(1912, 7, 29)),
    "T": (dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    "S": (dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    "H": (dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    "R": (dt.date(2019, 5, 1), dt.date(9999, 12, 31)),
}
WAREKI_RE = r"^[MTSHR][0-9]{6}$"


def parse_wareki_dates(values: pa.Array) -> pa.Array:
    """Timestamps of the values that are real wareki dates ``EYYMMDD`` inside their era, else null.

    Vectorised: the era letter becomes a Gregorian year offset, the result is checked as a
    calendar date (``R050230`` fails) and against the era's first and last day (``H310501``
    and ``R010430`` fail).
    """
    values = values.cast(pa.string())
    shaped = pc.if_else(pc.fill_null(pc.match_substring_regex(values, WAREKI_RE), False), values, None)
    era = pc.utf8_slice_codeunits(shaped, 0, 1)
    era_year = pc.cast(pc.utf8_slice_codeunits(shaped, 1, 3), pa.int64())
    first_year = pa.array([d[0].year for d in ERAS.values()], pa.int64())
    offset = pc.take(first_year, pc.index_in(era, pa.array(list(ERAS), pa.string())))
    year = pc.subtract(pc.add(offset, era_year), 1)
    iso = pc.binary_join_element_wise(
        pc.cast(year, pa.string()),
        pc.utf8_slice_codeunits(shaped, 3, 5),
        pc.utf8_slice_codeunits(shaped, 5, 7),
        "-",
    )
    # Year 00 is no year of any era; parse_iso_dates checks the calendar and the 1800-2099 range.
    iso = pc.if_else(pc.fill_null(pc.greater(era_year, 0), False), iso, None)
    parsed = parse_iso_dates(iso)
    lo = pc.take(pa.array([d[0] for d in ERAS.values()], pa.date32()), pc.index_in(era, pa.array(list(ERAS))))
    hi = pc.take(pa.array([d[1] for d in ERAS.values()], pa.date32()), pc.index_in(era, pa.array(list(ERAS))))
    day = pc.cast(parsed, pa.date32())
    inside = pc.and_(pc.greater_equal(day, lo), pc.less_equal(day, hi))
    return pc.if_else(pc.fill_null(inside, False), parsed, None)


def parse_wareki(value: str) -> dt.date:
    """Scalar form of :func:`parse_wareki_dates`; raises ValueError for an invalid value."""
    parsed = parse_wareki_dates(pa.array([value], pa.string()))[0].as_py()
    if parsed is None:
        raise ValueError(f"not a wareki date: {value!r}")
    return parsed.date() if isinstance(parsed, dt.datetime) else parsed


def to_wareki(day: dt.date) -> str:
    """``EYYMMDD`` of a Gregorian date (the era in force on that day)."""
    for letter, (first, last) in ERAS.items():
        if first <= day <= last:
            return f"{letter}{day.year - first.year + 1:02d}{day.month:02d}{day.day:02d}"
    raise ValueError(f"{day} is before the Meiji era")


# --------------------------------------------------------------------------- VRS vouchers and dates


def parse_compact_dates(values: pa.Array) -> pa.Array:
    """Timestamps of the values that are real calendar dates written ``YYYYMMDD``, else null."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    values = values.cast(pa.string())
    shaped = pc.if_else(pc.fill_null(pc.match_substring_regex(values, r"^[0-9]{8}$"), False), values, None)
    iso = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(shaped, 0, 4),
        pc.utf8_slice_codeunits(shaped, 4, 6),
        pc.utf8_slice_codeunits(shaped, 6, 8),
        "-",
    )
    return parse_iso_dates(iso)


def parse_compact_timestamps(values: pa.Array) -> pa.Array:
    """Timestamps of the values that are real ``YYYYMMDDHHMMSS`` times (years 1800-2099), else null."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    values = values.cast(pa.string())
    shaped = pc.if_else(
        pc.fill_null(pc.match_substring_regex(values, r"^(18|19|20)[0-9]{12}$"), False), values, None
    )
    parsed = pc.strptime(shaped, format="%Y%m%d%H%M%S", unit="s", error_is_null=True)
    # A value that strptime rolled over (2023-02-30, 25:00) does not print back the same.
    same = pc.equal(pc.strftime(parsed, format="%Y%m%d%H%M%S"), shaped)
    return pc.if_else(pc.fill_null(same, False), parsed, None)
