"""Identifier validators: My Number (個人番号), municipality code (地方公共団体コード), dates.

Each check has a scalar form (for the CLI, tests, the generator) and a vectorised
form over a whole column (for the feeds), so that no check loops in Python per row.
The rules are those of ``feeds.md`` §1; the two check-digit rules differ at
remainders 0 and 1, which is why they are written out separately.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# My Number weights Q1..Q11 applied to P1..P11, where P1 is the 11th digit (counted from the right).
_MY_NUMBER_WEIGHTS = np.array([n + 1 if n <= 6 else n - 5 for n in range(1, 12)], dtype=np.int64)
_MUNICIPALITY_WEIGHTS = np.array([6, 5, 4, 3, 2], dtype=np.int64)

ATENA_NO_RE = re.compile(r"^[0-9]{10}$")
# Years 1800-2099 only: nothing else can be a real date in these feeds (and PostgreSQL has no year 0).
ISO_DATE_RE = r"^(18|19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}$"


def my_number_check_digit(first11: str) -> int:
    """Check digit of a My Number (個人番号) from its first eleven digits."""
    if len(first11) != 11 or not first11.isdigit():
        raise ValueError("My Number body must be 11 digits")
    digits = np.array([int(c) for c in reversed(first11)], dtype=np.int64)  # P1..P11
    r = int(digits @ _MY_NUMBER_WEIGHTS) % 11
    return 0 if r <= 1 else 11 - r


def is_valid_my_number(value: str) -> bool:
    return (
        len(value) == 12
        and value.isascii()
        and value.isdigit()
        and my_number_check_digit(value[:11]) == int(value[11])
    )


def municipality_check_digit(first5: str) -> int:
    """Check digit of a municipality code (JIS X 0402) from its first five digits."""
    if len(first5) != 5 or not first5.isdigit():
        raise ValueError("municipality code body must be 5 digits")
    s = int(np.array([int(c) for c in first5], dtype=np.int64) @ _MUNICIPALITY_WEIGHTS)
    return (11 - s % 11) % 10


def is_valid_municipality_code(value: str) -> bool:
    return (
        len(value) == 6
        and value.isascii()
        and value.isdigit()
        and municipality_check_digit(value[:5]) == int(value[5])
    )


def _digit_matrix(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(digits as an n×width int matrix, mask of rows that are exactly `width` ASCII digits)."""
    values = pc.fill_null(values.cast(pa.string()), "")
    well_formed = pc.match_substring_regex(values, f"^[0-9]{{{width}}}$").to_numpy(zero_copy_only=False)
    padded = pc.if_else(well_formed, values, "0" * width)
    raw = np.frombuffer(
        b"".join(s.encode() for s in padded.to_pylist()) if len(padded) else b"", dtype=np.uint8
    )
    return raw.reshape(len(padded), width).astype(np.int64) - 48, well_formed


def my_number_valid_mask(values: pa.Array) -> np.ndarray:
    """Vectorised `is_valid_my_number`; nulls and empty strings give False."""
    digits, ok = _digit_matrix(values, 12)
    r = (digits[:, 10::-1] @ _MY_NUMBER_WEIGHTS) % 11
    check = np.where(r <= 1, 0, 11 - r)
    return ok & (check == digits[:, 11])


def municipality_code_valid_mask(values: pa.Array) -> np.ndarray:
    digits, ok = _digit_matrix(values, 6)
    check = (11 - (digits[:, :5] @ _MUNICIPALITY_WEIGHTS) % 11) % 10
    return ok & (check == digits[:, 5])


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
