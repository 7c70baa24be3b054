"""VRS subjects (``VRS_SUBJECTS_YYYYMMDD.csv``, vrs.md): who holds which voucher (接種券).

one voucher per row, kept in ``vrs_subjects``
(unique per municipality and voucher number). Each row is placed on its holder by the identity
matcher (privacy.md §Matching, :mod:`vaxreg.matching`): the person of its 宛名番号 when kana
name, birth date and sex agree, else the one person the probabilistic pass finds clearly best;
a row neither places goes to review with its candidates (a reviewer's decision is applied on
the next run). A voucher seen again with the same holder and values is a duplicate; with other
values a correction (prior version to ``vrs_subject_history``).
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.feeds import ApplyContext, FileKind
from vaxreg.feeds.columns import drop_table, iso, same_values, temp_table
from vaxreg.feeds.layout import Layout, home_municipality
from vaxreg.feeds.reader import received_json, scrub
from vaxreg.identity import dates, placing, validators
from vaxreg.registry import ledger
from vaxreg.registry.db import bulk_insert

# VRS (vrs.md): UTF-8 with BOM, Japanese headers, YYYYMMDD dates.
VRS_SUBJECTS = Layout(
    feed="vrs",
    kind="vrs_subjects",
    file_pattern=re.compile(r"VRS_SUBJECTS_(?P<date>[0-9]{8})\.csv"),
    columns=("自治体コード", "券番号", "宛名番号", "カナ氏名", "生年月日", "性別"),
    encoding="utf-8",
    rename={
        "自治体コード": "municipality_code",
        "券番号": "voucher",
        "宛名番号": "atena_no",
        "カナ氏名": "name_kana",
        "生年月日": "birth_date",
        "性別": "sex",
    },
)
SUBJECT_FIELDS = ("atena_no", "name_kana", "birth_date", "sex")


@dataclasses.dataclass
class Outcome(ledger.Outcome):
    corrections: int = 0  # not part of the sum
    off_schedule: int = 0
    file_rows: int = 0  # rows of the file (records: persons; the unit above is the dose)


def derived_columns(table: pa.Table, name: str) -> pa.Table:
    """What the subjects suite checks besides the received text."""
    number, status = validators.voucher_numbers(table.column("voucher"), table.column("municipality_code"))
    code = table.column("municipality_code").combine_chunks()
    return (
        table.append_column("voucher_no", number)
        .append_column("voucher__status", status)
        .append_column("municipality_code__check", pa.array(validators.municipality_code_valid_mask(code)))
        .append_column("birth_date__date", dates.parse_compact_dates(table.column("birth_date")))
    )


SUBJECT_RECEIVED = ("municipality_code", "voucher", "atena_no", "name_kana", "birth_date", "sex")


def _place_subjects(
    conn: Connection, df: pd.DataFrame, live: np.ndarray, decided: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """privacy.md §Matching for the live subject rows, as the clinic feed does
    (:func:`vaxreg.registry.doses._reconcile`): (person or None, how it was placed, the 宛名番号
    given names a registry person, matcher result of the rows matched).

    A reviewer's decision (``decided``) comes first (None when that person is not in the
    registry); then the matcher (:func:`vaxreg.registry.resident.place`)."""
    n = len(df)
    person = np.full(n, None, dtype=object)
    how = np.full(n, "", dtype=object)
    well = df["atena_no"].fillna("").str.fullmatch(r"[0-9]{10}").to_numpy(dtype=bool)
    records = pd.DataFrame(
        {
            "atena_no": df["atena_no"].where(well, None),
            "name_kana": df["name_kana"],
            "birth_date": df["birth_date"],
            "sex": df["sex"],
            "address": pd.Series([None] * n, dtype=object, index=df.index),
        }
    )
    by_person = live & pd.notna(decided)
    if by_person.any():
        exists = placing.named_persons(conn, decided[by_person])["atena_no"]
        ok = by_person & pd.Series(decided).isin(exists).to_numpy()
        person[ok] = decided[ok]
        how[by_person] = "review decision"
    result = placing.place(conn, records[live & ~by_person])
    idx = result.index.to_numpy()
    accepted = (result["decision"] != "review").to_numpy()
    person[idx[accepted]] = result["atena_no"].to_numpy()[accepted]
    how[idx] = result["how"].to_numpy()
    known = np.zeros(n, dtype=bool)
    known[idx] = result["atena_known"].to_numpy(dtype=bool)
    return person, how, known, result


@dataclasses.dataclass
class _Rows:
    """Per staged row, what the apply step has decided so far (arrays aligned with ``df``).

    A row stays ``live`` while it may still reach the registry; once out of it, it is
    quarantined (its ``reason`` codes), in review (its ``review`` codes) or a ``duplicate``."""

    df: pd.DataFrame  # the staged rows; once placed, a row's atena_no is its person's
    received: pd.DataFrame  # the rows as received: what review items and quarantine keep
    live: np.ndarray
    reason: np.ndarray  # quarantine: ';'-joined reason codes, "" none
    review: np.ndarray  # review: ';'-joined reason codes, "" none
    duplicate: np.ndarray


KEY = ["municipality_code", "voucher_no"]  # a voucher


def apply_subjects(
    conn: Connection,
    staged: pa.Table,
    *,
    manifest_id: int,
    file_name: str,
    rejected: list[tuple[int, str, str]],
    actor: ledger.Actor,
    decided_atena: pa.Array | None = None,
) -> Outcome:
    """Apply one validated subjects file (or the accepted review items of one) inside the
    caller's transaction.

    Each live row (valid, ours, not repeated in the file) is placed on a person by the identity
    matcher (privacy.md §Matching): the person of its 宛名番号 when kana name, birth date and
    sex agree (a typo-level kana difference allowed), else the one person the probabilistic
    pass finds clearly best. A row neither places goes to review with its candidates, unless
    its voucher is on record with the same name, birth date and sex (an earlier decision
    stands). ``vrs_subjects.atena_no`` is the person placed; what was received stays in the
    file, the audit detail and the review item.

    ``decided_atena`` (one per staged row, null for none): the person a reviewer decided
    (:mod:`vaxreg.registry.review`); such rows skip matching, and are quarantined
    (``decided_person_unknown``) when that person is not in the registry."""
    rows = _screen_rows(staged)
    n = len(rows.df)
    out = Outcome(rows_read=n + len(rejected), file_rows=n + len(rejected))
    existing, match = _resolve_persons(conn, rows, decided_atena)
    write, given_atena = _compare_with_record(rows, existing)
    decided_by = f"{actor.dag_id}/{actor.run_id}/{actor.task_id}"
    _write_subjects(conn, actor, write, given_atena, manifest_id, file_name, decided_by)
    out.duplicates = int(rows.duplicate.sum())
    out.accepted = len(write)
    out.corrections = int(write["id"].notna().sum())
    return ledger.close_file(
        conn,
        actor,
        feed="vrs",
        file_name=file_name,
        manifest_id=manifest_id,
        out=out,
        quarantined=_quarantined(rows),
        rejected=rejected,
        review=_for_review(rows, match),
    )


def _screen_rows(staged: pa.Table) -> _Rows:
    """The staged rows before any person is placed: the suite's reason codes, another
    municipality's voucher (``municipality_not_ours``), and the same voucher twice in the file:
    the same values again (a duplicate) or different ones (``conflicting_records_in_file``,
    both quarantined, as received)."""
    df = staged.to_pandas()
    n = len(df)
    for c in SUBJECT_RECEIVED:
        if c not in df.columns:
            df[c] = None
    received = df[list(SUBJECT_RECEIVED)].copy()  # as received: what review items keep
    dup = df["is_duplicate"].to_numpy(dtype=bool)
    reason = np.where((df["reasons"] != "").to_numpy() & ~dup, df["reasons"].to_numpy(), "").astype(object)
    live = ~dup & (reason == "")
    home = home_municipality()
    other = live & (df["municipality_code"] != home).to_numpy()
    reason[other] = "municipality_not_ours"
    live &= ~other
    df["birth_date"] = iso(df["birth_date__date"])
    sub = df.loc[live, [*KEY, *SUBJECT_FIELDS]]
    same = sub.duplicated(keep="first").to_numpy()
    duplicate = dup.copy()
    duplicate[np.flatnonzero(live)[same]] = True
    live[np.flatnonzero(live)[same]] = False
    conflict = np.zeros(n, dtype=bool)
    conflict[np.flatnonzero(live)[df.loc[live, KEY].duplicated(keep=False).to_numpy()]] = True
    reason[conflict] = "conflicting_records_in_file"
    live &= ~conflict
    review = np.full(n, "", dtype=object)
    return _Rows(df=df, received=received, live=live, reason=reason, review=review, duplicate=duplicate)


def _resolve_persons(
    conn: Connection, rows: _Rows, decided_atena: pa.Array | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The holder of each live row: a reviewer's decision (quarantined, ``decided_person_unknown``,
    when that person is not in the registry), else the matcher, else the holder on record of
    the same voucher with the same name, birth date and sex (an earlier decision stands). A
    row none of these places goes to review (``atena_no_disagrees`` or ``atena_no_unknown``
    and the matcher's reasons). From here on a placed row's atena_no is its person's (the
    received value stays in ``received``). Returns (the vouchers on record, the matcher's result)."""
    df, live = rows.df, rows.live
    n = len(df)
    decided = np.full(n, None, dtype=object)
    if decided_atena is not None:
        if len(decided_atena) != n:
            raise ValueError(f"decided_atena has {len(decided_atena)} values for {n} staged rows")
        decided = np.asarray(decided_atena.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    person, how, known, match = _place_subjects(conn, df, live, decided)
    gone = live & pd.notna(decided) & pd.isna(person)
    rows.reason[gone] = "decided_person_unknown"
    live &= ~gone
    existing = _existing_subjects(conn, df[live])
    unplaced = live & pd.isna(person)
    if unplaced.any() and len(existing):
        # The voucher on record with the same name, birth date and sex: its holder stands.
        j = df.loc[unplaced, [*KEY, *SUBJECT_FIELDS[1:]]].merge(
            existing, on=KEY, how="left", suffixes=("", "_db")
        )
        held = j["id"].notna().to_numpy() & np.logical_and.reduce(
            [same_values(j[c], j[f"{c}_db"]) for c in SUBJECT_FIELDS[1:]]
        )
        rows_held = np.flatnonzero(unplaced)[held]
        person[rows_held] = j["atena_no"].to_numpy()[held]
        how[rows_held] = "as on record"
    to_review = live & pd.isna(person)
    if to_review.any():
        given = np.where(known, "atena_no_disagrees", "atena_no_unknown").astype(object)
        rv = np.flatnonzero(to_review)
        rows.review[rv] = given[rv] + ";" + match.loc[rv, "reasons"].to_numpy(dtype=object)
    live &= ~to_review
    df["atena_no"] = np.where(live, person, df["atena_no"].to_numpy(dtype=object))
    df["how"] = how
    return existing, match


def _compare_with_record(rows: _Rows, existing: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Each placed row against its voucher on record: the same holder and values again is a
    duplicate; other values a correction (``id`` and ``version`` of the version it replaces);
    a voucher not on record is new. Returns (the rows to write, the 宛名番号 each received)."""
    live = rows.live
    d = rows.df[live].copy()
    j = d[["row_no", *KEY, *SUBJECT_FIELDS, "how"]].merge(existing, on=KEY, how="left", suffixes=("", "_db"))
    on_record = j["id"].notna().to_numpy()
    unchanged = np.logical_and.reduce([same_values(j[c], j[f"{c}_db"]) for c in SUBJECT_FIELDS])
    rows.duplicate[np.flatnonzero(live)[on_record & unchanged]] = True
    write = j[~(on_record & unchanged)].copy()
    given_atena = rows.received.loc[live, "atena_no"].to_numpy(dtype=object)[~(on_record & unchanged)]
    return write, given_atena


def _write_subjects(
    conn: Connection,
    actor: ledger.Actor,
    write: pd.DataFrame,
    given_atena: np.ndarray,
    manifest_id: int,
    file_name: str,
    decided_by: str,
) -> None:
    """Write the vouchers: a corrected one's current version to ``vrs_subject_history``, then
    replaced (same id, version + 1); new ones in bulk; one audit record per voucher written."""
    is_corr = write["id"].notna().to_numpy()
    now = ledger.now_text()
    cols = [
        "municipality_code",
        "voucher_no",
        *SUBJECT_FIELDS,
        "manifest_id",
        "row_no",
        "version",
        "decided_by",
        "recorded_at",
    ]
    if is_corr.any():
        ids = write.loc[is_corr, "id"].astype("int64").to_numpy()
        temp_table(
            conn, "tmp_vrs_fix", {"id": "BIGINT PRIMARY KEY"}, pa.table({"id": pa.array(ids, pa.int64())})
        )
        conn.exec_driver_sql(
            f"INSERT INTO vrs_subject_history (subject_id, {', '.join(cols)}, superseded_at, superseded_by) "
            f"SELECT s.id, {', '.join('s.' + c for c in cols)}, '{now}', {int(manifest_id)} "
            "FROM vrs_subjects s JOIN tmp_vrs_fix t ON t.id = s.id"
        )
        conn.exec_driver_sql("DELETE FROM vrs_subjects WHERE id IN (SELECT id FROM tmp_vrs_fix)")
        drop_table(conn, "tmp_vrs_fix")
    if not len(write):
        return
    k = len(write)
    version = np.where(is_corr, write["version"].fillna(0).astype("int64") + 1, 1)
    data = {
        "id": pa.array(write["id"].astype("Int64"), pa.int64()),
        **{c: pa.array(write[c], pa.string()) for c in ("municipality_code", "voucher_no", *SUBJECT_FIELDS)},
        "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
        "row_no": pa.array(write["row_no"].astype("int64"), pa.int64()),
        "version": pa.array(version, pa.int64()),
        "decided_by": pa.array(decided_by + " (" + write["how"] + ")", pa.string()),
        "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
    }
    table = pa.table(data)
    if is_corr.any():
        bulk_insert(conn, "vrs_subjects", table.filter(pa.array(is_corr)))
    if (~is_corr).any():
        bulk_insert(conn, "vrs_subjects", table.filter(pa.array(~is_corr)).drop_columns(["id"]))
    _audit_subjects(conn, actor, write, given_atena, is_corr, file_name)


def _audit_subjects(
    conn: Connection,
    actor: ledger.Actor,
    write: pd.DataFrame,
    given_atena: np.ndarray,
    is_corr: np.ndarray,
    file_name: str,
) -> None:
    """One audit record per voucher written: how the row was placed, and the 宛名番号 received
    when it named someone else."""
    given_s = pd.Series(given_atena, index=write.index, dtype=object)
    moved = (" given=" + given_s).where(given_s != write["atena_no"], "")
    detail = (
        file_name + "#row=" + write["row_no"].astype("int64").astype(str) + " match=" + write["how"] + moved
    ).to_numpy()
    for action, mask in (("insert", ~is_corr), ("update", is_corr)):
        if mask.any():
            ledger.write_audit(
                conn,
                actor,
                action=action,
                table_name="vrs_subjects",
                atena_no=write["atena_no"].to_numpy()[mask],
                fields_changed=np.full(
                    int(mask.sum()),
                    "*" if action == "insert" else "atena_no,name_kana,birth_date,sex",
                    dtype=object,
                ),
                detail=detail[mask],
            )


def _for_review(rows: _Rows, match: pd.DataFrame) -> ledger.ForReview | None:
    """One review item per row no one could place, with the matcher's candidates and scores."""
    to_review = rows.review != ""
    if not to_review.any():
        return None
    rv = np.flatnonzero(to_review)
    return ledger.ForReview(
        row_nos=rows.df.loc[to_review, "row_no"].astype("int64").tolist(),
        reasons=list(rows.review[rv]),
        candidates=list(match.loc[rv, "candidates"]),
        scores=list(match.loc[rv, "scores"]),
        raws=[received_json(r) for r in rows.received[to_review].to_dict("records")],
    )


def _quarantined(rows: _Rows) -> ledger.Quarantined:
    """The rows with reason codes, each with the received columns that identify it."""
    q = rows.reason != ""
    raws = [
        scrub(
            json.dumps(
                {c: r[c] for c in ("municipality_code", "voucher", "atena_no", "sex")},
                ensure_ascii=False,
                default=str,
            )
        )
        for r in rows.received[q].to_dict("records")
    ]
    return ledger.Quarantined(
        row_nos=[int(x) for x in rows.df.loc[q, "row_no"]], reasons=list(rows.reason[q]), raws=raws
    )


def _existing_subjects(conn: Connection, d: pd.DataFrame) -> pd.DataFrame:
    cols = ["id", "municipality_code", "voucher_no", *SUBJECT_FIELDS, "version"]
    if d.empty:
        return pd.DataFrame(columns=cols)
    keys = d[["municipality_code", "voucher_no"]].drop_duplicates()
    temp_table(
        conn,
        "tmp_vrs_vouchers",
        {"municipality_code": "VARCHAR(6)", "voucher_no": "VARCHAR(10)"},
        pa.Table.from_pandas(keys, preserve_index=False),
    )
    rows = conn.exec_driver_sql(
        "SELECT s.id, s.municipality_code, s.voucher_no, s.atena_no, s.name_kana, "
        "CAST(s.birth_date AS TEXT), s.sex, s.version FROM vrs_subjects s JOIN tmp_vrs_vouchers t "
        "ON t.municipality_code = s.municipality_code AND t.voucher_no = s.voucher_no"
    ).fetchall()
    drop_table(conn, "tmp_vrs_vouchers")
    return pd.DataFrame(rows, columns=cols)


def apply(conn: Connection, staged: pa.Table, ctx: ApplyContext) -> Outcome:
    return apply_subjects(
        conn,
        staged,
        manifest_id=ctx.manifest_id,
        file_name=ctx.file_name,
        rejected=ctx.rejected,
        actor=ctx.actor,
        decided_atena=ctx.decided_atena,
    )


KIND = FileKind(layout=VRS_SUBJECTS, suite="vrs_subjects", apply=apply, derive=derived_columns)
