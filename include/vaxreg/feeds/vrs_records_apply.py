"""Applying the VRS records (``VRS_RECORDS_YYYYMMDD.csv``, vrs.md), unpivoted at parse to one row
per dose (:mod:`vaxreg.feeds.vrs_records`), in named steps.

1. **Resolve persons**: each file row is resolved to a person exactly as vrs.md says:
   ``個別宛名番号`` when present (it must name a person of the registry); else every dose whose
   voucher we issued (``接種自治体コード`` = ours) is looked up in the subjects loaded, and all
   must point to the same person; doses on another municipality's voucher follow the row's
   person. A row that cannot be resolved goes to review as one item with all its doses intact.
2. **Person state**: a dose after the person's death is quarantined.
3. **Dose identity**: a dose is identified by person and dose number: the same values again are
   a duplicate, other values (a corrected lot or date) a correction with history.
4. **Schedule**: the special campaign's period and dose count (:func:`_off_schedule`).
5. **Write** the doses: vaccine ``31`` (phase ``00``, dose number n) in ``doses``, maker as
   ``product_name`` and lot as ``lot_no``; the VRS attributes of each version in
   ``vrs_dose_details``; one audit record per person and action.

Counting unit: the dose (one per non-empty dose group), plus one per file row cut out at
parse (no dose at all, malformed). rows_read = accepted + quarantined + review + duplicates.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from vaxreg.feeds import ApplyContext
from vaxreg.feeds.columns import combined, drop_table, temp_table
from vaxreg.feeds.layout import FileRejected, home_municipality
from vaxreg.feeds.reader import scrub
from vaxreg.feeds.vrs_records_store import DOSE_FIELDS, PHASE, VACCINE, Writes, audit_doses, write_doses
from vaxreg.feeds.vrs_subjects import Outcome
from vaxreg.registry import db, ledger
from vaxreg.registry.db import read_table
from vaxreg.rules.table import default_rules

_DOSE_SPAN = 1 << 20  # person code × span + dose number: one int64 key


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
        & np.asarray(pc.fill_null(pc.equal(combined(doses, "voucher_municipality"), home), False), dtype=bool)
        & np.asarray(pc.fill_null(pc.equal(combined(doses, "voucher__status"), "valid"), False), dtype=bool)
    )
    ours_idx = np.flatnonzero(ours)
    ours_v = combined(doses, "voucher_no").take(pa.array(ours_idx))
    found = _holders(conn, pc.unique(ours_v.drop_null()), home)
    pos = pc.index_in(ours_v, value_set=combined(found, "voucher_no"))
    holder = combined(found, "holder").take(pos)
    named = pa.concat_arrays([atena_given.filter(pa.array(well)), holder.drop_null()]).cast(pa.string())
    if decided is not None:
        named = pa.concat_arrays([named, decided.drop_null().cast(pa.string())])
    states = _person_states(conn, pc.unique(named))
    known = np.asarray(pc.is_in(atena_given, value_set=combined(states, "atena_no")), dtype=bool) & well

    reason = np.full(n_rows, "", dtype=object)
    reason[given & ~well] = "atena_no_format"
    reason[well & ~known] = "atena_no_unknown"
    candidates = np.full(n_rows, "", dtype=object)
    person = pc.if_else(pa.array(known), atena_given, pa.nulls(n_rows, pa.string()))

    by_voucher = ~given
    _resolve_by_vouchers(holder, dose_row[ours_idx], by_voucher, reason, candidates)
    resolved = by_voucher & (reason == "")
    person = pc.if_else(pa.array(resolved), pa.array(candidates, pa.string()), person)
    if decided is not None:  # a reviewer's decision overrides the resolution above
        is_decided = np.asarray(pc.is_valid(decided).to_numpy(zero_copy_only=False), dtype=bool)
        exists = (
            np.asarray(pc.is_in(decided, value_set=combined(states, "atena_no")), dtype=bool) & is_decided
        )
        reason[is_decided] = ""
        candidates[is_decided] = ""
        person = pc.if_else(
            pa.array(is_decided),
            pc.if_else(pa.array(exists), decided.cast(pa.string()), pa.nulls(n_rows, pa.string())),
            person,
        )
    return person, reason, candidates, states


def _resolve_by_vouchers(
    holder: pa.Array, o_row: np.ndarray, by_voucher: np.ndarray, reason: np.ndarray, candidates: np.ndarray
) -> None:
    """vrs.md for the file rows without 個別宛名番号 (``by_voucher``): the holders of our vouchers
    in the subjects (``holder``, null when not there; ``o_row``: each voucher's file row) must
    all be one person. Sets each such row's ``reason`` (``no_atena_no_nor_own_voucher``,
    ``voucher_unknown``, ``vouchers_disagree``, or ``""`` resolved) and its ``candidates`` (the
    holders found, ``;``-joined)."""
    n_rows = len(reason)
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
    e_person = combined(existing, "atena_no")
    value_set = pc.unique(person)
    dose_key = np.asarray(pc.index_in(person, value_set=value_set), dtype=np.int64) * _DOSE_SPAN + dose_no
    e_code = pc.index_in(e_person, value_set=value_set)
    keep = np.asarray(pc.is_valid(e_code), dtype=bool)
    e_dose = combined(existing, "dose_no").to_numpy()
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
    ids[hit] = combined(sub, "id").to_numpy()
    versions[hit] = combined(sub, "version").to_numpy()
    hit_idx = np.flatnonzero(hit)
    same = np.ones(len(hit_idx), dtype=bool)
    for f in DOSE_FIELDS:
        same &= _null_equal(
            fields[f].take(pa.array(hit_idx)).cast(pa.string()), combined(sub, f).cast(pa.string())
        )
    unchanged[hit_idx] = same
    return ids, versions, unchanged


@dataclasses.dataclass
class _Doses:
    """Per staged dose (aligned with ``staged``), what the apply step has decided so far.

    A dose stays ``live`` while it may still reach the registry; once out of it, it is
    ``quarantined`` (its ``reason`` code, else the suite's reasons), in review with its file row
    (``to_review``) or a ``duplicate``. The file rows are ``rows_u`` (distinct ``row_no``);
    ``dose_row`` is each dose's file row there and ``first`` each file row's first dose."""

    staged: pa.Table
    row_no: np.ndarray
    rows_u: np.ndarray
    first: np.ndarray
    dose_row: np.ndarray
    dup: np.ndarray  # an exact duplicate of an earlier file row (parse)
    has_reason: np.ndarray  # the suite's reason codes
    duplicate: np.ndarray
    live: np.ndarray
    quarantined: np.ndarray
    to_review: np.ndarray
    reason: np.ndarray  # quarantine reason code, "" none (the suite's reasons are filled in at the end)


@dataclasses.dataclass(frozen=True)
class _RowPersons:
    """Per file row: the person its doses go to (null: none), the review reason (``""`` none)
    and candidates; the given 個別宛名番号; the states of every person named."""

    person: pa.Array
    reason: np.ndarray
    candidates: np.ndarray
    atena_given: pa.Array
    states: pa.Table


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
    """Apply one validated records file (or the accepted review items of one) inside the caller's
    transaction. Columnar (pyarrow/numpy): no frame of the doses, no Python object per dose.

    ``decided_atena`` (one per staged row, null for none): the person a reviewer decided for the
    row (an accepted review item, :mod:`vaxreg.registry.review`). It replaces the resolution by
    個別宛名番号 and vouchers; everything else (person state, dose identity, schedule, audit) is
    as for any row. The doses of one file row share one decision (the first dose's is taken)."""
    doses = _dose_rows(staged)
    n_rows = len(doses.rows_u)
    out = Outcome(rows_read=staged.num_rows + len(rejected), file_rows=n_rows + len(rejected))
    now = ledger.now_text()
    persons = _resolve_persons(conn, doses, decided_atena)
    _check_person_state(doses, persons)
    w = _dose_identity(conn, doses, persons)
    off = _off_schedule(_dose_days(staged, w.idx), w.dose_no)
    decided_by = f"{actor.dag_id}/{actor.run_id}/{actor.task_id}"
    write_doses(conn, staged, w, off, manifest_id, decided_by, now)
    audit_doses(conn, actor, w, file_name)
    is_corr = w.ids >= 0
    out.accepted = len(w.idx)
    out.corrections = int(is_corr.sum())
    out.off_schedule = int((off != "").sum())
    out.duplicates = int(doses.duplicate.sum())
    return ledger.close_file(
        conn,
        actor,
        feed="vrs",
        file_name=file_name,
        manifest_id=manifest_id,
        out=out,
        quarantined=_quarantined(doses),
        rejected=rejected,
        review=_for_review(doses, persons),
    )


def _dose_rows(staged: pa.Table) -> _Doses:
    """The staged doses grouped by file row, with what parse and suite decided."""
    row_no = combined(staged, "row_no").to_numpy().astype(np.int64)
    rows_u, first, dose_row = np.unique(row_no, return_index=True, return_inverse=True)
    dup = np.asarray(combined(staged, "is_duplicate").to_numpy(zero_copy_only=False), dtype=bool)
    has_reason = np.asarray(
        pc.not_equal(combined(staged, "reasons"), "").to_numpy(zero_copy_only=False), dtype=bool
    )
    n = staged.num_rows
    return _Doses(
        staged=staged,
        row_no=row_no,
        rows_u=rows_u,
        first=first,
        dose_row=dose_row.reshape(-1),
        dup=dup,
        has_reason=has_reason,
        duplicate=dup.copy(),
        live=~dup & ~has_reason,
        quarantined=~dup & has_reason,
        to_review=np.zeros(n, dtype=bool),
        reason=np.full(n, "", dtype=object),
    )


def _resolve_persons(conn: Connection, doses: _Doses, decided_atena: pa.Array | None) -> _RowPersons:
    """Step 1, the person of each file row (exact-duplicate rows are not resolved), as vrs.md
    says (:func:`_resolve_rows`). The doses of a row that cannot be resolved go to review
    together; a dose with the suite's reasons is quarantined; a row a reviewer decided for a
    person no longer in the registry is quarantined (``decided_person_unknown``)."""
    staged, dup, first, dose_row = doses.staged, doses.dup, doses.first, doses.dose_row
    n, n_rows = staged.num_rows, len(doses.rows_u)
    row_dup = dup[first]
    live_rows = ~row_dup
    atena_given = combined(staged, "atena_given").take(pa.array(first)).cast(pa.string())
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
    doses.to_review = ~dup & (row_reason[dose_row] != "")
    doses.live &= ~doses.to_review
    doses.quarantined &= ~doses.to_review
    if decided_row is not None:  # decided, but that person is not (or no longer) in the registry
        gone_row = np.asarray(
            pc.and_(pc.is_valid(decided_row), pc.is_null(person_row)).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        gone = doses.live & gone_row[dose_row]
        doses.reason[gone] = "decided_person_unknown"
        doses.quarantined |= gone
        doses.live &= ~gone
    return _RowPersons(person_row, row_reason, candidates, atena_given, states)


def _check_person_state(doses: _Doses, persons: _RowPersons) -> None:
    """Step 2, the person on the dose date: a dose after the person's death is quarantined
    (``dose_after_death``)."""
    live_idx = np.flatnonzero(doses.live)
    person_live = persons.person.take(pa.array(doses.dose_row[live_idx]))
    at = pc.index_in(person_live, value_set=combined(persons.states, "atena_no"))
    status = combined(persons.states, "p_status").take(at)
    removed = pc.cast(combined(persons.states, "p_removed").take(at), pa.date32())
    dose_ts = combined(doses.staged, "dose_date__date").take(pa.array(live_idx))
    dose_day = pc.cast(dose_ts, pa.date32())
    dead_l = np.asarray(
        pc.fill_null(pc.and_(pc.equal(status, "deceased"), pc.greater(dose_day, removed)), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    doses.reason[live_idx[dead_l]] = "dose_after_death"
    doses.quarantined[live_idx[dead_l]] = True
    doses.live[live_idx[dead_l]] = False


def _dose_identity(conn: Connection, doses: _Doses, persons: _RowPersons) -> Writes:
    """Step 3, dose identity (person, dose number), in the file and then in the registry: the
    same values again are a duplicate; two different doses of one number in the file are both
    quarantined (``conflicting_records_in_file``); a dose on record with other values (a
    corrected lot or date) is a correction. Returns the doses to write."""
    staged = doses.staged
    d_idx = np.flatnonzero(doses.live)
    d_person = persons.person.take(pa.array(doses.dose_row[d_idx]))
    d_dose_no = combined(staged, "dose_no").to_numpy().astype(np.int64)[d_idx]
    d_ts = combined(staged, "dose_date__date").take(pa.array(d_idx))
    fields: dict[str, pa.Array] = {"dose_date": pc.strftime(d_ts, format="%Y-%m-%d")}
    for f in DOSE_FIELDS[1:]:
        fields[f] = combined(staged, f).take(pa.array(d_idx)).cast(pa.string())
    k = len(d_idx)
    w = Writes(
        d_idx, d_person, d_dose_no, fields, np.full(k, -1, dtype=np.int64), np.zeros(k, dtype=np.int64)
    )
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
        doses.duplicate[d_idx[m_idx[same]]] = True
        keep[m_idx[same]] = False
        rest = frame[~same]
        conflict = rest.duplicated(["key"], keep=False).to_numpy()
        c_idx = m_idx[~same][conflict]
        doses.reason[d_idx[c_idx]] = "conflicting_records_in_file"
        doses.quarantined[d_idx[c_idx]] = True
        keep[c_idx] = False
    w = w.take(np.flatnonzero(keep))

    existing = _existing_doses(conn, pc.unique(w.person))
    ids, versions, unchanged = _match_existing(w.person, w.dose_no, w.fields, existing)
    del existing
    doses.duplicate[w.idx[unchanged]] = True
    w.ids, w.versions = ids, versions
    return w.take(np.flatnonzero(~unchanged))


def _dose_days(staged: pa.Table, idx: np.ndarray) -> np.ndarray:
    """The dose dates of the doses at ``idx`` (numpy days)."""
    return np.asarray(
        combined(staged, "dose_date__date")
        .take(pa.array(idx))
        .cast(pa.date32())
        .to_numpy(zero_copy_only=False),
        dtype="datetime64[D]",
    )


def _for_review(doses: _Doses, persons: _RowPersons) -> ledger.ForReview | None:
    """One review item per file row that could not be resolved, its doses intact (counted as
    its doses)."""
    rv = np.flatnonzero(persons.reason != "")
    if not len(rv):
        return None
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
    t_idx = np.flatnonzero(doses.to_review)
    sub = doses.staged.select(["row_no", *[c if c != "dose_date_raw" else "dose_date" for c in received]])
    recs = sub.take(pa.array(t_idx)).to_pylist()
    by_row: dict[int, list[dict[str, object]]] = {}
    for rec in recs:
        item = {k: rec["dose_date" if k == "dose_date_raw" else k] for k in received}
        item["dose_no"] = int(item["dose_no"])
        by_row.setdefault(int(rec["row_no"]), []).append(item)
    rows_u = doses.rows_u
    rv = np.array([i for i in rv if int(rows_u[i]) in by_row], dtype=np.int64)
    given_rv = persons.atena_given.take(pa.array(rv)).to_pylist()
    raws = [
        scrub(json.dumps({"個別宛名番号": a_, "doses": by_row[int(rows_u[i])]}, ensure_ascii=False))
        for i, a_ in zip(rv, given_rv, strict=True)
    ]
    return ledger.ForReview(
        row_nos=rows_u[rv].tolist(),
        reasons=list(persons.reason[rv]),
        candidates=list(persons.candidates[rv]),
        raws=raws,
        units=int(doses.to_review.sum()),
    )


def _quarantined(doses: _Doses) -> ledger.Quarantined:
    """One quarantine entry per file row, the reasons of its doses as ``<n>回目:<code>`` (counted
    as its doses)."""
    reason = doses.reason
    q_idx = np.flatnonzero(doses.quarantined)
    from_suite = q_idx[reason[q_idx] == ""]
    if len(from_suite):
        reason[from_suite] = combined(doses.staged, "reasons").take(pa.array(from_suite)).to_pylist()
    q_rows: dict[int, tuple[list[str], list[str]]] = {}
    q_dose = combined(doses.staged, "dose_no").take(pa.array(q_idx)).to_pylist()
    for r, dn, code in zip(doses.row_no[q_idx].tolist(), q_dose, reason[q_idx], strict=True):
        tags, nos = q_rows.setdefault(r, ([], []))
        tags.append(f"{dn}回目:" + str(code).replace(";", ","))
        nos.append(str(dn))
    q_keys = sorted(q_rows)
    return ledger.Quarantined(
        row_nos=q_keys,
        reasons=[";".join(q_rows[r][0]) for r in q_keys],
        raws=[scrub(json.dumps({"doses": ",".join(q_rows[r][1])}, ensure_ascii=False)) for r in q_keys],
        units=int(doses.quarantined.sum()),
    )


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
    """The records kind's apply step (:data:`vaxreg.feeds.vrs_records.KIND`)."""
    return apply_records(
        conn,
        staged,
        manifest_id=ctx.manifest_id,
        file_name=ctx.file_name,
        rejected=ctx.rejected,
        actor=ctx.actor,
        decided_atena=ctx.decided_atena,
    )
