"""VRS records (``VRS_RECORDS_YYYYMMDD.csv``, 予防接種台帳向け出力, vrs.md): one row per person, one
group of eight columns per dose, unpivoted at parse to one row per dose.

Each file row is resolved to a person exactly as vrs.md says:

1. ``個別宛名番号`` when present (it must name a person of the registry);
2. else every dose whose voucher we issued (``接種自治体コード`` = ours) is looked up in the
   subjects loaded; all must point to the same person;
3. doses on another municipality's voucher follow the row's person.

A row that cannot be resolved goes to review as one item with all its doses intact. The doses
of a resolved row are vaccine ``31`` (phase ``00``, dose number n) in ``doses``, maker as
``product_name`` and lot as ``lot_no``; the VRS attributes of each version in
``vrs_dose_details``. A dose is identified by person and dose number: the same values again
are a duplicate, other values (a corrected lot or date) a correction with history.

Counting unit: the dose (one per non-empty dose group), plus one per file row cut out at
parse (no dose at all, malformed). rows_read = accepted + quarantined + review + duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from vaxreg.feeds import ApplyContext, FileKind
from vaxreg.feeds.columns import drop_table, temp_table
from vaxreg.feeds.layout import FileRejected, Layout, home_municipality
from vaxreg.feeds.reader import read_header, received_json, scrub
from vaxreg.feeds.vrs_subjects import Outcome
from vaxreg.identity import dates, validators
from vaxreg.registry import db, ledger
from vaxreg.registry.db import bulk_insert, read_table
from vaxreg.rules.table import default_rules

VACCINE = "31"  # 新型コロナ（特例臨時）, vaccines.md
PHASE = "00"
CAMPAIGN_START = dt.date(2021, 2, 17)
DOSE_FIELDS = ("dose_date", "maker", "lot_no", "voucher_no", "voucher_municipality", "venue", "doctor")
_DOSE_SPAN = 1 << 20  # person code × span + dose number: one int64 key
VRS_ATENA = "個別宛名番号"
# One group of eight columns per dose n = 1, 2, … (vrs.md): header suffix -> internal name.
VRS_GROUP = {
    "接種履歴登録日時": "registered_at",
    "接種日": "dose_date",
    "券番号": "voucher",
    "接種自治体コード": "voucher_municipality",
    "接種会場名": "venue",
    "接種医師名": "doctor",
    "ワクチンメーカー": "maker",
    "ワクチンロット番号": "lot_no",
}
VRS_RECORDS_PATTERN = re.compile(r"VRS_RECORDS_(?P<date>[0-9]{8})\.csv")


def vrs_records_layout(groups: int) -> Layout:
    """The records layout (予防接種台帳向け出力) with ``groups`` dose groups, numbered 1..groups."""
    columns = [VRS_ATENA] + [f"{n}回目{suffix}" for n in range(1, groups + 1) for suffix in VRS_GROUP]
    rename = {VRS_ATENA: "atena_given"} | {
        f"{n}回目{suffix}": f"d{n}_{name}" for n in range(1, groups + 1) for suffix, name in VRS_GROUP.items()
    }
    return Layout(
        feed="vrs",
        kind="vrs_records",
        file_pattern=VRS_RECORDS_PATTERN,
        columns=tuple(columns),
        encoding="utf-8",
        rename=rename,
    )


_GROUP_HEADER = re.compile(r"([0-9]+)回目(.+)")


def vrs_dose_groups(header: Sequence[str], name: str = "") -> int:
    """How many dose groups a records header holds. Refuses (``FileRejected``) a header whose
    groups are not numbered 1..N without gaps, each with exactly its eight columns."""
    seen: dict[int, set[str]] = {}
    unknown = []
    for h in header:
        if h == VRS_ATENA:
            continue
        m = _GROUP_HEADER.fullmatch(h)
        if not m or m.group(2) not in VRS_GROUP or m.group(1).startswith("0"):
            unknown.append(h)
            continue
        seen.setdefault(int(m.group(1)), set()).add(m.group(2))
    prefix = f"{name}: " if name else ""
    if unknown:
        raise FileRejected(prefix + "unknown column(s) " + ", ".join(unknown))
    if VRS_ATENA not in header:
        raise FileRejected(prefix + f"missing column(s) {VRS_ATENA}")
    if not seen:
        raise FileRejected(prefix + "no dose group (1回目…) in the header")
    groups = max(seen)
    gaps = [n for n in range(1, groups + 1) if n not in seen]
    if gaps:
        raise FileRejected(
            prefix
            + "dose groups are not numbered without gaps (missing "
            + ", ".join(f"{n}回目" for n in gaps)
            + ")"
        )
    partial = [n for n, cols in sorted(seen.items()) if len(cols) != len(VRS_GROUP)]
    if partial:
        raise FileRejected(
            prefix
            + "incomplete dose group(s) "
            + ", ".join(f"{n}回目" for n in partial)
            + " (8 columns each)"
        )
    return groups


VRS_DOSE_FIELDS = tuple(VRS_GROUP.values())


def unpivot_vrs(table: pa.Table) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Wide VRS records (one row per person, ``d{n}_<field>`` per dose) → one row per dose.

    A group whose eight columns are all empty is no dose. Each dose row keeps the file's
    ``row_no``, ``atena_given`` and ``is_duplicate`` and gets ``dose_no`` = n. A file row with
    no dose at all is returned as cut out (``no_doses``). Columnar: one filter per group.
    """
    groups = sorted(
        {int(c[1:].split("_", 1)[0]) for c in table.column_names if re.fullmatch(r"d[0-9]+_.+", c)}
    )
    parts = []
    any_dose = pa.array([False] * table.num_rows)
    for n in groups:
        cols = [table.column(f"d{n}_{f}") for f in VRS_DOSE_FIELDS]
        present = pc.is_valid(cols[0])
        for c in cols[1:]:
            present = pc.or_(present, pc.is_valid(c))
        present = present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present
        any_dose = pc.or_(any_dose, present)
        part = pa.table(
            {
                "row_no": table.column("row_no"),
                "dose_no": pa.repeat(pa.scalar(n, pa.int32()), table.num_rows),
                "atena_given": table.column("atena_given"),
                **dict(zip(VRS_DOSE_FIELDS, cols, strict=True)),
                "is_duplicate": table.column("is_duplicate"),
            }
        ).filter(present)
        parts.append(part)
    long = pa.concat_tables(parts) if parts else pa.table({})
    long = long.sort_by([("row_no", "ascending"), ("dose_no", "ascending")])
    empty = table.filter(pc.invert(any_dose))
    rejected = [
        (int(r["row_no"]), "no_doses", received_json({"atena_given": r["atena_given"]}))
        for r in empty.select(["row_no", "atena_given"]).to_pylist()
    ]
    return long, rejected


RESTAGE_KEYS = {"dose_date": "dose_date_raw"}  # the staged column -> the key the review row keeps it as


def restage(raws: list[dict[str, Any]], row_nos: list[int], atena: list[str]) -> tuple[pa.Table, list[str]]:
    """The received rows of accepted review items (one per file row, its doses in ``doses``) as
    staged dose rows, and the decided person of each dose row."""
    data: dict[str, list[Any]] = {c: [] for c in ("row_no", "dose_no", "atena_given", *VRS_DOSE_FIELDS)}
    decided: list[str] = []
    for raw, row_no, a in zip(raws, row_nos, atena, strict=True):
        for d in raw.get("doses", []):
            data["row_no"].append(row_no)
            data["dose_no"].append(int(d["dose_no"]))
            data["atena_given"].append(_text(raw.get(VRS_ATENA)))
            for f in VRS_DOSE_FIELDS:
                data[f].append(_text(d.get(RESTAGE_KEYS.get(f, f))))
            decided.append(a)
    types = {"row_no": pa.int32(), "dose_no": pa.int32()}
    return pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in data.items()}), decided


def _text(v: Any) -> str | None:
    """A received value as the CSV reader gives it: text, empty as null."""
    if v is None:
        return None
    s = str(v)
    return s if s != "" else None


def derived_columns(table: pa.Table, name: str) -> pa.Table:
    """What the records suite checks besides the received text."""
    number, status = validators.voucher_numbers(table.column("voucher"), table.column("voucher_municipality"))
    code = table.column("voucher_municipality").combine_chunks()
    ts = dates.parse_compact_timestamps(table.column("registered_at"))
    return (
        table.append_column("voucher_no", number)
        .append_column("voucher__status", status)
        .append_column("voucher_municipality__check", pa.array(validators.municipality_code_valid_mask(code)))
        .append_column("registered_at__ts", ts)
        .append_column("registered_at__date", pc.floor_temporal(ts, unit="day"))
        .append_column("dose_date__date", dates.parse_compact_dates(table.column("dose_date")))
        .append_column(
            "campaign_start__date",
            pa.repeat(
                pa.scalar(dt.datetime.combine(CAMPAIGN_START, dt.time()), pa.timestamp("s")), table.num_rows
            ),
        )
    )


def _col(t: pa.Table, name: str) -> pa.Array:
    c = t.column(name)
    return c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c


def _keys_temp(conn: Connection, name: str, column: str, keys: pa.Array) -> None:
    temp_table(conn, name, {column: "VARCHAR(10) PRIMARY KEY"}, pa.table({column: keys.cast(pa.string())}))


def _person_states(conn: Connection, keys: pa.Array) -> pa.Table:
    """(atena_no, status, removed_date) of the persons among ``keys`` (distinct, non-null)."""
    cols = ["atena_no", "p_status", "p_removed"]
    if len(keys) == 0:
        return pa.table({c: pa.array([], pa.string()) for c in cols})
    _keys_temp(conn, "tmp_vrs_atena", "atena_no", keys)
    out = read_table(
        conn,
        "SELECT p.atena_no, p.status, CAST(p.removed_date AS TEXT) FROM persons p "
        "JOIN tmp_vrs_atena t ON t.atena_no = p.atena_no",
        cols,
    )
    drop_table(conn, "tmp_vrs_atena")
    return out


def _holders(conn: Connection, vouchers: pa.Array, home: str) -> pa.Table:
    """(voucher_no, holder) of our vouchers among ``vouchers`` (distinct, non-null) in the subjects."""
    cols = ["voucher_no", "holder"]
    if len(vouchers) == 0:
        return pa.table({c: pa.array([], pa.string()) for c in cols})
    _keys_temp(conn, "tmp_vrs_v", "voucher_no", vouchers)
    m = db.mark(conn)
    out = read_table(
        conn,
        "SELECT s.voucher_no, s.atena_no FROM vrs_subjects s "
        f"JOIN tmp_vrs_v t ON t.voucher_no = s.voucher_no WHERE s.municipality_code = {m}",
        cols,
        (home,),
    )
    drop_table(conn, "tmp_vrs_v")
    return out


def _existing_doses(conn: Connection, persons: pa.Array) -> pa.Table:
    """The current vaccine-31 doses of ``persons`` (distinct) with the VRS details of that version."""
    cols = ["id", "atena_no", "dose_no", "version", *DOSE_FIELDS]
    types = {"id": pa.int64(), "dose_no": pa.int64(), "version": pa.int64()}
    if len(persons) == 0:
        return pa.table({c: pa.array([], types.get(c, pa.string())) for c in cols})
    _keys_temp(conn, "tmp_vrs_hist", "atena_no", persons)
    out = read_table(
        conn,
        "SELECT d.id, d.atena_no, d.dose_no, d.version, CAST(d.dose_date AS TEXT), d.product_name, d.lot_no, "
        "v.voucher_no, v.voucher_municipality, v.venue, v.doctor FROM doses d "
        "JOIN tmp_vrs_hist t ON t.atena_no = d.atena_no "
        "LEFT JOIN vrs_dose_details v ON v.dose_id = d.id AND v.version = d.version "
        f"WHERE d.vaccine_code = '{VACCINE}' AND d.phase = '{PHASE}'",
        cols,
        types=types,
    )
    drop_table(conn, "tmp_vrs_hist")
    return out


def _null_equal(a: pa.Array, b: pa.Array) -> np.ndarray:
    """Element-wise equality where two nulls are equal (as _same on frames)."""
    eq = pc.fill_null(pc.equal(a, b), False)
    both = pc.and_(pc.is_null(a), pc.is_null(b))
    return np.asarray(pc.or_(eq, both).to_numpy(zero_copy_only=False), dtype=bool)


def _first_in_group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is the first of its key in order, belongs to a key seen more than once) per position."""
    order = np.argsort(keys, kind="stable")
    s = keys[order]
    start = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, dtype=bool)
    grp = np.cumsum(start) - 1
    sizes = np.bincount(grp) if len(s) else np.zeros(0, dtype=np.int64)
    first = np.empty(len(keys), dtype=bool)
    first[order] = start
    multi = np.empty(len(keys), dtype=bool)
    multi[order] = sizes[grp] > 1 if len(s) else np.zeros(0, dtype=bool)
    return first, multi


def _resolve_rows(
    conn: Connection,
    atena_given: pa.Array,
    doses: pa.Table,
    dose_row: np.ndarray,
    n_rows: int,
    decided: pa.Array | None = None,
) -> tuple[pa.Array, np.ndarray, np.ndarray, pa.Table]:
    """Per file row (not an exact duplicate): (person or null, review reason, candidates) as vrs.md
    says; also the person states of every person named (given, holder or decided).

    ``doses``: the non-duplicate doses (voucher_no, voucher_municipality, voucher__status),
    ``dose_row``: the index of each one's file row in ``atena_given``. ``decided``: per file row,
    the person a reviewer decided (an accepted review item) or null; it overrides resolution
    (no review reason); the person is null when the decided one is not in the registry."""
    given = np.asarray(pc.is_valid(atena_given).to_numpy(zero_copy_only=False), dtype=bool)
    well = np.asarray(
        pc.fill_null(pc.match_substring_regex(atena_given, r"^[0-9]{10}$"), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    home = home_municipality()
    # Our valid vouchers of the rows without 個別宛名番号.
    ours = (
        ~given[dose_row]
        & np.asarray(pc.fill_null(pc.equal(_col(doses, "voucher_municipality"), home), False), dtype=bool)
        & np.asarray(pc.fill_null(pc.equal(_col(doses, "voucher__status"), "valid"), False), dtype=bool)
    )
    ours_idx = np.flatnonzero(ours)
    ours_v = _col(doses, "voucher_no").take(pa.array(ours_idx))
    found = _holders(conn, pc.unique(ours_v.drop_null()), home)
    pos = pc.index_in(ours_v, value_set=_col(found, "voucher_no"))
    holder = _col(found, "holder").take(pos)
    named = pa.concat_arrays([atena_given.filter(pa.array(well)), holder.drop_null()]).cast(pa.string())
    if decided is not None:
        named = pa.concat_arrays([named, decided.drop_null().cast(pa.string())])
    states = _person_states(conn, pc.unique(named))
    known = np.asarray(pc.is_in(atena_given, value_set=_col(states, "atena_no")), dtype=bool) & well

    reason = np.full(n_rows, "", dtype=object)
    reason[given & ~well] = "atena_no_format"
    reason[well & ~known] = "atena_no_unknown"
    candidates = np.full(n_rows, "", dtype=object)
    person = pc.if_else(pa.array(known), atena_given, pa.nulls(n_rows, pa.string()))

    by_voucher = ~given
    o_row = dose_row[ours_idx]
    has_holder = np.asarray(pc.is_valid(holder), dtype=bool)
    n_ours = np.bincount(o_row, minlength=n_rows)
    n_found = np.bincount(o_row[has_holder], minlength=n_rows)
    # Distinct holders per row: a (row, holder) pair is new when first seen.
    h_rows = o_row[has_holder]
    h_codes = np.asarray(pc.index_in(holder.filter(pa.array(has_holder)), value_set=pc.unique(holder)))
    pair = h_rows.astype(np.int64) * (len(h_codes) + 1) + h_codes
    first_pair, _ = _first_in_group(pair)
    distinct = np.bincount(h_rows[first_pair], minlength=n_rows)
    one = np.full(n_rows, -1, dtype=np.int64)
    one[h_rows[first_pair]] = np.flatnonzero(has_holder)[first_pair]  # some holder of the row
    holder_np = holder.to_numpy(zero_copy_only=False) if len(holder) else np.zeros(0, dtype=object)
    single = by_voucher & (distinct == 1)
    candidates[single] = holder_np[one[single]]
    many = np.flatnonzero(by_voucher & (distinct > 1))
    if len(many):
        sel = np.isin(h_rows, many)
        hv = holder_np[np.flatnonzero(has_holder)[sel]]
        sets: dict[int, set[str]] = {}
        for r, h in zip(h_rows[sel], hv, strict=True):
            sets.setdefault(int(r), set()).add(h)
        candidates[many] = [";".join(sorted(sets[int(r)])) for r in many]
    reason[by_voucher] = np.where(
        n_ours[by_voucher] == 0,
        "no_atena_no_nor_own_voucher",
        np.where(
            n_found[by_voucher] < n_ours[by_voucher],
            "voucher_unknown",
            np.where(distinct[by_voucher] > 1, "vouchers_disagree", ""),
        ),
    )
    resolved = by_voucher & (reason == "")
    person = pc.if_else(pa.array(resolved), pa.array(candidates, pa.string()), person)
    if decided is not None:  # a reviewer's decision overrides the resolution above
        is_decided = np.asarray(pc.is_valid(decided).to_numpy(zero_copy_only=False), dtype=bool)
        exists = np.asarray(pc.is_in(decided, value_set=_col(states, "atena_no")), dtype=bool) & is_decided
        reason[is_decided] = ""
        candidates[is_decided] = ""
        person = pc.if_else(
            pa.array(is_decided),
            pc.if_else(pa.array(exists), decided.cast(pa.string()), pa.nulls(n_rows, pa.string())),
            person,
        )
    return person, reason, candidates, states


def _match_existing(
    person: pa.Array, dose_no: np.ndarray, fields: dict[str, pa.Array], existing: pa.Table
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per dose (person, dose number unique here): (id or -1, version of the current, unchanged)."""
    k = len(person)
    ids = np.full(k, -1, dtype=np.int64)
    versions = np.zeros(k, dtype=np.int64)
    unchanged = np.zeros(k, dtype=bool)
    if existing.num_rows == 0 or k == 0:
        return ids, versions, unchanged
    e_person = _col(existing, "atena_no")
    value_set = pc.unique(person)
    dose_key = np.asarray(pc.index_in(person, value_set=value_set), dtype=np.int64) * _DOSE_SPAN + dose_no
    e_code = pc.index_in(e_person, value_set=value_set)
    keep = np.asarray(pc.is_valid(e_code), dtype=bool)
    e_dose = _col(existing, "dose_no").to_numpy()
    e_key = np.asarray(pc.fill_null(e_code, 0), dtype=np.int64) * _DOSE_SPAN + e_dose
    e_idx = np.flatnonzero(keep)
    e_key = e_key[e_idx]
    if len(np.unique(e_key)) != len(e_key):
        raise FileRejected("several current vaccine-31 doses share a person and dose number")
    order = np.argsort(e_key)
    pos = np.searchsorted(e_key[order], dose_key)
    pos = np.minimum(pos, max(len(e_key) - 1, 0))
    hit = np.zeros(k, dtype=bool)
    if len(e_key):
        hit = e_key[order][pos] == dose_key
    at = e_idx[order][pos[hit]]
    sub = existing.take(pa.array(at))
    ids[hit] = _col(sub, "id").to_numpy()
    versions[hit] = _col(sub, "version").to_numpy()
    hit_idx = np.flatnonzero(hit)
    same = np.ones(len(hit_idx), dtype=bool)
    for f in DOSE_FIELDS:
        same &= _null_equal(
            fields[f].take(pa.array(hit_idx)).cast(pa.string()), _col(sub, f).cast(pa.string())
        )
    unchanged[hit_idx] = same
    return ids, versions, unchanged


def apply_records(
    conn: Connection,
    staged: pa.Table,
    *,
    manifest_id: int,
    file_name: str,
    rejected: list[tuple[int, str, str]],
    actor: ledger.Actor,
    decided_atena: pa.Array | None = None,
) -> Outcome:
    """Columnar (pyarrow/numpy): no frame of the doses, no Python object per dose.

    ``decided_atena`` (one per staged row, null for none): the person a reviewer decided for the
    row (an accepted review item, :mod:`vaxreg.registry.review`). It replaces the resolution by
    個別宛名番号 and vouchers; everything else (person state, dose identity, schedule, audit) is
    as for any row. The doses of one file row share one decision (the first dose's is taken)."""
    n = staged.num_rows
    row_no = _col(staged, "row_no").to_numpy().astype(np.int64)
    rows_u, first, dose_row = np.unique(row_no, return_index=True, return_inverse=True)
    dose_row = dose_row.reshape(-1)
    n_rows = len(rows_u)
    out = Outcome(rows_read=n + len(rejected), file_rows=n_rows + len(rejected))
    dup = np.asarray(_col(staged, "is_duplicate").to_numpy(zero_copy_only=False), dtype=bool)
    has_reason = np.asarray(
        pc.not_equal(_col(staged, "reasons"), "").to_numpy(zero_copy_only=False), dtype=bool
    )
    duplicate = dup.copy()
    now = ledger.now_text()

    # 1. The person of each row (exact-duplicate rows are not resolved).
    row_dup = dup[first]
    live_rows = ~row_dup
    atena_given = _col(staged, "atena_given").take(pa.array(first)).cast(pa.string())
    atena_given = pc.if_else(pa.array(live_rows), atena_given, pa.nulls(n_rows, pa.string()))
    nd = np.flatnonzero(~dup)
    nd_doses = staged.select(["voucher_no", "voucher_municipality", "voucher__status"]).take(pa.array(nd))
    decided_row = None
    if decided_atena is not None:
        if len(decided_atena) != n:
            raise ValueError(f"decided_atena has {len(decided_atena)} values for {n} staged rows")
        decided_row = decided_atena.cast(pa.string()).take(pa.array(first))
        decided_row = pc.if_else(pa.array(live_rows), decided_row, pa.nulls(n_rows, pa.string()))
    person_row, row_reason, candidates, states = _resolve_rows(
        conn, atena_given, nd_doses, dose_row[nd], n_rows, decided_row
    )
    del nd_doses
    row_reason[row_dup] = ""
    person_row = pc.if_else(pa.array(live_rows), person_row, pa.nulls(n_rows, pa.string()))
    to_review = ~dup & (row_reason[dose_row] != "")
    live = ~dup & ~to_review & ~has_reason
    quarantined = ~dup & ~to_review & has_reason
    reason = np.full(n, "", dtype=object)
    if decided_row is not None:  # decided, but that person is not (or no longer) in the registry
        gone_row = np.asarray(
            pc.and_(pc.is_valid(decided_row), pc.is_null(person_row)).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        gone = live & gone_row[dose_row]
        reason[gone] = "decided_person_unknown"
        quarantined |= gone
        live &= ~gone

    # 2. Person state: no dose after death.
    live_idx = np.flatnonzero(live)
    person_live = person_row.take(pa.array(dose_row[live_idx]))
    at = pc.index_in(person_live, value_set=_col(states, "atena_no"))
    status = _col(states, "p_status").take(at)
    removed = pc.cast(_col(states, "p_removed").take(at), pa.date32())
    dose_ts = _col(staged, "dose_date__date").take(pa.array(live_idx))
    dose_day = pc.cast(dose_ts, pa.date32())
    dead_l = np.asarray(
        pc.fill_null(pc.and_(pc.equal(status, "deceased"), pc.greater(dose_day, removed)), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    reason[live_idx[dead_l]] = "dose_after_death"
    quarantined[live_idx[dead_l]] = True
    live[live_idx[dead_l]] = False

    # 3. Dose identity: in the file, then the registry (person, dose number).
    d_idx = np.flatnonzero(live)
    d_person = person_row.take(pa.array(dose_row[d_idx]))
    d_dose_no = _col(staged, "dose_no").to_numpy().astype(np.int64)[d_idx]
    d_ts = _col(staged, "dose_date__date").take(pa.array(d_idx))
    fields: dict[str, pa.Array] = {"dose_date": pc.strftime(d_ts, format="%Y-%m-%d")}
    for f in DOSE_FIELDS[1:]:
        fields[f] = _col(staged, f).take(pa.array(d_idx)).cast(pa.string())
    p_codes = np.asarray(pc.index_in(d_person, value_set=pc.unique(d_person)), dtype=np.int64)
    key = p_codes * _DOSE_SPAN + d_dose_no
    _, multi = _first_in_group(key)
    keep = np.ones(len(d_idx), dtype=bool)
    if multi.any():  # several doses of one person and dose number: the same again, or a conflict
        m_idx = np.flatnonzero(multi)
        frame = pd.DataFrame(
            {"key": key[m_idx]} | {f: fields[f].take(pa.array(m_idx)).to_pandas() for f in DOSE_FIELDS}
        )
        same = frame.duplicated(["key", *DOSE_FIELDS], keep="first").to_numpy()
        duplicate[d_idx[m_idx[same]]] = True
        keep[m_idx[same]] = False
        rest = frame[~same]
        conflict = rest.duplicated(["key"], keep=False).to_numpy()
        c_idx = m_idx[~same][conflict]
        reason[d_idx[c_idx]] = "conflicting_records_in_file"
        quarantined[d_idx[c_idx]] = True
        keep[c_idx] = False
    w_sel = np.flatnonzero(keep)
    d_idx, d_person, d_dose_no = d_idx[w_sel], d_person.take(pa.array(w_sel)), d_dose_no[w_sel]
    fields = {f: v.take(pa.array(w_sel)) for f, v in fields.items()}

    existing = _existing_doses(conn, pc.unique(d_person))
    ids, versions, unchanged = _match_existing(d_person, d_dose_no, fields, existing)
    del existing
    duplicate[d_idx[unchanged]] = True
    w = np.flatnonzero(~unchanged)
    d_idx, d_person, d_dose_no = d_idx[w], d_person.take(pa.array(w)), d_dose_no[w]
    fields = {f: v.take(pa.array(w)) for f, v in fields.items()}
    ids, versions = ids[w], versions[w]
    is_corr = ids >= 0
    off = _off_schedule(
        np.asarray(
            _col(staged, "dose_date__date")
            .take(pa.array(d_idx))
            .cast(pa.date32())
            .to_numpy(zero_copy_only=False),
            dtype="datetime64[D]",
        ),
        d_dose_no,
    )

    decided_by = f"{actor.dag_id}/{actor.run_id}/{actor.task_id}"
    _write_doses(
        conn,
        staged,
        d_idx,
        d_person,
        d_dose_no,
        fields,
        ids,
        versions,
        off,
        manifest_id,
        decided_by,
        now,
    )

    # Audit: one record per person and action (the doses are named in the detail).
    if len(d_idx):
        a = pa.table(
            {
                "person": d_person,
                "n": pa.array(d_dose_no).cast(pa.string()),
                "ord": pa.array(np.arange(len(d_idx))),
            }
        )
        for action, mask in (("insert", ~is_corr), ("update", is_corr)):
            if not mask.any():
                continue
            g = (
                a.filter(pa.array(mask))
                .sort_by("ord")
                .group_by("person", use_threads=False)
                .aggregate([("n", "list")])
                .sort_by("person")
            )
            joined = pc.binary_join(g.column("n_list"), ",")
            detail = pc.binary_join_element_wise(
                pa.scalar(file_name + f" vaccine={VACCINE} doses="), joined, ""
            )
            k = g.num_rows
            ledger.write_audit(
                conn,
                actor,
                action=action,
                table_name="doses",
                atena_no=g.column("person").to_pylist(),
                fields_changed=["*" if action == "insert" else "dose"] * k,
                detail=detail.to_pylist(),
            )

    # Review: one item per unresolvable row, its doses intact.
    rv = np.flatnonzero(row_reason != "")
    review = None
    if len(rv):
        received = [
            "dose_no",
            "registered_at",
            "dose_date_raw",
            "voucher",
            "voucher_municipality",
            "venue",
            "doctor",
            "maker",
            "lot_no",
        ]
        t_idx = np.flatnonzero(to_review)
        sub = staged.select(["row_no", *[c if c != "dose_date_raw" else "dose_date" for c in received]])
        recs = sub.take(pa.array(t_idx)).to_pylist()
        by_row: dict[int, list[dict[str, object]]] = {}
        for rec in recs:
            item = {k: rec["dose_date" if k == "dose_date_raw" else k] for k in received}
            item["dose_no"] = int(item["dose_no"])
            by_row.setdefault(int(rec["row_no"]), []).append(item)
        rv = np.array([i for i in rv if int(rows_u[i]) in by_row], dtype=np.int64)
        given_rv = atena_given.take(pa.array(rv)).to_pylist()
        raws = [
            scrub(json.dumps({"個別宛名番号": a_, "doses": by_row[int(rows_u[i])]}, ensure_ascii=False))
            for i, a_ in zip(rv, given_rv, strict=True)
        ]
        review = ledger.ForReview(
            row_nos=rows_u[rv].tolist(),
            reasons=list(row_reason[rv]),
            candidates=list(candidates[rv]),
            raws=raws,
            units=int(to_review.sum()),
        )

    # Quarantine: one entry per file row, the reasons of its doses as "<n>回目:<code>".
    q_idx = np.flatnonzero(quarantined)
    from_suite = q_idx[reason[q_idx] == ""]
    if len(from_suite):
        reason[from_suite] = _col(staged, "reasons").take(pa.array(from_suite)).to_pylist()
    q_rows: dict[int, tuple[list[str], list[str]]] = {}
    q_dose = _col(staged, "dose_no").take(pa.array(q_idx)).to_pylist()
    for r, dn, code in zip(row_no[q_idx].tolist(), q_dose, reason[q_idx], strict=True):
        tags, nos = q_rows.setdefault(r, ([], []))
        tags.append(f"{dn}回目:" + str(code).replace(";", ","))
        nos.append(str(dn))
    q_keys = sorted(q_rows)
    raws = [scrub(json.dumps({"doses": ",".join(q_rows[r][1])}, ensure_ascii=False)) for r in q_keys]
    out.accepted = len(d_idx)
    out.corrections = int(is_corr.sum())
    out.off_schedule = int((off != "").sum())
    out.duplicates = int(duplicate.sum())
    return ledger.close_file(
        conn,
        actor,
        feed="vrs",
        file_name=file_name,
        manifest_id=manifest_id,
        out=out,
        quarantined=ledger.Quarantined(
            row_nos=q_keys,
            reasons=[";".join(q_rows[r][0]) for r in q_keys],
            raws=raws,
            units=int(quarantined.sum()),
        ),
        rejected=rejected,
        review=review,
    )


def _write_doses(
    conn: Connection,
    staged: pa.Table,
    d_idx: np.ndarray,
    person: pa.Array,
    dose_no: np.ndarray,
    fields: dict[str, pa.Array],
    ids: np.ndarray,
    old_version: np.ndarray,
    off: np.ndarray,
    manifest_id: int,
    decided_by: str,
    now: str,
) -> None:
    """New doses in bulk; corrections: current version to dose_history, then replaced (same id,
    version + 1); then the VRS details of every version written."""
    k = len(d_idx)
    if k == 0:
        return
    is_corr = ids >= 0
    cols = ["id", "atena_no", "vaccine_code", "phase", "dose_no", "dose_date", "product_name", "lot_no"]
    cols += ["institution_code", "place_code", "self_pay_declared", "source", "manifest_id", "row_no"]
    cols += ["off_schedule", "flags", "version", "decided_by", "recorded_at"]
    if is_corr.any():
        temp_table(
            conn,
            "tmp_vrs_fix",
            {"id": "BIGINT PRIMARY KEY"},
            pa.table({"id": pa.array(ids[is_corr], pa.int64())}),
        )
        rest = [c for c in cols if c != "id"]
        conn.exec_driver_sql(
            f"INSERT INTO dose_history (dose_id, {', '.join(rest)}, superseded_at, superseded_by) "
            f"SELECT d.id, {', '.join('d.' + c for c in rest)}, '{now}', {int(manifest_id)} "
            "FROM doses d JOIN tmp_vrs_fix t ON t.id = d.id"
        )
        conn.exec_driver_sql("DELETE FROM doses WHERE id IN (SELECT id FROM tmp_vrs_fix)")
        drop_table(conn, "tmp_vrs_fix")
    version = np.where(is_corr, old_version + 1, 1)
    row_no = _col(staged, "row_no").take(pa.array(d_idx)).cast(pa.int64())
    table = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "atena_no": person,
            "vaccine_code": pa.repeat(pa.scalar(VACCINE, pa.string()), k),
            "phase": pa.repeat(pa.scalar(PHASE, pa.string()), k),
            "dose_no": pa.array(dose_no, pa.int64()),
            "dose_date": fields["dose_date"],
            "product_name": fields["maker"],
            "lot_no": fields["lot_no"],
            "source": pa.repeat(pa.scalar("vrs", pa.string()), k),
            "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
            "row_no": row_no,
            "off_schedule": pc.if_else(
                pa.array(off == ""), pa.scalar(None, pa.string()), pa.array(off, pa.string())
            ),
            "version": pa.array(version, pa.int64()),
            "decided_by": pa.repeat(pa.scalar(decided_by, pa.string()), k),
            "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
        }
    )
    if is_corr.any():
        bulk_insert(conn, "doses", table.filter(pa.array(is_corr)))
    if (~is_corr).any():
        bulk_insert(conn, "doses", table.filter(pa.array(~is_corr)).drop_columns(["id"]))
    del table
    # The VRS details of what was just written (new and corrected doses carry this manifest id),
    # joined to their doses in the database, in the order of the doses.
    sel = pa.array(np.arange(k))
    ts = _col(staged, "registered_at__ts").take(pa.array(d_idx)).cast(pa.timestamp("s"))
    temp_table(
        conn,
        "tmp_vrs_details",
        {
            "ord": "BIGINT",
            "atena_no": "VARCHAR(10)",
            "dose_no": "INTEGER",
            "registered_at": "VARCHAR(19)",
            "voucher_no": "VARCHAR(10)",
            "voucher_municipality": "VARCHAR(6)",
            "venue": "TEXT",
            "doctor": "TEXT",
            "row_no": "INTEGER",
        },
        pa.table(
            {
                "ord": sel,
                "atena_no": person,
                "dose_no": pa.array(dose_no, pa.int64()),
                "registered_at": pc.strftime(ts, format="%Y-%m-%d %H:%M:%S"),
                "voucher_no": fields["voucher_no"],
                "voucher_municipality": fields["voucher_municipality"],
                "venue": fields["venue"],
                "doctor": fields["doctor"],
                "row_no": row_no,
            }
        ),
    )
    cast = "CAST(t.registered_at AS TIMESTAMP)" if conn.dialect.name != "sqlite" else "t.registered_at"
    conn.exec_driver_sql(
        "INSERT INTO vrs_dose_details (dose_id, version, registered_at, voucher_no, voucher_municipality, "
        "venue, doctor, manifest_id, row_no) "
        f"SELECT d.id, d.version, {cast}, t.voucher_no, t.voucher_municipality, t.venue, t.doctor, "
        f"{int(manifest_id)}, t.row_no FROM tmp_vrs_details t JOIN doses d ON d.atena_no = t.atena_no "
        f"AND d.dose_no = t.dose_no AND d.manifest_id = {int(manifest_id)} AND d.source = 'vrs' "
        "ORDER BY t.ord"
    )
    drop_table(conn, "tmp_vrs_details")


def _off_schedule(dose_date: np.ndarray, dose_no: np.ndarray) -> np.ndarray:
    """The special campaign's rules from the reviewed rules file: period in force and dose count."""
    rules = default_rules().rules
    r = rules[(rules["vaccine"] == VACCINE) & (rules["phase"] == PHASE)]
    in_force = np.zeros(len(dose_date), dtype=bool)
    too_many = np.zeros(len(dose_date), dtype=bool)
    for rule in r.itertuples():
        hit = (dose_date >= rule.eff_from) & (dose_date <= rule.eff_to)
        in_force |= hit
        too_many |= hit & (dose_no > int(str(rule.doses)))
    return np.where(~in_force, "no_routine_rule_on_date", np.where(too_many, "dose_count_exceeded", ""))


def apply(conn: Connection, staged: pa.Table, ctx: ApplyContext) -> Outcome:
    return apply_records(
        conn,
        staged,
        manifest_id=ctx.manifest_id,
        file_name=ctx.file_name,
        rejected=ctx.rejected,
        actor=ctx.actor,
        decided_atena=ctx.decided_atena,
    )


def header_layout(path: Path, name: str) -> Layout:
    """The records layout of this file's header (any number of dose groups)."""
    return vrs_records_layout(vrs_dose_groups(read_header(path, "utf-8"), name))


VALIDATION_SLICE = 500_000  # rows per GX run of the VRS records: bounded memory
KIND = FileKind(
    layout=vrs_records_layout(1),
    suite="vrs_records",
    apply=apply,
    derive=derived_columns,
    reshape=unpivot_vrs,
    restage=restage,
    header_layout=header_layout,
    validate_slice=VALIDATION_SLICE,
)
