"""Identifier validators: My Number (個人番号), municipality code (地方公共団体コード), dates.

Each check has a scalar form (for the CLI, tests, the generator) and a vectorised
form over a whole column (for the feeds), so that no check loops in Python per row.
The rules are those of ``feeds.md`` §1; the two check-digit rules differ at
remainders 0 and 1, which is why they are written out separately.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

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


# --------------------------------------------------------------------------- institution code

# 医療機関コード: prefecture 01-47, score table 1 (medical), institution number (7 digits).
INSTITUTION_CODE_RE = r"^(0[1-9]|[1-3][0-9]|4[0-7])1[0-9]{7}$"


def institution_code_valid_mask(values: pa.Array) -> np.ndarray:
    values = pc.fill_null(values.cast(pa.string()), "")
    return pc.match_substring_regex(values, INSTITUTION_CODE_RE).to_numpy(zero_copy_only=False)


# --------------------------------------------------------------------------- name normalisation

_HIRAGANA_TO_KATAKANA = {c: c + 0x60 for c in range(0x3041, 0x3097)}


def _load_old_forms() -> dict[int, int]:
    """The reviewed old-form kanji map (data/old_form_kanji.tsv): old form → standard form."""
    from pathlib import Path

    table: dict[int, int] = {}
    path = Path(__file__).parent / "data" / "old_form_kanji.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        old, new = line.split()
        table[ord(old)] = ord(new)
    return table


_OLD_FORMS: dict[int, int] | None = None


def _old_forms() -> dict[int, int]:
    global _OLD_FORMS
    if _OLD_FORMS is None:
        _OLD_FORMS = _load_old_forms()
    return _OLD_FORMS


def _translation() -> dict[int, int]:
    return _HIRAGANA_TO_KATAKANA | _old_forms()


def normalise_names(values: pa.Array) -> pa.Array:
    """Names in their comparison form (privacy.md §Matching); nulls stay null.

    Unicode NFKC (half-width kana become full-width, voiced marks combine), hiragana to
    katakana, old-form kanji to standard forms (reviewed map), case-folded alphabet, and
    spaces and middle dots removed. Only for comparison: names are stored as received.
    The Python step runs once per distinct value, not per row.
    """
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    arr = pc.utf8_normalize(arr.cast(pa.string()), "NFKC")
    encoded = pc.dictionary_encode(arr)
    table = _translation()
    uniques = [None if s is None else s.translate(table) for s in encoded.dictionary.to_pylist()]
    dictionary = pa.array(uniques, pa.string())
    dictionary = pc.utf8_lower(pc.replace_substring_regex(dictionary, r"[\s\x{3000}・･·]", ""))
    return pc.take(dictionary, encoded.indices)


def normalise_name(value: str) -> str:
    out = normalise_names(pa.array([value], pa.string()))[0].as_py()
    return "" if out is None else str(out)


def _per_distinct(values: pa.Array, fn: Callable[[str], str]) -> pa.Array:
    """Apply ``fn`` once per distinct non-null string of ``values``; nulls stay null."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    encoded = pc.dictionary_encode(arr.cast(pa.string()))
    dictionary = pa.array([fn(s) for s in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(dictionary, encoded.indices)


# --------------------------------------------------------------------------- phonetic kana key

_SMALL_KANA = str.maketrans(
    "ァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿヲヰヱ",
    "アイウエオツヤユヨワカケクシストヌハヒフヘホムラリルレロオイエ",
)


def _fold_kana_char(c: str) -> str:
    """The folded form of one katakana (or hiragana) character; see :func:`fold_kana`."""
    if 0x3041 <= ord(c) <= 0x3096:
        c = chr(ord(c) + 0x60)
    c = {"ヂ": "ジ", "ヅ": "ズ"}.get(c, c)
    c = unicodedata.normalize("NFD", c)[0]  # ガ -> カ + U+3099, パ -> ハ + U+309A, ヴ -> ウ + U+3099
    c = c.translate(_SMALL_KANA)
    return "" if c in "ー\u3099\u309a\u309b\u309c" else c


_KANA_FOLD: dict[int, str] | None = None


def _kana_fold_table() -> dict[int, str]:
    global _KANA_FOLD
    if _KANA_FOLD is None:
        chars = [chr(cp) for cp in (*range(0x3041, 0x30FF), *range(0x31F0, 0x3200))]
        _KANA_FOLD = {ord(c): f for c in chars if (f := _fold_kana_char(c)) != c}
    return _KANA_FOLD


def fold_kana(values: pa.Array) -> pa.Array:
    """Coarse phonetic key of kana names already in :func:`normalise_names` form; nulls stay null.

    For blocking and as a looser comparison level: voiced and semi-voiced marks (濁点・半濁点)
    dropped (ガ→カ, パ→ハ, ヴ→ウ; ヂ→ジ→シ and ヅ→ズ→ス, so ヂ/ジ and ヅ/ズ agree), small
    kana made large (ァ→ア, ッ→ツ, ャ→ヤ, ヵ→カ, ヶ→ケ), ヲ→オ, ヰ→イ, ヱ→エ, and the
    long-vowel mark ー removed (ヨーコ→ヨコ). Hiragana is folded like katakana.
    The Python step runs once per distinct value.
    """
    table = _kana_fold_table()
    return _per_distinct(values, lambda s: s.translate(table))


def fold_kana_one(value: str) -> str:
    """Scalar form of :func:`fold_kana`."""
    return value.translate(_kana_fold_table())


# --------------------------------------------------------------------------- address normalisation

# Kanji numerals (with the formal 壱弐参拾 of old registers) and their values.
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "壱": 1, "二": 2, "弐": 2, "三": 3, "参": 3, "四": 4}
_KANJI_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "拾": 10, "百": 100, "千": 1000}
_NUM = "".join(_KANJI_DIGITS) + "".join(_KANJI_UNITS)
_IDEOGRAPH = "\u3005\u3007\u3400-\u9fff\uf900-\ufaff"  # 々, 〇, CJK (ext. A, unified, compatibility)
# Hyphen and dash variants (after NFKC; － and ﹣ are already '-'); ー/─ only between numbers.
_DASHES = re.compile("[\u2010-\u2015\u2043\u2212]")
_LONG_MARK_BETWEEN_NUMBERS = re.compile(f"(?<=[0-9{_NUM}])[ー\u2500\u2501](?=[0-9{_NUM}])")
# 番 that is part of a town name: 一番町, 麻布十番 (followed by its 丁目 or a 1-2-3 form), 一番館.
_TOWN_BAN = f"番(?:町|館|[0-9{_NUM}]+(?:丁目|-))"
# A kanji numeral run before 丁目/番/番地/号/-.
_NUM_BEFORE = re.compile(f"[{_NUM}]+(?=丁目|(?!{_TOWN_BAN})番|号|-)")
# A kanji numeral run after 丁目/番/番地/- that does not run on into a word (三田, 六本木 stay).
_NUM_AFTER = re.compile(f"(?:(?<=丁目)|(?<=番)|(?<=番地)|(?<=-))[{_NUM}]+(?![{_IDEOGRAPH}])")
_BAN_NO = re.compile(f"(番地?)の(?=[0-9{_NUM}])")  # 2番地の3 -> 2番地3
# 大字 (and a 字 after it), and a 字 at the start or right after the municipality (〇〇町字中島).
_OAZA = re.compile("大字([^0-9字]*)字|大字|(?:^|(?<=[市区町村郡]))字(?=[^0-9])")
# The markers of the block part after a number: 1丁目2 / 2番3 / 2番地3 / 123の4 -> "-", and a
# trailing 丁目/番/番地/号 dropped (芝1丁目 -> 芝1, 3号 -> 3; 305号室 and a town name's 番 stay).
_BLOCK_MARKER = re.compile(f"(?<=[0-9])(?:丁目|(?!{_TOWN_BAN})番地?|号(?![室棟館])|の(?=[0-9]))")


def _block_marker(m: re.Match[str]) -> str:
    after = m.string[m.end() : m.end() + 1]
    return "-" if after.isascii() and after.isdigit() else ""


# ヶ/ケ/ヵ/が/ガ and の/ノ between two kanji are place-name particles (霞ヶ関 = 霞が関 = 霞ケ関,
# 虎ノ門 = 虎の門).
_PARTICLES = {"ヶ": "ケ", "ケ": "ケ", "ヵ": "ケ", "が": "ケ", "ガ": "ケ", "の": "ノ", "ノ": "ノ"}
_PARTICLE = re.compile(f"(?<=[{_IDEOGRAPH}])[ヶケヵがガのノ](?=[{_IDEOGRAPH}])")
_PARTICLE_CHAR = re.compile("[ヶケヵがガのノ]")
_NUMERAL = re.compile(f"[{_NUM}]")
_SPACED_DASH = re.compile(r"\s*-\s*")
_SPACES = re.compile(r"[\s・]")
_DASH_RUN = re.compile("-{2,}")
_OLD_FORM_SEARCH: re.Pattern[str] | None = None


def _old_form_search() -> re.Pattern[str]:
    """A pattern finding any character of the old-form map (cheaper than translating every value)."""
    global _OLD_FORM_SEARCH
    if _OLD_FORM_SEARCH is None:
        _OLD_FORM_SEARCH = re.compile("[" + "".join(re.escape(chr(cp)) for cp in _old_forms()) + "]")
    return _OLD_FORM_SEARCH


def _kanji_number(run: str) -> str:
    """Arabic digits of a kanji numeral: 二〇三 -> 203 (positional), 二十三 / 三十一 / 百二 (with units)."""
    if not any(c in _KANJI_UNITS for c in run):
        return "".join(str(_KANJI_DIGITS[c]) for c in run)
    total, digit = 0, None
    for c in run:
        if c in _KANJI_UNITS:
            total += (1 if digit is None else digit) * _KANJI_UNITS[c]
            digit = None
        else:
            digit = _KANJI_DIGITS[c] if digit is None else digit * 10 + _KANJI_DIGITS[c]
    return str(total + (digit or 0))


def _normalise_address(value: str) -> str:
    """One NFKC-normalised address in comparison form (see :func:`normalise_addresses`).

    Each step is skipped when the characters it looks for are absent (most addresses are
    already in a plain form): about 10 µs per distinct address.
    """
    s = value
    if _old_form_search().search(s):
        s = s.translate(_old_forms())
    s = _DASHES.sub("-", s)
    if "ー" in s or "\u2500" in s or "\u2501" in s:
        s = _LONG_MARK_BETWEEN_NUMBERS.sub("-", s)
    if "-" in s:
        s = _SPACED_DASH.sub("-", s)
    if "の" in s:
        s = _BAN_NO.sub(r"\1", s)
    if _NUMERAL.search(s):
        s = _NUM_BEFORE.sub(lambda m: _kanji_number(m.group()), s)
        if _NUMERAL.search(s):
            s = _NUM_AFTER.sub(lambda m: _kanji_number(m.group()), s)
    s = _SPACES.sub("", s)
    if "字" in s:
        s = _OAZA.sub(r"\1", s)
    if _PARTICLE_CHAR.search(s):
        s = _PARTICLE.sub(lambda m: _PARTICLES[m.group()], s)
    s = _BLOCK_MARKER.sub(_block_marker, s)
    if "--" in s:
        s = _DASH_RUN.sub("-", s)
    return s.lower()


def normalise_addresses(values: pa.Array) -> pa.Array:
    """Addresses in their comparison form (privacy.md §Matching); nulls stay null.

    NFKC (full-width digits and letters become ASCII), old-form kanji to standard forms
    (the reviewed map used for names), hyphen and dash variants unified to ``-`` (ー only
    between numbers), kanji numerals before 丁目/番/番地/号/- and after 丁目/番/番地/-
    made arabic (一丁目, 二十三番地), and the block part reduced to one form: 1丁目2番3号,
    1丁目2番地3, 1丁目2-3 and １－２－３ all become ``1-2-3``; 大字/字 dropped, ヶ/ケ/が
    and の/ノ between kanji unified, spaces and middle dots removed, alphabet case-folded. A building
    name after the number stays. Only for comparison: addresses are stored as received.
    The Python step runs once per distinct value.
    """
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return _per_distinct(pc.utf8_normalize(arr.cast(pa.string()), "NFKC"), _normalise_address)


def normalise_address(value: str) -> str:
    """Scalar form of :func:`normalise_addresses`."""
    return _normalise_address(unicodedata.normalize("NFKC", value))


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
