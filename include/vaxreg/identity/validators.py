"""Identifier validators: My Number (個人番号), municipality code (地方公共団体コード), dates.

Each check has a scalar form (for the CLI, tests, the generator) and a vectorised
form over a whole column (for the feeds), so that no check loops in Python per row.
The rules are those of ``feeds.md`` §1; the two check-digit rules differ at
remainders 0 and 1, which is why they are written out separately.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# My Number weights Q1..Q11 applied to P1..P11, where P1 is the 11th digit (counted from the right).
_MY_NUMBER_WEIGHTS = np.array([n + 1 if n <= 6 else n - 5 for n in range(1, 12)], dtype=np.int64)
_MUNICIPALITY_WEIGHTS = np.array([6, 5, 4, 3, 2], dtype=np.int64)

ATENA_NO_RE = re.compile(r"^[0-9]{10}$")
# Years 1800-2099 only: nothing else can be a real date in these feeds (and PostgreSQL has no year 0).


def my_number_check_digit(first11: str) -> int:
    """Check digit of a My Number (個人番号) from its first eleven digits."""
    if len(first11) != 11 or not (first11.isascii() and first11.isdigit()):
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
    if len(first5) != 5 or not (first5.isascii() and first5.isdigit()):
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
    # Every value now has exactly `width` bytes, so the string data buffer is an n×width matrix.
    padded = pc.if_else(well_formed, values, "0" * width)
    if isinstance(padded, pa.ChunkedArray):
        padded = padded.combine_chunks()
    n = len(padded)
    if not n:
        return np.zeros((0, width), dtype=np.int64), well_formed
    start = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset]
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[start : start + n * width]
    return data.reshape(n, width).astype(np.int64) - 48, well_formed


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


def is_valid_atena_no(value: str) -> bool:
    """An atena_no (宛名番号) is exactly ten ASCII digits (leading zeros significant)."""
    return ATENA_NO_RE.fullmatch(value) is not None


def atena_no_valid_mask(values: pa.Array) -> np.ndarray:
    """Vectorised `is_valid_atena_no`; nulls give False."""
    values = pc.fill_null(values.cast(pa.string()), "")
    return pc.match_substring_regex(values, ATENA_NO_RE.pattern).to_numpy(zero_copy_only=False)


# --------------------------------------------------------------------------- institution code

# 医療機関コード: prefecture 01-47, score table 1 (medical), institution number (7 digits).
INSTITUTION_CODE_RE = r"^(0[1-9]|[1-3][0-9]|4[0-7])1[0-9]{7}$"


def institution_code_valid_mask(values: pa.Array) -> np.ndarray:
    values = pc.fill_null(values.cast(pa.string()), "")
    return pc.match_substring_regex(values, INSTITUTION_CODE_RE).to_numpy(zero_copy_only=False)


def voucher_numbers(vouchers: pa.Array, municipality: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(10-digit voucher number or null, status) of VRS 券番号 values (vrs.md).

    A voucher is 10 digits, or the 18-digit line printed on it: ticket type (1) + dose (1)
    + municipality code (6) + voucher number (10), whose municipality code must equal the
    given ``municipality`` (自治体コード / 接種自治体コード). Status: ``absent``, ``valid``,
    ``format`` (neither shape) or ``municipality_mismatch`` (the line names another code).
    """
    v = vouchers.combine_chunks() if isinstance(vouchers, pa.ChunkedArray) else vouchers
    m = municipality.combine_chunks() if isinstance(municipality, pa.ChunkedArray) else municipality
    v, m = v.cast(pa.string()), m.cast(pa.string())
    ten = pc.fill_null(pc.match_substring_regex(v, r"^[0-9]{10}$"), False)
    line = pc.fill_null(pc.match_substring_regex(v, r"^[0-9]{18}$"), False)
    embedded = pc.utf8_slice_codeunits(v, 2, 8)
    agrees = pc.fill_null(pc.equal(embedded, m), False)
    number = pc.if_else(ten, v, pc.if_else(pc.and_(line, agrees), pc.utf8_slice_codeunits(v, 8, 18), None))
    status = pc.if_else(
        pc.is_null(v),
        "absent",
        pc.if_else(
            ten, "valid", pc.if_else(line, pc.if_else(agrees, "valid", "municipality_mismatch"), "format")
        ),
    )
    return number, status


def voucher_number(value: str, municipality: str) -> str:
    """Scalar form of :func:`voucher_numbers`; raises ValueError unless the voucher is valid."""
    number, status = voucher_numbers(pa.array([value], pa.string()), pa.array([municipality], pa.string()))
    if status[0].as_py() != "valid":
        raise ValueError(f"voucher: {status[0].as_py()}")
    return str(number[0].as_py())


def kojin_no_status(values: pa.ChunkedArray) -> pa.Array:
    """absent | valid | format | check_digit, computed without keeping the number."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    present = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    well_formed = pc.fill_null(pc.match_substring_regex(arr, "^[0-9]{12}$"), False).to_numpy(
        zero_copy_only=False
    )
    valid = my_number_valid_mask(arr)
    status = np.where(
        ~present, "absent", np.where(~well_formed, "format", np.where(valid, "valid", "check_digit"))
    )
    return pa.array(status, pa.string())
