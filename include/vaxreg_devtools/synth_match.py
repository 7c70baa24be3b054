"""Synthetic data for evaluating the identity matcher: a resident registry and other-ward records.

``generate(persons, records, seed)`` invents, from the same vocabularies and household model as
:mod:`vaxreg_devtools.synth` (family and given names with their real, heavy-tailed frequencies, so that
サトウ, スズキ and タカハシ are common; households sharing a family name and an address):

* **registry** — ``persons`` residents as the resident registry holds them: ``atena_no``,
  ``name_kana`` (full-width katakana, family and given name separated by a full-width space),
  ``name_kanji``, ``birth_date`` (ISO), ``sex`` (``1``/``2``), ``address``
  (``東京都港区芝1丁目2番3号　芝パークハウス1203号室``). About 2% of children are twins:
  two children of one household with the same birth date and family name, of the same sex
  two times out of three.
* **records** — ``records`` rows of an other-ward file (``feeds.md`` §5) as a matcher sees them:
  ``atena_no`` (mostly blank), ``name_kana`` (as received), ``birth_date`` (ISO), ``sex``,
  ``address`` (the optional 住所 column), plus ``truth`` (the true 宛名番号, null for a person
  who is *not* in the registry, e.g. who moved out before) and ``noise`` (bit set of
  :data:`NOISE`: what was done to the row, for the tests and for a breakdown of results).

Noise is added independently at the rates of :data:`RATES`, so kinds combine on one row
(half-width kana *and* no space *and* a kana typo *and* a digit-swapped birth date …).
The rates are those an other ward's clinic system plausibly produces: half-width kana is the
norm, real errors are a few percent per field.

Everything is column-oriented (numpy, pyarrow compute); Python runs only per *distinct*
name part and for the few percent of rows that get a kana typo or an old-form kanji.
The same arguments give the same bytes (:func:`write` → Parquet).

    python -m vaxreg_devtools.synth_match --persons 1000000 --records 100000 --seed 1 --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vaxreg import config
from vaxreg_devtools import synth
from vaxreg_devtools.synth import (
    _BUILDINGS,
    _CHILD,
    _halfwidth,
    _household_sizes,
    _people,
    _town_tables,
    _vocab,
)

__all__ = ["NOISE", "RATES", "MatchData", "generate", "write"]

# --------------------------------------------------------------------------- rates

RATES: dict[str, float] = {
    # name_kana
    "half_width": 0.75,  # of all records: clinic systems send 半角カナ
    "hiragana": 0.03,  # of all records (taken from the full-width ones): typed in hiragana
    "no_space": 0.15,  # of all records: family and given name run together
    "kana_typo": 0.05,  # of all records: one typo in the family or the given name, of a kind below
    # birth_date
    "birth_typo": 0.02,  # of all records: day/month swapped, adjacent digits swapped or one digit off
    # sex
    "sex_wrong": 0.003,
    # address
    "address_present": 0.70,
    "old_residence": 0.05,  # of present addresses: the previous address (moved within the city)
    "old_form_kanji": 0.04,  # of present addresses (nearly all have a kanji with an old form: 區, 號 …)
    "building_dropped": 0.30,  # of present addresses with a building: building and room left out
    # atena_no
    "atena_present": 0.10,
    "atena_wrong": 0.10,  # of present numbers: half a one-digit typo, half another person's number
    # who the records are of
    "not_in_registry": 0.03,  # persons not in the registry (moved out before), same generator
    "twin_records": 0.01,  # rows of twins, both of a pair (vaccinated together); plus chance ones
    # the registry
    "twin_children": 0.02,  # of children in the registry
}
# Kind of a kana typo (a kind that does not apply to the name falls back to a substitution).
TYPO_KINDS: dict[str, float] = {
    "typo_sub": 0.30,  # a similar-looking or similar-sounding kana (シ/ツ, ソ/ン, ジ/ヂ …)
    "typo_del": 0.15,  # a kana left out
    "typo_ins": 0.10,  # a kana doubled
    "typo_voiced": 0.25,  # voiced mark dropped or added (ガ/カ, パ/ハ …)
    "typo_small": 0.10,  # small kana confused (ッ/ツ, ャ/ヤ …)
    "typo_long": 0.10,  # long vowel: ー dropped (foreign names), else a long ウ written ー (サトー)
}
BIRTH_KINDS: dict[str, float] = {"birth_swap": 0.30, "birth_transpose": 0.35, "birth_digit": 0.35}
# Address forms of a present address (the registry's own is 東京都港区芝1丁目2番3号).
ADDRESS_FORMS: dict[str, float] = {
    "registry": 0.35,  # 1丁目2番3号
    "addr_kanji": 0.15,  # 一丁目二番三号
    "addr_hyphen": 0.30,  # 1-2-3
    "addr_fullwidth": 0.10,  # １丁目２番３号
    "addr_fullwidth_hyphen": 0.10,  # １－２－３
}
ADDRESS_PREFIX: dict[str, float] = {"東京都港区": 0.50, "港区": 0.35, "": 0.15}

_BITS = (
    "half_width",
    "hiragana",
    "no_space",
    *TYPO_KINDS,
    *BIRTH_KINDS,
    "sex_wrong",
    "address_present",
    "addr_kanji",
    "addr_hyphen",
    "addr_fullwidth",
    "addr_fullwidth_hyphen",
    "addr_prefix",  # prefix other than 東京都港区
    "building_dropped",
    "old_form_kanji",
    "old_residence",
    "atena_present",
    "atena_typo",
    "atena_other",
    "not_in_registry",
    "twin",
)
NOISE: dict[str, int] = {name: 1 << i for i, name in enumerate(_BITS)}

# Kanji-named buildings beside synth's katakana ones, so that addresses carry kanji with old forms.
_KANJI_BUILDINGS = (
    "宮崎ビル",
    "沢田コーポ",
    "渡辺荘",
    "浜田ハイツ",
    "広瀬レジデンス",
    "桜井マンション",
    "関根ビル",
)
_ALL_BUILDINGS = (*_BUILDINGS, *_KANJI_BUILDINGS)

_REGISTRY_COLUMNS = ("atena_no", "name_kana", "name_kanji", "birth_date", "sex", "address")
RECORD_COLUMNS = ("atena_no", "name_kana", "birth_date", "sex", "address")


@dataclass(frozen=True)
class MatchData:
    registry: pa.Table  # _REGISTRY_COLUMNS
    records: pa.Table  # RECORD_COLUMNS + truth + noise

    def summary(self) -> dict[str, Any]:
        noise = self.records.column("noise").to_numpy()
        return {
            "persons": self.registry.num_rows,
            "records": self.records.num_rows,
            "noise": {k: round(float(((noise & b) != 0).mean()), 4) for k, b in NOISE.items()},
        }


# --------------------------------------------------------------------------- kana helpers

_SIMILAR = dict(
    zip(
        "シツソンノクケワウチテヌスジズヂヅオヲコユ",
        "ツシンソソケクウワテチスヌヂヅジズヲオユコ",
        strict=True,
    )
)
_VOICED = dict(
    zip(
        "カキクケコサシスセソタチツテトハヒフヘホウ",
        "ガギグゲゴザジズゼゾダヂヅデドバビブベボヴ",
        strict=True,
    )
)
_VOICED |= {v: k for k, v in list(_VOICED.items())} | {
    p: h for h, p in zip("ハヒフヘホ", "パピプペポ", strict=True)
}
_SMALL = dict(zip("ツヤユヨアイウエオ", "ッャュョァィゥェォ", strict=True))
_SMALL |= {v: k for k, v in list(_SMALL.items())}
_O_U_ROW = "オコゴソゾトドノホボポモヨョロウクグスズツヌフブプムユュル"
_FILLER = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"


def _hiragana(kana: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in kana)


def _typo(rng: np.random.Generator, word: str, kind: str) -> tuple[str, str]:
    """(word with one typo of `kind`, the kind applied); falls back to a substitution."""
    table = {"typo_sub": _SIMILAR, "typo_voiced": _VOICED, "typo_small": _SMALL}.get(kind)
    if table is not None:
        at = [i for i, c in enumerate(word) if c in table]
        if at:
            i = at[int(rng.integers(len(at)))]
            return word[:i] + table[word[i]] + word[i + 1 :], kind
    elif kind == "typo_long":
        at = [i for i, c in enumerate(word) if c == "ー"]
        if at:
            i = at[int(rng.integers(len(at)))]
            return word[:i] + word[i + 1 :], kind
        at = [i for i in range(1, len(word)) if word[i] == "ウ" and word[i - 1] in _O_U_ROW]
        if at:
            i = at[int(rng.integers(len(at)))]
            return word[:i] + "ー" + word[i + 1 :], kind
    elif kind == "typo_del" and len(word) >= 3:
        i = int(rng.integers(len(word)))
        return word[:i] + word[i + 1 :], kind
    elif kind == "typo_ins":
        i = int(rng.integers(len(word)))
        return word[: i + 1] + word[i] + word[i + 1 :], kind
    # Fallback: a similar kana if there is one, else any other kana in place of one.
    at = [i for i, c in enumerate(word) if c in _SIMILAR]
    if at:
        i = at[int(rng.integers(len(at)))]
        return word[:i] + _SIMILAR[word[i]] + word[i + 1 :], "typo_sub"
    i = int(rng.integers(len(word)))
    other = [c for c in _FILLER if c != word[i]]
    return word[:i] + other[int(rng.integers(len(other)))] + word[i + 1 :], "typo_sub"


def _per_distinct(values: pa.Array, fn: Any) -> pa.Array:
    enc = pc.dictionary_encode(values)
    dictionary = pa.array([fn(s) for s in enc.dictionary.to_pylist()], pa.string())
    return dictionary.take(enc.indices)


# --------------------------------------------------------------------------- dates


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = months.astype(np.int64) % 12 + 1
    return y, m, (d - months.astype("datetime64[D]")).astype(np.int64) + 1


def _valid(y: np.ndarray, m: np.ndarray, d: np.ndarray, latest: int) -> np.ndarray:
    ok = (y >= 1900) & (m >= 1) & (m <= 12) & (d >= 1)
    months = ((np.clip(y, 1900, 2100) - 1970) * 12 + np.clip(m, 1, 12) - 1).astype("datetime64[M]")
    dim = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)
    ok &= d <= dim
    days = np.where(ok, (months.astype("datetime64[D]") - np.datetime64("1970-01-01")).astype(np.int64), 0)
    return ok & (days + d - 1 <= latest)


def _iso(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> pa.Array:
    days = ((y - 1970) * 12 + m - 1).astype("datetime64[M]").astype("datetime64[D]") + (d - 1)
    return pa.array(days.astype("datetime64[D]"), pa.date32()).cast(pa.string())


def _birth_noise(
    rng: np.random.Generator, birth: np.ndarray, latest: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day, noise bits) of birth days with date typos at RATES['birth_typo']."""
    y, m, d = _ymd(birth)
    n = birth.size
    bits = np.zeros(n, dtype=np.int64)
    hit = np.flatnonzero(rng.random(n) < RATES["birth_typo"])
    kinds = list(BIRTH_KINDS)
    kind = rng.choice(len(kinds), size=hit.size, p=list(BIRTH_KINDS.values()))
    swap_ok = (d[hit] <= 12) & (d[hit] != m[hit])
    kind = np.where((kind == 0) & ~swap_ok, 2, kind)  # a swap that changes nothing: a digit instead
    sw = hit[kind == 0]
    sw = sw[_valid(y[sw], d[sw], m[sw], latest)]
    y2, m2, d2 = y.copy(), m.copy(), d.copy()
    m2[sw], d2[sw] = d[sw], m[sw]
    bits[sw] |= NOISE["birth_swap"]
    for k, name in ((1, "birth_transpose"), (2, "birth_digit")):
        todo = hit[kind == k]
        for _ in range(8):
            if not todo.size:
                break
            digits = (y[todo] * 10000 + m[todo] * 100 + d[todo])[:, None] // 10 ** np.arange(7, -1, -1) % 10
            rows = np.arange(todo.size)
            if k == 1:  # swap digits p and p+1 (p in 2..6: not the century)
                p = rng.integers(2, 7, todo.size)
                a, b = digits[rows, p].copy(), digits[rows, p + 1].copy()
                digits[rows, p], digits[rows, p + 1] = b, a
            else:  # one digit (year units, month or day) off by one
                p = rng.choice(np.array([3, 5, 6, 7]), todo.size)
                digits[rows, p] = (digits[rows, p] + rng.choice(np.array([1, 9]), todo.size)) % 10
            value = digits @ 10 ** np.arange(7, -1, -1)
            ny, nm, nd = value // 10000, value // 100 % 100, value % 100
            ok = _valid(ny, nm, nd, latest) & (value != y[todo] * 10000 + m[todo] * 100 + d[todo])
            done = todo[ok]
            y2[done], m2[done], d2[done] = ny[ok], nm[ok], nd[ok]
            bits[done] |= NOISE[name]
            todo = todo[~ok]
    return y2, m2, d2, bits


# --------------------------------------------------------------------------- addresses

_KANJI_DIGIT = "〇一二三四五六七八九"


def _kanji_number(k: int) -> str:
    tens, units = divmod(k, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _KANJI_DIGIT[tens] + "十")
    return head + (_KANJI_DIGIT[units] if units else "") if k else "〇"


_FULL_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")


@dataclass(frozen=True)
class _Numbers:
    arabic: pa.Array
    kanji: pa.Array
    full: pa.Array


def _numbers(limit: int) -> _Numbers:
    arabic = [str(k) for k in range(limit)]
    return _Numbers(
        pa.array(arabic, pa.string()),
        pa.array([_kanji_number(k) if k < 100 else str(k) for k in range(limit)], pa.string()),
        pa.array([s.translate(_FULL_DIGITS) for s in arabic], pa.string()),
    )


def _render_address(
    town: np.ndarray,
    chome: np.ndarray,
    banchi: np.ndarray,
    go: np.ndarray,
    bldg: np.ndarray,
    room: np.ndarray,
    form: np.ndarray | None = None,
    prefix: np.ndarray | None = None,
) -> pa.Array:
    """Addresses; `form` indexes ADDRESS_FORMS (None: the registry's), `prefix` ADDRESS_PREFIX."""
    towns = _town_tables()[0].take(town.astype(np.int64))
    nums = _numbers(100)
    rooms = _numbers(int(room.max()) + 1 if room.size else 1)
    c, b, g = chome.astype(np.int64), banchi.astype(np.int64), go.astype(np.int64)
    n = town.size
    form = np.zeros(n, dtype=np.int64) if form is None else form
    prefix = np.zeros(n, dtype=np.int64) if prefix is None else prefix
    has = bldg >= 0
    bname = pa.array(_ALL_BUILDINGS, pa.string()).take(np.maximum(bldg, 0).astype(np.int64))
    r = room.astype(np.int64)

    def block(t: pa.Array, sep: str, hyphen: str | None, tail: str) -> pa.Array:
        if hyphen is None:
            core = pc.binary_join_element_wise(towns, t.take(c), "丁目", t.take(b), "番", t.take(g), "号", "")
        else:
            core = pc.binary_join_element_wise(towns, t.take(c), hyphen, t.take(b), hyphen, t.take(g), "")
        rt = (rooms.full if t is nums.full else rooms.arabic).take(r)
        with_b = pc.binary_join_element_wise(core, sep, towns, bname, rt, tail, "")
        return pc.if_else(pa.array(has), with_b, core)

    variants = [
        block(nums.arabic, "　", None, "号室"),
        block(nums.kanji, "　", None, "号室"),
        block(nums.arabic, " ", "-", ""),
        block(nums.full, "　", None, "号室"),
        block(nums.full, "　", "－", "号室"),
    ]
    out = variants[0]
    for i in range(1, len(variants)):
        if (form == i).any():
            out = pc.if_else(pa.array(form == i), variants[i], out)
    pre = pa.array(list(ADDRESS_PREFIX), pa.string()).take(prefix)
    return pc.binary_join_element_wise(pre, out, "")


def _old_form_map() -> dict[str, str]:
    """Standard form → its first old form in data/old_form_kanji.tsv."""
    out: dict[str, str] = {}
    path = config.DATA_DIR / "old_form_kanji.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            old, new = line.split()
            out.setdefault(new, old)
    return out


# --------------------------------------------------------------------------- population


def _population(rng: np.random.Generator, k: int, ref: int) -> dict[str, np.ndarray]:
    """k persons in households (synth's household model), with twins and kanji-named buildings."""
    v = _vocab()
    sizes = _household_sizes(rng, k, [0.48, 0.25, 0.14, 0.10, 0.03])
    p, _ = _people(rng, v, sizes, np.full(sizes.size, ref, dtype=np.int64), synth._FOREIGN_SHARE)
    # Buildings: one draw per household over synth's katakana and our kanji-named ones.
    bldg_hh = rng.integers(0, len(_ALL_BUILDINGS), sizes.size)
    p["bldg"] = np.where(p["bldg"] >= 0, bldg_hh[p["hl"]], -1).astype(np.int16)
    # Twins: the first two children of some households share the birth date, often the sex.
    twin = np.zeros(k, dtype=bool)
    kids = np.flatnonzero((p["rel"] == _CHILD) & (p["cls"] == 1))
    hl = p["hl"][kids]
    j = np.flatnonzero(hl[:-1] == hl[1:])  # a child followed by a sibling
    j = j[np.r_[True, hl[j[1:]] != hl[j[:-1]]]] if j.size else j  # the first such child of a household
    pairs = min(j.size, round(RATES["twin_children"] * kids.size / 2))
    j = np.sort(rng.choice(j, size=pairs, replace=False)) if pairs else j[:0]
    a, b = kids[j], kids[j + 1]
    p["birth"][b] = p["birth"][a]
    same_sex = rng.random(pairs) < 2 / 3
    p["sex"][b] = np.where(same_sex, p["sex"][a], 3 - p["sex"][a])
    group = synth._cohort(p["birth"][b])
    reading = pc.dictionary_encode(v.giv.kana).indices.to_numpy()  # twins' given names read differently
    redo = np.arange(pairs)
    for _ in range(20):
        if redo.size:
            p["giv"][b[redo]] = synth._draw_given(rng, v, group[redo], p["sex"][b[redo]])
            redo = redo[reading[p["giv"][b[redo]]] == reading[p["giv"][a[redo]]]]
    twin[a] = twin[b] = True
    p["twin"] = twin
    p["twin_of"] = np.full(k, -1, dtype=np.int64)
    p["twin_of"][a], p["twin_of"][b] = b, a
    return p


def _kana_parts(p: dict[str, np.ndarray], idx: np.ndarray) -> tuple[pa.Array, pa.Array]:
    v = _vocab()
    return v.fam.kana.take(p["fam"][idx].astype(np.int64)), v.giv.kana.take(p["giv"][idx].astype(np.int64))


def generate(persons: int = 1_000_000, records: int = 100_000, seed: int = 20261127) -> MatchData:
    """The registry and the other-ward records (see the module docstring). Deterministic."""
    if persons < 100 or records < 10 or records > persons:
        raise ValueError("need persons ≥ 100 and 10 ≤ records ≤ persons")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    ref = (np.datetime64("2026-04-01") - np.datetime64("1970-01-01")).astype(np.int64)
    n_out = round(RATES["not_in_registry"] * records)
    reg = _population(rng, persons, int(ref))
    gone = _population(rng, max(n_out, 1), int(ref) - 365)  # moved out a year or more ago
    v = _vocab()

    # 宛名番号: one increasing sequence with gaps for everybody, registry and moved-out alike.
    total = persons + gone["sex"].size
    seq = int(rng.integers(1_000_000, 20_000_000)) + np.cumsum(rng.integers(1, 8, total))
    mine = np.zeros(total, dtype=bool)
    mine[rng.choice(total, size=persons, replace=False)] = True
    atena_reg, atena_gone = seq[mine], seq[~mine]

    def atena_str(a: np.ndarray) -> pa.Array:
        return pc.utf8_lpad(pa.array(a.astype(np.int64)).cast(pa.string()), width=10, padding="0")

    all_p = np.arange(persons)
    fam_kana, giv_kana = _kana_parts(reg, all_p)
    registry = pa.table(
        {
            "atena_no": atena_str(atena_reg),
            "name_kana": pc.binary_join_element_wise(fam_kana, giv_kana, "　"),
            "name_kanji": synth._names(v, reg["fam"], reg["giv"]),
            "birth_date": pa.array(reg["birth"].astype("datetime64[D]"), pa.date32()).cast(pa.string()),
            "sex": pa.array(reg["sex"].astype(np.int64)).cast(pa.string()),
            "address": _render_address(
                reg["town"], reg["chome"], reg["banchi"], reg["go"], reg["bldg"], reg["room"]
            ),
        }
    )

    # Who the records are of: pairs of twins, the moved-out, and random residents.
    twins_a = np.flatnonzero(reg["twin"] & (reg["twin_of"] > all_p))
    n_pairs = min(twins_a.size, round(RATES["twin_records"] * records / 2), (records - n_out) // 2)
    pa_ = rng.choice(twins_a, size=n_pairs, replace=False) if n_pairs else twins_a[:0]
    chosen = np.concatenate([pa_, reg["twin_of"][pa_]])
    n_rest = records - n_out - chosen.size
    taken = np.zeros(persons, dtype=bool)
    taken[chosen] = True
    pool = rng.choice(persons, size=min(persons, n_rest + chosen.size), replace=False)
    rest = pool[~taken[pool]][:n_rest]
    who = np.concatenate([chosen, rest])
    who = who[rng.permutation(who.size)]
    m = records
    # Row order: registry persons and moved-out persons interleaved at random.
    order = rng.permutation(m)
    is_out = np.zeros(m, dtype=bool)
    is_out[order[:n_out]] = True
    src_reg = np.full(m, -1, dtype=np.int64)
    src_reg[~is_out] = who
    src_out = np.full(m, -1, dtype=np.int64)
    src_out[is_out] = np.arange(n_out)

    def pick(field: str) -> np.ndarray:
        a, b = reg[field], gone[field]
        out = np.empty(m, dtype=a.dtype)
        out[~is_out] = a[src_reg[~is_out]]
        out[is_out] = b[src_out[is_out]]
        return out

    bits = np.zeros(m, dtype=np.int64)
    bits[is_out] |= NOISE["not_in_registry"]
    bits[~is_out & reg["twin"][np.maximum(src_reg, 0)]] |= NOISE["twin"]
    truth_no = np.where(is_out, 0, atena_reg[np.maximum(src_reg, 0)])
    own_no = np.where(is_out, atena_gone[np.maximum(src_out, 0)], truth_no)

    # ---- name_kana
    fam_k = v.fam.kana.take(pick("fam").astype(np.int64)).to_pylist()
    giv_k = v.giv.kana.take(pick("giv").astype(np.int64)).to_pylist()
    typo_rows = np.flatnonzero(rng.random(m) < RATES["kana_typo"])
    kinds = list(TYPO_KINDS)
    kind = rng.choice(len(kinds), size=typo_rows.size, p=list(TYPO_KINDS.values()))
    on_given = rng.random(typo_rows.size) < 0.5
    for i, kd, g in zip(typo_rows.tolist(), kind.tolist(), on_given.tolist(), strict=True):
        parts = giv_k if g else fam_k
        parts[i], applied = _typo(rng, parts[i], kinds[kd])
        bits[i] |= NOISE[applied]
    fam_a, giv_a = pa.array(fam_k, pa.string()), pa.array(giv_k, pa.string())
    u = rng.random(m)
    half = u < RATES["half_width"]
    hira = ~half & (u < RATES["half_width"] + RATES["hiragana"])
    no_space = rng.random(m) < RATES["no_space"]
    bits[half] |= NOISE["half_width"]
    bits[hira] |= NOISE["hiragana"]
    bits[no_space] |= NOISE["no_space"]

    def form(part: pa.Array) -> pa.Array:
        h, k = _per_distinct(part, _halfwidth), _per_distinct(part, _hiragana)
        return pc.if_else(pa.array(half), h, pc.if_else(pa.array(hira), k, part))

    sep = pc.if_else(pa.array(no_space), "", pc.if_else(pa.array(half), " ", "　"))
    name_kana = pc.binary_join_element_wise(form(fam_a), sep, form(giv_a), "")

    # ---- birth_date, sex
    y, mo, d, bbits = _birth_noise(rng, pick("birth").astype(np.int64), int(ref))
    bits |= bbits
    sex = pick("sex").astype(np.int64)
    wrong_sex = rng.random(m) < RATES["sex_wrong"]
    sex = np.where(wrong_sex, 3 - sex, sex)
    bits[wrong_sex] |= NOISE["sex_wrong"]

    # ---- address
    addr = {f: pick(f) for f in ("town", "chome", "banchi", "go", "bldg", "room")}
    present = rng.random(m) < RATES["address_present"]
    bits[present] |= NOISE["address_present"]
    moved = present & (rng.random(m) < RATES["old_residence"])
    k_moved = int(moved.sum())
    old = synth._random_address(rng, k_moved)
    old["bldg"] = np.where(old["bldg"] >= 0, rng.integers(0, len(_ALL_BUILDINGS), k_moved), -1)
    for f in addr:
        addr[f] = addr[f].copy()
        addr[f][moved] = old[f].astype(addr[f].dtype)
    bits[moved] |= NOISE["old_residence"]
    forms = list(ADDRESS_FORMS)
    afor = rng.choice(len(forms), size=m, p=list(ADDRESS_FORMS.values()))
    prefix = rng.choice(len(ADDRESS_PREFIX), size=m, p=list(ADDRESS_PREFIX.values()))
    dropped = present & (addr["bldg"] >= 0) & (rng.random(m) < RATES["building_dropped"])
    addr["bldg"] = np.where(dropped, -1, addr["bldg"])
    for i, name in enumerate(forms[1:], start=1):
        bits[present & (afor == i)] |= NOISE[name]
    bits[present & (prefix > 0)] |= NOISE["addr_prefix"]
    bits[dropped] |= NOISE["building_dropped"]
    address = _render_address(
        addr["town"], addr["chome"], addr["banchi"], addr["go"], addr["bldg"], addr["room"], afor, prefix
    )
    olds = _old_form_map()
    eligible = pc.match_substring_regex(address, "[" + "".join(olds) + "]").to_numpy(zero_copy_only=False)
    oldf = np.flatnonzero(present & eligible & (rng.random(m) < RATES["old_form_kanji"]))
    if oldf.size:
        texts = address.take(pa.array(oldf)).to_pylist()
        new = []
        for t in texts:
            at = [j for j, ch in enumerate(t) if ch in olds]
            j = at[int(rng.integers(len(at)))]
            new.append(t[:j] + olds[t[j]] + t[j + 1 :])
        arr = np.array(address.to_pylist(), dtype=object)  # small enough: m strings
        arr[oldf] = new
        address = pa.array(arr.tolist(), pa.string())
        bits[oldf] |= NOISE["old_form_kanji"]
    address = pc.if_else(pa.array(present), address, pa.scalar(None, pa.string()))

    # ---- atena_no
    has_no = rng.random(m) < RATES["atena_present"]
    wrong = has_no & (rng.random(m) < RATES["atena_wrong"])
    typo_no = wrong & (rng.random(m) < 0.5)
    other_no = wrong & ~typo_no
    given = own_no.copy()
    pos = rng.integers(0, 10, m)
    digit = given // 10 ** (9 - pos) % 10
    given = np.where(
        typo_no, given + ((digit + rng.integers(1, 10, m)) % 10 - digit) * 10 ** (9 - pos), given
    )
    given = np.where(other_no, atena_reg[rng.integers(0, persons, m)], given)
    other_no &= given != own_no
    bits[has_no] |= NOISE["atena_present"]
    bits[typo_no] |= NOISE["atena_typo"]
    bits[other_no] |= NOISE["atena_other"]
    atena_col = pc.if_else(pa.array(has_no), atena_str(given), pa.scalar(None, pa.string()))
    truth = pc.if_else(pa.array(is_out), pa.scalar(None, pa.string()), atena_str(truth_no))

    rec = pa.table(
        {
            "atena_no": atena_col,
            "name_kana": name_kana,
            "birth_date": _iso(y, mo, d),
            "sex": pa.array(sex).cast(pa.string()),
            "address": address,
            "truth": truth,
            "noise": pa.array(bits),
        }
    )
    return MatchData(registry=registry, records=rec)


def write(data: MatchData, out: Path) -> dict[str, Path]:
    """registry.parquet and records.parquet in `out` (same data → same bytes)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"registry": out / "registry.parquet", "records": out / "records.parquet"}
    pq.write_table(data.registry, paths["registry"], compression="zstd")
    pq.write_table(data.records, paths["records"], compression="zstd")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    data = generate(args.persons, args.records, args.seed)
    write(data, args.out)
    print(json.dumps(data.summary() | {"seconds": round(time.perf_counter() - started, 2)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
