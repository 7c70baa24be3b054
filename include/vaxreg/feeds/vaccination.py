"""Feeds ``clinic`` and ``otherward``: vaccination records (接種記録) from the medical association's
monthly file (医師会, ``ISHIKAI_YYYYMM.csv``, feeds.md §4) and from other wards (他区接種分,
``TAKU_YYYYMM_<ward>.csv``, §5). Same columns (Japanese headers, CP932, wareki dates), one apply
step, set-based.

Per record, in one transaction per file (the caller's):

1. **Reconcile** (privacy.md §Matching, :mod:`vaxreg.matching`): a reviewer's decision
   on an earlier review item; else the person of the record's 宛名番号 when kana name,
   birth date and sex agree; else the one person the probabilistic pass finds clearly
   best. Anything else goes to **review** with its candidates and their scores; never
   to a guess. How each record was placed is kept in ``decided_by`` and the audit log.
2. **Person state**: a dose after the person's death or removal is quarantined.
3. **Dose identity**: a dose is unique per person, vaccine, phase, dose number and
   date. The same dose again with the same attributes is a duplicate; with other
   attributes it is a correction (the prior version goes to ``dose_history``).
   Two different versions of one dose in one file are both quarantined.
4. **Schedule** (:mod:`vaxreg.schedule`) against the person's whole history.
5. **予診のみ**: a preliminary examination is kept for payment (the same one again is a duplicate).
6. **Fees** (:mod:`vaxreg.fees`) for what was stored.

Each step is one function of :func:`apply_file`; what they decide is written by
:mod:`vaxreg.feeds.vaccination_store`, and the rows kept out end in
:func:`vaxreg.registry.ledger.close_file`. Every row ends as exactly one of accepted,
quarantined, review or duplicate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from vaxreg.feeds import ApplyContext, Feed, FileKind, feeds_of
from vaxreg.feeds import vaccination_store as store
from vaxreg.feeds.columns import append_code, iso, same_values
from vaxreg.feeds.layout import Layout
from vaxreg.feeds.reader import received_json
from vaxreg.identity import dates, placing, validators
from vaxreg.registry import db, ledger, welfare
from vaxreg.registry.db import bulk_insert, read_table
from vaxreg.registry.schema_doses import DOSE_ATTRIBUTES, DOSE_KEY
from vaxreg.rules import check
from vaxreg.rules.fees import payment_month

# 医師会 接種記録 (feeds.md §4) and 他区接種分 (§5): same columns, Japanese headers, CP932.
VACCINATION_COLUMNS = {
    "宛名番号": "atena_no",
    "カナ氏名": "name_kana",
    "生年月日": "birth_date",
    "性別": "sex",
    "予防接種種別コード": "vaccine_code",
    "接種期": "phase",
    "接種回数": "dose_no",
    "接種日": "dose_date",
    "予診のみ": "preliminary_only",
    "ワクチン名称": "product_name",
    "ロット番号": "lot_no",
    "医療機関コード": "institution_code",
    "接種地コード": "place_code",
    "自己負担区分": "self_pay_declared",
}
CLINIC = Layout(
    feed="clinic",
    file_pattern=re.compile(r"ISHIKAI_(?P<date>[0-9]{6})\.csv"),
    columns=tuple(VACCINATION_COLUMNS),
    encoding="cp932",
    date_format="%Y%m",
    rename=dict(VACCINATION_COLUMNS),
    monthly=True,
)
OTHERWARD = Layout(
    feed="otherward",
    file_pattern=re.compile(r"TAKU_(?P<date>[0-9]{6})_(?P<ward>[0-9]{6})\.csv"),
    columns=(*VACCINATION_COLUMNS, "住所"),
    encoding="cp932",
    date_format="%Y%m",
    rename=VACCINATION_COLUMNS | {"住所": "address"},
    optional=("住所",),
    max_length={"住所": 200},
    monthly=True,
)
DATE_COLUMNS = ("birth_date", "dose_date")  # wareki (EYYMMDD), parsed by derived_columns

RECEIVED = (
    "atena_no",
    "name_kana",
    "birth_date",
    "sex",
    "vaccine_code",
    "phase",
    "dose_no",
    "dose_date",
    "preliminary_only",
    "product_name",
    "lot_no",
    "institution_code",
    "place_code",
    "self_pay_declared",
    "address",
)


@dataclasses.dataclass
class Outcome(ledger.Outcome):
    # Not part of the sum: breakdown of accepted, and money.
    off_schedule: int = 0
    corrections: int = 0
    preliminary: int = 0
    fee_total: int = 0


def _temp_keys(conn: Connection, name: str, atena: np.ndarray) -> None:
    """A temp table of the distinct keys (no index to build: it is only ever joined in full)."""
    conn.exec_driver_sql(f"CREATE TEMP TABLE {name} (atena_no VARCHAR(10) NOT NULL)")
    bulk_insert(conn, name, pa.table({"atena_no": pa.array(pd.unique(atena), pa.string())}))
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {name}")  # row count and width for the join plan


def _persons(conn: Connection, atena: np.ndarray) -> pd.DataFrame:
    """State of the persons records were attached to; leaves their keys in ``tmp_dose_atena``
    for :func:`_existing_doses`."""
    cols = ["atena_no", "p_status", "p_removed"]
    if len(atena) == 0:
        return pd.DataFrame(columns=cols)
    _temp_keys(conn, "tmp_dose_atena", atena)
    found = read_table(
        conn,
        "SELECT p.atena_no, p.status, CAST(p.removed_date AS TEXT) "
        "FROM persons p JOIN tmp_dose_atena t ON t.atena_no = p.atena_no",
        cols,
    )
    return found.to_pandas()


def _reconcile(
    conn: Connection, df: pd.DataFrame, live: np.ndarray, decided: np.ndarray
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """privacy.md §Matching for the live rows: (person or None, how it was decided, matcher result).

    A person's decision on a review item (``decided``) comes first; then the matcher
    (:func:`vaxreg.identity.placing.place`)."""
    n = len(df)
    person = np.full(n, None, dtype=object)
    how = np.full(n, "", dtype=object)
    records = pd.DataFrame(
        {
            "atena_no": df["atena_no"].where(df["atena_no"].str.fullmatch(r"[0-9]{10}").fillna(False), None),
            "name_kana": df["name_kana"],
            "birth_date": df["birth_iso"],
            "sex": df["sex"],
            "address": df["address"],
        }
    )
    by_person = live & pd.notna(decided)
    person[by_person] = decided[by_person]
    how[by_person] = "review decision"
    result = placing.place(conn, records[live & ~by_person])
    idx = result.index.to_numpy()
    accepted = (result["decision"] != "review").to_numpy()
    person[idx[accepted]] = result["atena_no"].to_numpy()[accepted]
    how[idx] = result["how"].to_numpy()
    return person, how, result


def _existing_doses(conn: Connection, atena: np.ndarray) -> pd.DataFrame:
    """The doses on record of the persons ``atena`` (a subset of the keys :func:`_persons` left
    in ``tmp_dose_atena``, which this drops): no second key table for the same persons."""
    cols = ["id", *DOSE_KEY, *DOSE_ATTRIBUTES, "version"]
    if len(atena) == 0:
        conn.exec_driver_sql("DROP TABLE IF EXISTS tmp_dose_atena")
        return pd.DataFrame(columns=cols)
    found = read_table(
        conn,
        "SELECT d.id, d.atena_no, d.vaccine_code, d.phase, d.dose_no, CAST(d.dose_date AS TEXT), "
        + ", ".join(f"d.{c}" for c in DOSE_ATTRIBUTES)
        + ", d.version FROM doses d JOIN tmp_dose_atena t ON t.atena_no = d.atena_no",
        cols,
        types={"id": pa.int64(), "dose_no": pa.int64(), "version": pa.int64()},
    )
    conn.exec_driver_sql("DROP TABLE tmp_dose_atena")
    found = found.filter(pc.is_in(found.column("atena_no"), pa.array(pd.unique(atena), pa.string())))
    return found.to_pandas()


def _existing_prelims(conn: Connection, atena: np.ndarray) -> pd.DataFrame:
    cols = ["atena_no", "vaccine_code", "phase", "dose_no", "dose_iso", "institution_code"]
    if len(atena) == 0:
        return pd.DataFrame(columns=cols)
    _temp_keys(conn, "tmp_prelim", atena)
    found = read_table(
        conn,
        "SELECT e.atena_no, e.vaccine_code, e.phase, e.dose_no, CAST(e.exam_date AS TEXT), "
        "e.institution_code "
        "FROM preliminary_exams e JOIN tmp_prelim t ON t.atena_no = e.atena_no",
        cols,
        types={"dose_no": pa.int64()},
    )
    conn.exec_driver_sql("DROP TABLE tmp_prelim")
    return found.to_pandas()


@dataclasses.dataclass
class _Rows:
    """Per staged row, what the apply step has decided so far (arrays aligned with ``df``).

    A row stays ``live`` while it may still reach the registry; once out of it, it is
    quarantined (its ``quarantine`` codes), in review (its ``review`` codes) or a ``duplicate``."""

    df: pd.DataFrame  # the staged rows; once placed, a row's atena_no is its person's
    received: pd.DataFrame  # the rows as received: what review items and quarantine keep
    live: np.ndarray
    quarantine: np.ndarray  # ';'-joined reason codes, "" none
    review: np.ndarray  # ';'-joined reason codes, "" none
    duplicate: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Doses:
    """The dose rows (not 予診のみ) on their way to the registry; ``i`` is a row's position."""

    new: pd.DataFrame  # every version not on record yet, corrections included
    corrections: pd.DataFrame  # the rows of ``new`` on record with other attributes (``<attr>_db``, id)
    on_record: pd.DataFrame  # the doses on record of the persons matched


def apply_file(
    conn: Connection,
    staged: pa.Table,
    *,
    feed: str,
    manifest_id: int,
    file_name: str,
    file_date: dt.date,
    rejected: list[tuple[int, str, str]],
    actor: ledger.Actor,
    rules: check.Rules | None = None,
    decided_atena: pa.Array | None = None,
) -> Outcome:
    """Apply one validated clinic/other-ward file inside the caller's transaction, in the steps of
    the module's docstring.

    ``decided_atena``: per staged row, the person a reviewer chose for it (privacy.md
    §Matching: review decisions are applied on the feed's next run), or null to match."""
    rows = _received_rows(staged)
    out = Outcome(rows_read=len(rows.df) + len(rejected))
    matched, match = _resolve_persons(conn, rows, decided_atena)
    matched = _check_person_state(conn, rows, matched)
    prelim = rows.live & (rows.df["preliminary_only"] == "1").to_numpy()
    doses = _dose_identity(conn, rows, rows.live & ~prelim, matched)
    d = _judge_schedule(conn, rows, doses, rules)
    p = _preliminary_identity(conn, rows, prelim)
    decided_by = f"{actor.dag_id}/{actor.run_id}/{actor.task_id}"
    at = store.Target(feed, manifest_id, file_name, decided_by, ledger.now_text())
    fresh = store.write_doses(conn, actor, d, doses.corrections, at)
    store.write_preliminary(conn, actor, p, at)
    # Fees for what was stored (corrections earn nothing: the dose was priced when first stored).
    out.fee_total = store.write_fees(conn, fresh, p, feed, manifest_id, file_name, file_date, at.now)
    out.duplicates = int(rows.duplicate.sum())
    out.accepted = len(d) + len(p)
    out.off_schedule = int((d["off_schedule"] != "").sum())
    out.corrections = len(d) - len(fresh)
    out.preliminary = len(p)
    quarantined, review = _held(rows, match)
    return ledger.close_file(
        conn,
        actor,
        feed=feed,
        file_name=file_name,
        manifest_id=manifest_id,
        out=out,
        quarantined=quarantined,
        rejected=rejected,
        review=review,
    )


def _received_rows(staged: pa.Table) -> _Rows:
    """The staged rows as parse and suite left them: an exact duplicate is counted once, a row
    with reason codes is quarantined, every other row is live."""
    df = staged.to_pandas()
    for c in RECEIVED:
        if c not in df.columns:
            df[c] = None
    received = df[list(RECEIVED)].copy()  # as received: what review items and quarantine keep
    n = len(df)
    dup = df["is_duplicate"].to_numpy(dtype=bool)
    quarantine_reason = np.where((df["reasons"] != "").to_numpy() & ~dup, df["reasons"].to_numpy(), "")
    quarantine_reason = quarantine_reason.astype(object)
    df["birth_iso"] = iso(df["birth_date__date"])
    df["dose_iso"] = iso(df["dose_date__date"])
    df["dose_no_int"] = pd.to_numeric(df["dose_no"], errors="coerce").fillna(0).astype("int64")
    return _Rows(
        df=df,
        received=received,
        live=~dup & (quarantine_reason == ""),
        quarantine=quarantine_reason,
        review=np.full(n, "", dtype=object),
        duplicate=dup.copy(),
    )


def _resolve_persons(
    conn: Connection, rows: _Rows, decided_atena: pa.Array | None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Step 1, reconcile (privacy.md §Matching): the person of each live row, a reviewer's
    decision else the matcher. A row neither places goes to review, with what its 宛名番号 was
    (``atena_no_missing``, ``atena_no_format``, ``atena_no_disagrees``) and the matcher's reasons.
    From here on a placed row's atena_no is its person's (the received value stays in
    ``received``). Returns (the rows placed, the matcher's result)."""
    df = rows.df
    n = len(df)
    decided = np.full(n, None, dtype=object)
    if decided_atena is not None:
        decided = np.asarray(decided_atena.to_numpy(zero_copy_only=False), dtype=object)
    person, how, match = _reconcile(conn, df, rows.live, decided)
    given = df["atena_no"].notna().to_numpy()
    has_atena = df["atena_no"].fillna("").str.fullmatch(r"[0-9]{10}").to_numpy(dtype=bool)
    to_review = rows.live & ~pd.notna(person)
    codes_r = np.full(n, "", dtype=object)
    for mask, code in (
        (~given, "atena_no_missing"),
        (given & ~has_atena, "atena_no_format"),
        (has_atena, "atena_no_disagrees"),
    ):
        append_code(codes_r, to_review & mask, code)
    rows.review[to_review] = codes_r[to_review]
    review_rows = np.flatnonzero(to_review)
    if len(review_rows):
        why = match.loc[review_rows, "reasons"].to_numpy(dtype=object)
        rows.review[review_rows] = rows.review[review_rows] + ";" + why
    rows.live &= ~to_review
    matched = rows.live.copy()
    df["atena_no"] = np.where(matched, person, df["atena_no"].to_numpy(dtype=object))
    df["how"] = how
    return matched, match


def _check_person_state(conn: Connection, rows: _Rows, matched: np.ndarray) -> np.ndarray:
    """Step 2, the person on the dose date: quarantined when a reviewer's decision names a person
    no longer in the registry (``decided_person_unknown``), when the dose is after the person's
    death (``dose_after_death``) or after they moved out or were removed
    (``person_not_resident_on_dose_date``). Returns the rows placed on a registry person."""
    df = rows.df
    states = _persons(conn, df.loc[matched, "atena_no"].to_numpy())
    m = df[["atena_no"]].merge(states, on="atena_no", how="left")
    gone_person = matched & m["p_status"].isna().to_numpy()  # a review decision naming a purged person
    rows.quarantine[gone_person] = "decided_person_unknown"
    rows.live &= ~gone_person
    matched = matched & ~gone_person
    removed = pd.to_datetime(m["p_removed"]).to_numpy(dtype="datetime64[D]")
    dose_day = df["dose_date__date"].to_numpy(dtype="datetime64[D]")
    after = ~np.isnat(removed) & (dose_day > removed)
    status = m["p_status"].to_numpy(dtype=object)
    dead = matched & after & (status == "deceased")
    gone = matched & after & np.isin(status, ["moved_out", "removed"])
    rows.quarantine[dead] = "dose_after_death"
    rows.quarantine[gone] = "person_not_resident_on_dose_date"
    rows.live &= ~(dead | gone)
    return matched


def _dose_identity(conn: Connection, rows: _Rows, dose_rows: np.ndarray, matched: np.ndarray) -> _Doses:
    """Step 3, dose identity (person, vaccine, phase, dose number, date), in the file and then in
    the registry: the same version again is a duplicate; two versions of one dose in the file
    are both quarantined (``conflicting_records_in_file``); a dose on record with other
    attributes is a correction."""
    df = rows.df
    d = df[dose_rows].copy()
    d["i"] = np.flatnonzero(dose_rows)
    key_cols = ["atena_no", "vaccine_code", "phase", "dose_no_int", "dose_iso"]
    attrs = list(DOSE_ATTRIBUTES)
    same_version = d.duplicated([*key_cols, *attrs], keep="first")
    rows.duplicate[d.loc[same_version.to_numpy(), "i"].to_numpy()] = True
    d = d[~same_version.to_numpy()]
    conflict = d.duplicated(key_cols, keep=False).to_numpy()
    rows.quarantine[d.loc[conflict, "i"].to_numpy()] = "conflicting_records_in_file"
    d = d[~conflict]

    existing = _existing_doses(conn, df.loc[matched, "atena_no"].to_numpy())
    existing["dose_no"] = existing["dose_no"].astype("int64")
    ex = existing.rename(columns={"dose_no": "dose_no_int", "dose_date": "dose_iso"})
    j = d[["i", *key_cols, *attrs]].merge(ex, on=key_cols, how="left", suffixes=("", "_db"))
    on_record = j["id"].notna().to_numpy()
    unchanged = np.logical_and.reduce([same_values(j[c], j[f"{c}_db"]) for c in attrs])
    repeat_i = j.loc[on_record & unchanged, "i"].to_numpy()
    rows.duplicate[repeat_i] = True
    return _Doses(new=d[~d["i"].isin(repeat_i)], corrections=j[on_record & ~unchanged], on_record=existing)


def _judge_schedule(conn: Connection, rows: _Rows, doses: _Doses, rules: check.Rules | None) -> pd.DataFrame:
    """Step 4, the schedule (:func:`vaxreg.rules.check.judge`) against the registry history (the
    corrected versions left out) and this file: an invalid dose is quarantined with its codes;
    the others get ``off_schedule`` and ``flags``. Returns the doses to write."""
    d = doses.new
    corrected_ids = set(doses.corrections["id"].astype("int64"))
    existing = doses.on_record
    hist = existing[~existing["id"].isin(corrected_ids)][list(check.DOSE_COLUMNS)].copy()
    hist["dose_date"] = pd.to_datetime(hist["dose_date"]).to_numpy(dtype="datetime64[D]")
    new = pd.DataFrame(
        {
            "atena_no": d["atena_no"].to_numpy(),
            "vaccine_code": d["vaccine_code"].to_numpy(),
            "phase": d["phase"].to_numpy(),
            "dose_no": d["dose_no_int"].to_numpy(),
            "dose_date": d["dose_date__date"].to_numpy(dtype="datetime64[D]"),
            "birth_date": d["birth_date__date"].to_numpy(dtype="datetime64[D]"),
            "sex": d["sex"].to_numpy(),
            # 障害部位 of grade-1 身体 certificates on the dose date; None = no welfare data (§19, §27)
            "disability": welfare.disability_letters(
                conn,
                d["atena_no"].reset_index(drop=True),
                d["dose_date__date"].to_numpy(dtype="datetime64[D]"),
            ).to_numpy(),
        }
    )
    verdict = check.judge(new, hist, rules)
    invalid = (verdict["invalid"] != "").to_numpy()
    rows.quarantine[d["i"].to_numpy()[invalid]] = verdict["invalid"].to_numpy()[invalid]
    d = d.assign(off_schedule=verdict["off_schedule"].to_numpy(), flags=verdict["flags"].to_numpy())
    return d[~invalid]


def _preliminary_identity(conn: Connection, rows: _Rows, prelim: np.ndarray) -> pd.DataFrame:
    """予診のみ (a preliminary examination, no dose) is kept for payment; a second record of the
    same examination, in the file or on record, is a duplicate. Returns the examinations to write."""
    p = rows.df[prelim].copy()
    p["i"] = np.flatnonzero(prelim)
    pkey = ["atena_no", "vaccine_code", "phase", "dose_no_int", "dose_iso", "institution_code"]
    in_file_dup = p.duplicated(pkey, keep="first").to_numpy()
    ep = _existing_prelims(conn, p["atena_no"].to_numpy())
    ep["dose_no_int"] = ep.pop("dose_no").astype("int64")
    on_rec = (
        p[pkey].merge(ep.assign(_hit=True), on=pkey, how="left")["_hit"].fillna(False).to_numpy(dtype=bool)
    )
    rows.duplicate[p["i"].to_numpy()[in_file_dup | on_rec]] = True
    p = p[~(in_file_dup | on_rec)]
    return p


def _held(rows: _Rows, match: pd.DataFrame) -> tuple[ledger.Quarantined, ledger.ForReview | None]:
    """The rows kept out of the registry, as received: the quarantined with their reason codes,
    those for review (None: none) with the matcher's candidates and scores."""
    to_review = rows.review != ""
    review = None
    if to_review.any():
        rv = np.flatnonzero(to_review)
        review = ledger.ForReview(
            row_nos=rows.df.loc[to_review, "row_no"].astype("int64").tolist(),
            reasons=list(rows.review[to_review]),
            candidates=list(match.loc[rv, "candidates"]),
            scores=list(match.loc[rv, "scores"]),
            raws=[received_json(r) for r in rows.received[to_review].to_dict("records")],
        )
    q = rows.quarantine != ""
    quarantined = ledger.Quarantined(
        row_nos=[int(x) for x in rows.df.loc[q, "row_no"]],
        reasons=list(rows.quarantine[q]),
        raws=[received_json(r) for r in rows.received[q].to_dict("records")],
    )
    return quarantined, review


def late_file_date(conn: Connection, feed: str, original: dt.date) -> dt.date:
    """The file date that books the fee of a record resolved late (a review decision) to the first
    payment month not yet published: a published statement is never written again, so the fee
    goes on the next one, beside the next regular file's (decisions.md §36)."""
    latest = conn.exec_driver_sql(
        "SELECT MAX(payment_month) FROM fee_statements WHERE feed = " + (db.mark(conn)),
        (feed,),
    ).scalar()
    if latest is None or payment_month(original) > latest:
        return original
    # The last day of the latest published payment month: its payment month is the next one.
    return (dt.date(int(latest[:4]), int(latest[4:]), 28) + dt.timedelta(days=4)).replace(
        day=1
    ) - dt.timedelta(days=1)


def derived_columns(table: pa.Table, name: str) -> pa.Table:
    """What the vaccination suites check besides the received text: wareki dates parsed
    (``<col>__date``), the municipality-code check digit, and the ward of the file name."""
    for col in DATE_COLUMNS:
        table = table.append_column(
            f"{col}__date", dates.parse_wareki_dates(table.column(col).combine_chunks())
        )
    place = table.column("place_code").combine_chunks()
    valid = validators.municipality_code_valid_mask(place)
    table = table.append_column("place_code__check", pa.array(valid.astype(bool)))
    if m := OTHERWARD.file_pattern.fullmatch(name):  # the other ward's code, checked on every row
        ward = pa.scalar(m.group("ward"), pa.string())
        table = table.append_column("file_ward", pa.repeat(ward, table.num_rows))
    return table


def apply(conn: Connection, staged: pa.Table, ctx: ApplyContext) -> Outcome:
    """The feeds' apply step. A review decision applied late books its fee to the first payment
    month not yet published (:func:`late_file_date`)."""
    file_date = ctx.file_date
    if ctx.decided_atena is not None:
        file_date = late_file_date(conn, ctx.feed, file_date)
    return apply_file(
        conn,
        staged,
        feed=ctx.feed,
        manifest_id=ctx.manifest_id,
        file_name=ctx.file_name,
        file_date=file_date,
        rejected=ctx.rejected,
        actor=ctx.actor,
        decided_atena=ctx.decided_atena,
    )


def _kind(layout: Layout, suite: str) -> FileKind:
    return FileKind(layout=layout, suite=suite, apply=apply, derive=derived_columns)


FEEDS = feeds_of(
    __name__,
    [
        Feed(
            name="clinic",
            purpose="医師会接種記録の台帳登録・委託料算定 (clinic vaccination records and commission fees)",
            kinds=(_kind(CLINIC, "clinic_records"),),
            changes=("doses",),
            after_apply=("fees",),
            reviews=True,
        ),
        Feed(
            name="otherward",
            purpose="他区接種分の台帳登録 (vaccinations of our residents in other wards)",
            kinds=(_kind(OTHERWARD, "otherward_records"),),
            changes=("doses",),
            after_apply=("fees",),
            reviews=True,
        ),
    ],
)
