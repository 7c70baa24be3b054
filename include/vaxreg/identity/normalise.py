"""Normalisation for matching (privacy.md §Matching): names (NFKC, kana, old-form kanji, spaces),
the phonetic kana key, and addresses (kanji numerals, 丁目/番/号 forms, 大字, ヶ/ノ). The received
form is stored; the normalised form is compared.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from vaxreg import config

# --------------------------------------------------------------------------- name normalisation

_HIRAGANA_TO_KATAKANA = {c: c + 0x60 for c in range(0x3041, 0x3097)}


def _load_old_forms() -> dict[int, int]:
    """The reviewed old-form kanji map (data/old_form_kanji.tsv): old form → standard form."""

    table: dict[int, int] = {}
    path = config.DATA_DIR / "old_form_kanji.tsv"
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
