"""Identity matcher (名寄せ): put a received record on the right person, or ask a human.

privacy.md §Matching, in two passes over whole columns (no query or loop per record):

1. **Deterministic**: a record whose 宛名番号 names a registry person is attached to
   that person when birth date and sex agree and the normalised kana name is the same,
   the same after folding (voiced marks, small kana, ー) or one edit away.
2. **Probabilistic** (Fellegi–Sunter), for every other record: candidate pairs come
   from blocking (birth year + the month/day digits in any order, so swapped digits still
   meet; the folded name + birth year, and + month/day; the first three folded kana +
   birth month + sex; the record's own 宛名番号), each pair is compared field by field
   into levels (``data/matching.toml``), and the match weight is the sum of ``log2(m/u)``.
   m are reviewed priors; u are measured on the registry at match time from random pairs
   of persons, with an exact name's u its own frequency (term-frequency adjustment) and
   the birth date and name measured together where they depend on each other (cohorts).
   A record is attached when its best candidate reaches the threshold with the margin
   over the runner-up; otherwise it goes to review with its candidates and scores.

Blocks are bounded by how many persons share a birth date or a name, so cost grows
with the number of records, not with records × persons. **My Number is never a matching
field** (P2): :func:`link` refuses any column that could carry it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz.distance import OSA
from rapidfuzz.process import cpdist

from vaxreg import config
from vaxreg.identity import normalise

PARAMS_FILE = config.DATA_DIR / "matching.toml"
RECORD_COLUMNS = ("atena_no", "name_kana", "birth_date", "sex", "address")
REGISTRY_COLUMNS = ("atena_no", "name_kana", "birth_date", "sex", "address")
# Names of columns that carry My Number anywhere in the project (P2: never a matching field).
FORBIDDEN_COLUMNS = frozenset({"my_number", "kojin_no", "個人番号"})
FIELDS = ("kana", "birth", "sex", "address", "atena")


@dataclasses.dataclass(frozen=True)
class Params:
    """The reviewed parameters of ``data/matching.toml``."""

    threshold: float
    margin: float
    review_candidates: int
    u_sample_pairs: int
    u_seed: int
    u_floor: float
    u_prior_pairs: int
    m: dict[str, dict[str, float]]
    u: dict[str, dict[str, float]]
    home_prefixes: tuple[str, ...]

    def levels(self, field: str) -> list[str]:
        return list(self.m[field])


def load_params(path: Path | None = None) -> Params:
    raw = tomllib.loads((path or PARAMS_FILE).read_text(encoding="utf-8"))
    m = {field: {k: float(v) for k, v in levels.items()} for field, levels in raw["m"].items()}
    u = {field: {k: float(v) for k, v in levels.items()} for field, levels in raw["u"].items()}
    for name, table in (("m", m), ("u", u)):
        if set(table) != set(FIELDS):
            raise ValueError(f"matching.toml: [{name}] must have the fields {FIELDS}")
        for field, levels in table.items():
            if abs(sum(levels.values()) - 1.0) > 1e-6:
                raise ValueError(f"matching.toml: {name}.{field} must sum to 1, not {sum(levels.values())}")
            if list(levels) != list(m[field]):
                raise ValueError(f"matching.toml: {name}.{field} must list the levels of m.{field}")
    return Params(
        threshold=float(raw["threshold"]),
        margin=float(raw["margin"]),
        review_candidates=int(raw["review_candidates"]),
        u_sample_pairs=int(raw["u_sample_pairs"]),
        u_seed=int(raw["u_seed"]),
        u_floor=float(raw["u_floor"]),
        u_prior_pairs=int(raw["u_prior_pairs"]),
        m=m,
        u=u,
        home_prefixes=tuple(sorted(raw["address"]["home_prefixes"], key=len, reverse=True)),
    )


# --------------------------------------------------------------------------- prepared rows


def _strings(values: pd.Series) -> pa.Array:
    return pa.array(values.astype(object).where(values.notna(), None), pa.string())


def _encode(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int32 code per row, -1 for null or '', the distinct values as an object array)."""
    encoded = pc.dictionary_encode(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int32)
    uniques = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    empty = np.flatnonzero(uniques == "")
    if len(empty):
        codes[codes == empty[0]] = -1
    return codes, uniques


def _recode(codes: np.ndarray, derived: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a value derived from each distinct value (``derived[code]``), as new codes."""
    new, uniques = pd.factorize(derived)
    mapped = np.where(codes >= 0, np.asarray(new, dtype=np.int32)[np.maximum(codes, 0)], -1)
    empty = np.flatnonzero(np.asarray(uniques, dtype=object) == "")
    if len(empty):
        mapped[mapped == empty[0]] = -1
    return mapped.astype(np.int32), np.asarray(uniques, dtype=object)


class _Rows:
    """Records and registry persons as one table of integer codes: rows ``[0, n_records)`` are
    the records, the rest the persons. Names are normalised once per distinct value; addresses
    only for the rows that end up compared (most persons are never anyone's candidate)."""

    def __init__(
        self, records: pd.DataFrame, registry: pd.DataFrame, home_prefixes: tuple[str, ...] = ()
    ) -> None:
        both = pd.concat([records[list(RECORD_COLUMNS)], registry[list(REGISTRY_COLUMNS)]], ignore_index=True)
        self.n_records = len(records)
        self.atena = both["atena_no"].astype(object).where(both["atena_no"].notna(), None).to_numpy()
        self.atena_code, _ = _encode(_strings(both["atena_no"]))
        raw_kana, raw_values = _encode(_strings(both["name_kana"]))
        normalised = normalise.normalise_names(pa.array(raw_values, pa.string()))
        self.kana, self.kana_values = _recode(raw_kana, np.asarray(normalised.to_numpy(zero_copy_only=False)))
        folded = normalise.fold_kana(pa.array(self.kana_values, pa.string())).to_numpy(zero_copy_only=False)
        self.fold, fold_values = _recode(self.kana, np.asarray(folded, dtype=object))
        prefix = np.array([v[:3] for v in fold_values], dtype=object)
        self.prefix, _ = _recode(self.fold, prefix)
        digits = both["birth_date"].astype(object).where(both["birth_date"].notna(), "")
        birth = pd.to_numeric(digits.str.replace("-", "", regex=False), errors="coerce")
        self.birth = birth.fillna(0).astype("int64").to_numpy()
        self.sex, _ = _encode(_strings(both["sex"]))
        self.address_raw, self.address_raw_values = _encode(_strings(both["address"]))
        # Per raw address code: normalised code and street code (-2: not normalised yet).
        self._address_norm = np.full(len(self.address_raw_values), -2, dtype=np.int32)
        self._street_norm = np.full(len(self.address_raw_values), -2, dtype=np.int32)
        self._address_index: dict[str, int] = {}
        self._street_index: dict[str, int] = {}
        prefixes = [
            p for p in normalise.normalise_addresses(pa.array(home_prefixes, pa.string())).to_pylist() if p
        ]
        self._home = "^(?:" + "|".join(re.escape(p) for p in prefixes) + ")" if prefixes else None

    def __len__(self) -> int:
        return len(self.birth)

    def address(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(normalised address code, street code) per row, -1 where missing. The street is the
        town and its block numbers without the building (芝1-2-3 of 芝1-2-3芝レジデンス2204号室)."""
        raw = self.address_raw[rows]
        seen = np.bincount(raw[raw >= 0], minlength=len(self.address_raw_values)) > 0
        todo = np.flatnonzero(seen & (self._address_norm == -2))
        if len(todo):
            normal = normalise.normalise_addresses(pa.array(self.address_raw_values[todo], pa.string()))
            if self._home is not None:
                normal = pc.replace_substring_regex(normal, self._home, "")
            street = pc.replace_substring_regex(normal, _BUILDING, r"\1")
            for code, value, block in zip(todo, normal.to_pylist(), street.to_pylist(), strict=True):
                self._address_norm[code] = _intern(self._address_index, value)
                self._street_norm[code] = _intern(self._street_index, block)
        if not len(self.address_raw_values):  # no address on either side
            return np.full(len(raw), -1, dtype=np.int32), np.full(len(raw), -1, dtype=np.int32)
        safe = np.maximum(raw, 0)
        return (
            np.where(raw >= 0, self._address_norm[safe], -1),
            np.where(raw >= 0, self._street_norm[safe], -1),
        )


# The street of a normalised address: the town and its block numbers (the rest is building and room).
_BUILDING = r"^([^0-9]*[0-9]+(?:-[0-9]+)*).*$"


def _intern(index: dict[str, int], value: str | None) -> int:
    return -1 if not value else index.setdefault(value, len(index))


# --------------------------------------------------------------------------- comparisons


def _osa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(cpdist(a, b, scorer=OSA.distance, workers=-1), dtype=np.int64)


def _kana_levels(rows: _Rows, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """0 exact, 1 folded, 2 typo, 3 near, 4 other (the order of ``m.kana``)."""
    ka, kb = rows.kana[a], rows.kana[b]
    level = np.full(len(a), 4, dtype=np.int8)
    present = (ka >= 0) & (kb >= 0)
    exact = present & (ka == kb)
    folded = present & ~exact & (rows.fold[a] == rows.fold[b])
    rest = np.flatnonzero(present & ~exact & ~folded)
    d = _osa(rows.kana_values[ka[rest]], rows.kana_values[kb[rest]])
    level[rest[d <= 2]] = 3
    level[rest[d <= 1]] = 2
    level[folded] = 1
    level[exact] = 0
    return level


def _one_edit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Four-digit numbers one digit apart, or with two adjacent digits swapped."""
    xd, yd = (x[:, None] // _POW4) % 10, (y[:, None] // _POW4) % 10
    differ = xd != yd
    n = differ.sum(axis=1)
    adjacent = np.zeros(len(x), dtype=bool)
    for k in range(3):
        adjacent |= differ[:, k] & differ[:, k + 1] & (xd[:, k] == yd[:, k + 1]) & (xd[:, k + 1] == yd[:, k])
    return (n == 1) | ((n == 2) & adjacent)


_POW4 = np.array([1000, 100, 10, 1], dtype=np.int32)


def _birth_levels(r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """0 exact, 1 typo (one digit off, two adjacent digits or day and month swapped), 2 same
    year, 3 other. Digits are compared only where a typo is possible: in month and day when
    the year is the same, in the year when month and day are."""
    level = np.full(len(r), 3, dtype=np.int8)
    year_r, year_c = (r // 10000).astype(np.int32), (c // 10000).astype(np.int32)
    md_r, md_c = (r % 10000).astype(np.int32), (c % 10000).astype(np.int32)
    same_year = year_r == year_c
    level[same_year] = 2
    in_md = np.flatnonzero(same_year & (md_r != md_c))
    swapped = (md_r[in_md] // 100 == md_c[in_md] % 100) & (md_r[in_md] % 100 == md_c[in_md] // 100)
    level[in_md[swapped | _one_edit(md_r[in_md], md_c[in_md])]] = 1
    in_year = np.flatnonzero(~same_year & (md_r == md_c))
    level[in_year[_one_edit(year_r[in_year], year_c[in_year])]] = 1
    level[r == c] = 0
    level[(r == 0) | (c == 0)] = 3
    return level


def _address_levels(rows: _Rows, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """0 exact, 1 street (same town and block numbers, the building differs or is left out),
    2 other, -1 missing on either side (no evidence)."""
    ca, sa = rows.address(a)
    cb, sb = rows.address(b)
    level = np.where((ca >= 0) & (cb >= 0), 2, -1).astype(np.int8)
    level[(level == 2) & (sa == sb) & (sa >= 0)] = 1
    level[(level >= 1) & (ca == cb)] = 0
    return level


def _compare(
    rows: _Rows, a: np.ndarray, b: np.ndarray, params: Params, address: slice = slice(None)
) -> dict[str, np.ndarray]:
    """Field levels of the pairs (a[i], b[i]) of row positions (addresses of the pairs in
    ``address`` only; the others get -1, no evidence)."""
    atena = np.where(rows.atena_code[a] == rows.atena_code[b], 0, 1).astype(np.int8)
    atena[rows.atena_code[a] < 0] = -1
    addr = np.full(len(a), -1, dtype=np.int8)
    addr[address] = _address_levels(rows, a[address], b[address])
    return {
        "kana": _kana_levels(rows, a, b),
        "birth": _birth_levels(rows.birth[a], rows.birth[b]),
        "sex": np.where(rows.sex[a] == rows.sex[b], 0, 1).astype(np.int8),
        "address": addr,
        "atena": atena,
    }


# --------------------------------------------------------------------------- u from the registry


@dataclasses.dataclass
class Model:
    """Weights per field level (bits) and the registry's name frequencies for the TF adjustment."""

    params: Params
    weights: dict[str, np.ndarray]
    name_u: np.ndarray  # per kana code: share of registry persons with that name (smoothed)
    birth_when_names_agree: np.ndarray  # birth-level weights for pairs whose names agree
    kana_when_births_agree: np.ndarray  # kana-level weights for pairs born the same day


def fit(rows: _Rows, params: Params) -> Model:
    """u of every level measured on random pairs of registry persons (seeded, so repeatable),
    smoothed towards the reviewed defaults by ``u_prior_pairs`` (a small registry has few
    distinct pairs to measure). Addresses are compared on a tenth of the pairs: normalising
    an address costs more than comparing it."""
    start, n = rows.n_records, len(rows) - rows.n_records
    k = min(params.u_sample_pairs, n * (n - 1) // 2)
    rng = np.random.default_rng(params.u_seed)
    i = start + rng.integers(0, max(n, 1), k)
    j = start + (i - start + rng.integers(1, max(n, 2), k)) % max(n, 1)  # never the same person
    levels = _compare(rows, i, j, params, address=slice(0, k // 10))
    weights: dict[str, np.ndarray] = {}
    prior = params.u_prior_pairs
    for field in FIELDS:
        m = np.array(list(params.m[field].values()))
        default = np.array(list(params.u[field].values()))
        lv = levels[field]
        if field == "atena":  # two persons never share a 宛名番号: only a typo makes one agree
            u = default
        else:
            counts = np.bincount(lv[lv >= 0].astype(np.int64), minlength=len(m))[: len(m)]
            u = (counts + prior * default) / (counts.sum() + prior)
        weights[field] = np.log2(m / np.maximum(u, params.u_floor))
    names = np.bincount(rows.kana[start:][rows.kana[start:] >= 0], minlength=len(rows.kana_values))
    name_u = (names + prior * params.u["kana"]["exact"]) / (n + prior)
    return Model(
        params,
        weights,
        name_u,
        _birth_given_name(rows, params, levels["birth"]),
        _kana_given_birth(rows, params, levels["kana"]),
    )


def _kana_given_birth(rows: _Rows, params: Params, kana_levels: np.ndarray) -> np.ndarray:
    """Kana-level weights for pairs born on the same day. Persons of one cohort share the names
    in fashion that year, so a near name among them is likelier than among random persons:
    measured on pairs of registry persons with the same birth date (each with the next born
    that day), smoothed towards the unconditional measurement."""
    start = rows.n_records
    birth = rows.birth[start:]
    order = np.argsort(birth, kind="stable")
    same = (birth[order][1:] == birth[order][:-1]) & (birth[order][1:] > 0)
    a, b = start + order[:-1][same], start + order[1:][same]
    k = min(len(a), params.u_sample_pairs)
    m = np.array(list(params.m["kana"].values()))
    counts = np.bincount(_kana_levels(rows, a[:k], b[:k]).astype(np.int64), minlength=len(m))
    return _conditional_weights(m, counts, kana_levels, params, "kana")


def _conditional_weights(
    m: np.ndarray, counts: np.ndarray, overall_levels: np.ndarray, params: Params, field: str
) -> np.ndarray:
    """log2(m/u) with u measured on ``counts``, smoothed towards the unconditional measurement."""
    prior = params.u_prior_pairs
    default = np.array(list(params.u[field].values()))
    overall = np.bincount(overall_levels.astype(np.int64), minlength=len(m)) + prior * default
    overall = overall / overall.sum()
    u = (counts[: len(m)] + prior * overall) / (counts.sum() + prior)
    return np.log2(m / np.maximum(u, params.u_floor))


def _birth_given_name(rows: _Rows, params: Params, birth_levels: np.ndarray) -> np.ndarray:
    """Birth-date weights for pairs whose names agree. Given names follow fashions, so two
    persons of the same name are far likelier to be born in the same years than two random
    persons: measured on pairs of registry persons of the same folded name (each with the
    next of that name), smoothed towards the unconditional measurement."""
    start = rows.n_records
    fold = rows.fold[start:]
    order = np.argsort(fold, kind="stable")
    same = (fold[order][1:] == fold[order][:-1]) & (fold[order][1:] >= 0)
    a, b = start + order[:-1][same], start + order[1:][same]
    m = np.array(list(params.m["birth"].values()))
    counts = np.bincount(_birth_levels(rows.birth[a], rows.birth[b]).astype(np.int64), minlength=len(m))
    return _conditional_weights(m, counts, birth_levels, params, "birth")


def _weights(model: Model, levels: dict[str, np.ndarray], cand_kana: np.ndarray) -> np.ndarray:
    total = np.zeros(len(cand_kana))
    for field in FIELDS:
        lv = levels[field]
        total += np.where(lv >= 0, model.weights[field][np.maximum(lv, 0)], 0.0)
    # Names and birth years are not independent: where the names agree (exact or folded),
    # the birth date weighs what it weighs among persons of the same name.
    agree = levels["kana"] <= 1
    birth = levels["birth"][agree].astype(np.int64)
    total[agree] += model.birth_when_names_agree[birth] - model.weights["birth"][birth]
    # Likewise, where the names differ but the birth dates are the same, the name weighs what it
    # weighs among persons born that day.
    born = (levels["birth"] == 0) & (levels["kana"] >= 2)
    kana = levels["kana"][born].astype(np.int64)
    total[born] += model.kana_when_births_agree[kana] - model.weights["kana"][kana]
    # Term frequency: an exact name is as strong as the name is rare in the registry.
    exact = levels["kana"] == 0
    u = np.maximum(model.name_u[cand_kana[exact]], model.params.u_floor)
    total[exact] += np.log2(model.params.m["kana"]["exact"] / u) - model.weights["kana"][0]
    return total


# --------------------------------------------------------------------------- blocking


def _join(key: np.ndarray, rows: _Rows, ok: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Pairs (record, person) with equal keys, as ``record * 2**32 + person`` (row positions)."""
    nr = rows.n_records
    rec = np.flatnonzero(ok[:nr] & active)
    per = nr + np.flatnonzero(ok[nr:])
    pairs = pd.DataFrame({"k": key[rec], "r": rec}).merge(pd.DataFrame({"k": key[per], "p": per}), on="k")
    return pairs["r"].to_numpy(np.int64) * (1 << 32) + pairs["p"].to_numpy(np.int64)


def _birth_key(birth: np.ndarray) -> np.ndarray:
    """Birth year and the multiset of the four month/day digits: swapped digits meet."""
    md = birth % 10000
    d = np.sort(np.stack([md // 1000, md // 100 % 10, md // 10 % 10, md % 10], axis=1), axis=1)
    return birth // 10000 * 10000 + d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]


def candidate_pairs(rows: _Rows, active: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(record row, person row) of every pair that shares a blocking key, once each, for the
    ``active`` records (default all)."""
    if active is None:
        active = np.ones(rows.n_records, dtype=bool)
    has_birth, has_kana = rows.birth > 0, rows.fold >= 0
    both = has_birth & has_kana
    name, year = rows.fold.astype(np.int64), rows.birth // 10000
    prefix_month_sex = (rows.prefix.astype(np.int64) << 28) | ((rows.birth // 100) << 4) | (rows.sex & 0xF)
    found = np.concatenate(
        [
            # the birth date, its month and day digits in any order (swapped digits meet)
            _join(_birth_key(rows.birth), rows, has_birth, active),
            # the folded name and the birth year (a typo in month or day) or month and day (in the year)
            _join((name << 16) | year, rows, both, active),
            _join((name << 16) | (rows.birth % 10000), rows, both, active),
            # the first three folded kana, birth year and month, sex (a kana typo and a day typo)
            _join(prefix_month_sex, rows, both & (rows.sex >= 0), active),
            # the record's own 宛名番号
            _join(rows.atena_code, rows, rows.atena_code >= 0, active),
        ]
    )
    found.sort()
    pairs = found[np.r_[True, found[1:] != found[:-1]]] if len(found) else found
    return pairs >> 32, pairs & 0xFFFFFFFF


# --------------------------------------------------------------------------- the two passes


def _check_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    leaked = FORBIDDEN_COLUMNS & set(frame.columns)
    if leaked:
        raise ValueError(
            f"My Number is never a matching field (privacy.md P2): drop {sorted(leaked)} from {what}"
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks {missing}")


def deterministic(rows: _Rows, registry_atena: pd.Index) -> np.ndarray:
    """Per record: the row of the person its 宛名番号 names when birth date, sex and kana agree
    (the kana up to folding or one edit), else -1."""
    nr = rows.n_records
    pos = registry_atena.get_indexer(pd.Index(rows.atena[:nr]))
    named = np.flatnonzero((pos >= 0) & (rows.atena_code[:nr] >= 0))
    out = np.full(nr, -1, dtype=np.int64)
    if len(named):
        a, b = named, nr + pos[named]
        ok = (rows.birth[a] == rows.birth[b]) & (rows.birth[a] > 0) & (rows.sex[a] == rows.sex[b])
        ok &= _kana_levels(rows, a, b) <= 2
        out[named[ok]] = b[ok]
    return out


def link(
    records: pd.DataFrame,
    registry: pd.DataFrame,
    params: Params | None = None,
    *,
    probabilistic: bool = True,
) -> pd.DataFrame:
    """Put each record on a registry person or send it to review.

    ``records``: atena_no (or None), name_kana as received, birth_date ISO (or None), sex,
    address (or None). ``registry``: the same columns for every person. Returns, indexed
    like ``records``: ``atena_no`` (the person, or None), ``decision``
    (``deterministic`` | ``probabilistic`` | ``review``), ``weight`` and ``margin`` (bits;
    NaN where not scored), ``reasons`` (review: ``no_candidate``, ``below_threshold``,
    ``ambiguous``), ``candidates`` (';'-joined 宛名番号, best first) and ``scores`` (JSON
    list of the candidates with weight and field levels; review rows only).
    ``probabilistic=False`` runs the deterministic pass only (``registry`` may then be just
    the persons the records name).
    """
    _check_columns(records, RECORD_COLUMNS, "records")
    _check_columns(registry, REGISTRY_COLUMNS, "registry")
    params = params or load_params()
    n = len(records)
    out = pd.DataFrame(
        {
            "atena_no": pd.Series([None] * n, dtype=object),
            "decision": "review",
            "weight": np.nan,
            "margin": np.nan,
            "reasons": "",
            "candidates": "",
            "scores": pd.Series([None] * n, dtype=object),
        },
    )
    if n == 0:
        return out.set_index(records.index)
    rows = _Rows(records, registry, params.home_prefixes)
    atena = rows.atena  # records' then persons'

    det = deterministic(rows, pd.Index(atena[n:]))
    hit = det >= 0
    out.loc[hit, "atena_no"] = atena[det[hit]]
    out.loc[hit, "decision"] = "deterministic"
    if probabilistic and not hit.all() and len(registry):
        _probabilistic(out, rows, ~hit, fit(rows, params))
    out.loc[(out["decision"] == "review") & (out["reasons"] == ""), "reasons"] = "no_candidate"
    return out.set_index(records.index)


def _probabilistic(out: pd.DataFrame, rows: _Rows, active: np.ndarray, model: Model) -> None:
    """Score the candidate pairs of the ``active`` records; accept or send to review."""
    params = model.params
    ri, pi = candidate_pairs(rows, active)
    if len(ri) == 0:
        return
    # Addresses cost most to compare (each must be normalised first): score without them, then
    # compare addresses only on the pairs that could still be a record's best or runner-up
    # whatever their addresses say.
    levels = _compare(rows, ri, pi, params, address=slice(0, 0))
    weight = _weights(model, levels, rows.kana[pi])
    address_w = model.weights["address"]
    high, low = max(address_w.max(), 0.0), min(address_w.min(), 0.0)
    start = np.flatnonzero(np.r_[True, ri[1:] != ri[:-1]])
    sizes = np.diff(np.r_[start, len(ri)])
    floor = np.repeat(np.maximum.reduceat(weight + low, start), sizes) - max(params.margin, 0.0)
    keep = weight + high >= floor
    ri, pi, weight = ri[keep], pi[keep], weight[keep]
    levels = {f: v[keep] for f, v in levels.items()}
    levels["address"] = _address_levels(rows, ri, pi)
    weight += np.where(levels["address"] >= 0, address_w[np.maximum(levels["address"], 0)], 0.0)
    # Best first within each record; rank 0 is the best candidate, rank 1 the runner-up.
    order = np.lexsort((pi, -weight, ri))
    ri, pi, weight = ri[order], pi[order], weight[order]
    levels = {f: v[order] for f, v in levels.items()}
    start = np.flatnonzero(np.r_[True, ri[1:] != ri[:-1]])
    sizes = np.diff(np.r_[start, len(ri)])
    rank = np.arange(len(ri)) - np.repeat(start, sizes)
    best = start
    second_w = np.full(len(best), -np.inf)
    second_w[sizes > 1] = weight[best[sizes > 1] + 1]
    margin = weight[best] - second_w
    target = ri[best]
    accept = (weight[best] >= params.threshold) & (margin >= params.margin)
    out.loc[target, "weight"] = weight[best]
    out.loc[target, "margin"] = np.where(np.isfinite(margin), margin, np.nan)
    out.loc[target[accept], "atena_no"] = rows.atena[pi[best[accept]]]
    out.loc[target[accept], "decision"] = "probabilistic"
    review = ~accept
    out.loc[target[review], "reasons"] = np.where(
        weight[best[review]] < params.threshold, "below_threshold", "ambiguous"
    )
    # Review rows carry their best candidates and why they scored as they did.
    keep = (rank < params.review_candidates) & np.repeat(review, sizes)
    if keep.any():
        names = {f: params.levels(f) for f in FIELDS}
        k_ri, k_pi, k_w = ri[keep], pi[keep], weight[keep]
        k_lv = {f: levels[f][keep] for f in FIELDS}
        grouped: dict[int, list[dict[str, Any]]] = {}
        for j in range(len(k_ri)):
            entry: dict[str, Any] = {"atena_no": rows.atena[k_pi[j]], "weight": round(float(k_w[j]), 2)}
            for f in FIELDS:
                lv = int(k_lv[f][j])
                entry[f] = names[f][lv] if lv >= 0 else None
            grouped.setdefault(int(k_ri[j]), []).append(entry)
        idx = np.fromiter(grouped, dtype=np.int64)
        out.loc[idx, "candidates"] = [";".join(e["atena_no"] for e in grouped[i]) for i in idx]
        out.loc[idx, "scores"] = [json.dumps(grouped[i], ensure_ascii=False) for i in idx]
