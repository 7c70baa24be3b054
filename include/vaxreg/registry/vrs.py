"""Apply the VRS files (vrs.md) and publish the VRS flags (feeds.md §7), set-based.

**Subjects** (``VRS_SUBJECTS_YYYYMMDD.csv``): one voucher per row, kept in ``vrs_subjects``
(unique per municipality and voucher number). A voucher seen again with the same holder is a
duplicate; with other values a correction (prior version to ``vrs_subject_history``).

**Records** (``VRS_RECORDS_YYYYMMDD.csv``), unpivoted at parse to one row per dose. Each file
row is resolved to a person exactly as vrs.md says:

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

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from vaxreg import identity, outbound, schedule
from vaxreg.feeds import FileRejected, home_municipality, scrub
from vaxreg.registry import ledger
from vaxreg.registry.db import bulk_insert

VACCINE = "31"  # 新型コロナ（特例臨時）, vaccines.md
PHASE = "00"
CAMPAIGN_START = dt.date(2021, 2, 17)
DOSE_FIELDS = ("dose_date", "maker", "lot_no", "voucher_no", "voucher_municipality", "venue", "doctor")
SUBJECT_FIELDS = ("atena_no", "name_kana", "birth_date", "sex")
FLAGS = {"moved_out": "MOVED_OUT", "deceased": "DECEASED"}


@dataclasses.dataclass
class Outcome:
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    review: int = 0
    duplicates: int = 0
    corrections: int = 0  # not part of the sum
    off_schedule: int = 0
    file_rows: int = 0  # rows of the file (records: persons; the unit above is the dose)

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def manifest_counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("rows_read", "accepted", "quarantined", "review", "duplicates")}


# --------------------------------------------------------------------------- validation inputs


def derived_columns(table: pa.Table, kind: str) -> pa.Table:
    """What the VRS suites check besides the received text."""
    if kind == "vrs_subjects":
        number, status = identity.voucher_numbers(table.column("voucher"), table.column("municipality_code"))
        code = table.column("municipality_code").combine_chunks()
        return (
            table.append_column("voucher_no", number)
            .append_column("voucher__status", status)
            .append_column("municipality_code__check", pa.array(identity.municipality_code_valid_mask(code)))
            .append_column("birth_date__date", identity.parse_compact_dates(table.column("birth_date")))
        )
    number, status = identity.voucher_numbers(table.column("voucher"), table.column("voucher_municipality"))
    code = table.column("voucher_municipality").combine_chunks()
    ts = identity.parse_compact_timestamps(table.column("registered_at"))
    return (
        table.append_column("voucher_no", number)
        .append_column("voucher__status", status)
        .append_column("voucher_municipality__check", pa.array(identity.municipality_code_valid_mask(code)))
        .append_column("registered_at__ts", ts)
        .append_column("registered_at__date", pc.floor_temporal(ts, unit="day"))
        .append_column("dose_date__date", identity.parse_compact_dates(table.column("dose_date")))
        .append_column(
            "campaign_start__date",
            pa.repeat(
                pa.scalar(dt.datetime.combine(CAMPAIGN_START, dt.time()), pa.timestamp("s")), table.num_rows
            ),
        )
    )


# --------------------------------------------------------------------------- helpers


def _temp(conn: Connection, name: str, columns: dict[str, str], data: pa.Table) -> None:
    cols = ", ".join(f"{c} {t}" for c, t in columns.items())
    conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({cols})")
    bulk_insert(conn, name, data)


def _drop(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE {name}")


def _iso(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col).dt.strftime("%Y-%m-%d")


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    a, b = a.astype(object), b.astype(object)
    return ((a == b).fillna(False) | (a.isna() & b.isna())).to_numpy(dtype=bool)


def _persons(conn: Connection, atena: np.ndarray) -> pd.DataFrame:
    cols = ["atena_no", "p_status", "p_removed"]
    keys = pd.unique(pd.Series(atena).dropna())
    if len(keys) == 0:
        return pd.DataFrame(columns=cols)
    _temp(
        conn,
        "tmp_vrs_atena",
        {"atena_no": "VARCHAR(10) PRIMARY KEY"},
        pa.table({"atena_no": pa.array(keys, pa.string())}),
    )
    rows = conn.exec_driver_sql(
        "SELECT p.atena_no, p.status, CAST(p.removed_date AS TEXT) FROM persons p "
        "JOIN tmp_vrs_atena t ON t.atena_no = p.atena_no"
    ).fetchall()
    _drop(conn, "tmp_vrs_atena")
    return pd.DataFrame(rows, columns=cols)


def _quarantine(
    conn: Connection,
    file_name: str,
    manifest_id: int,
    row_nos: list[int],
    reasons: list[str],
    raws: list[str],
    now: str,
) -> None:
    k = len(row_nos)
    bulk_insert(
        conn,
        "quarantine",
        pa.table(
            {
                "feed": pa.repeat(pa.scalar("vrs", pa.string()), k),
                "file_name": pa.repeat(pa.scalar(file_name, pa.string()), k),
                "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
                "row_no": pa.array(row_nos, pa.int32()),
                "reasons": pa.array(reasons, pa.string()),
                "raw_row": pa.array(raws, pa.string()),
                "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
            }
        ),
    )


def apply_file(
    conn: Connection,
    staged: pa.Table,
    *,
    kind: str,
    manifest_id: int,
    file_name: str,
    file_date: dt.date,
    rejected: list[tuple[int, str, str]],
    actor: ledger.Actor,
) -> Outcome:
    if kind == "vrs_subjects":
        return apply_subjects(
            conn, staged, manifest_id=manifest_id, file_name=file_name, rejected=rejected, actor=actor
        )
    if kind == "vrs_records":
        return apply_records(
            conn, staged, manifest_id=manifest_id, file_name=file_name, rejected=rejected, actor=actor
        )
    raise FileRejected(f"{file_name}: not a VRS file")


# --------------------------------------------------------------------------- subjects


def apply_subjects(
    conn: Connection,
    staged: pa.Table,
    *,
    manifest_id: int,
    file_name: str,
    rejected: list[tuple[int, str, str]],
    actor: ledger.Actor,
) -> Outcome:
    df = staged.to_pandas()
    n = len(df)
    out = Outcome(rows_read=n + len(rejected), file_rows=n + len(rejected))
    dup = df["is_duplicate"].to_numpy(dtype=bool)
    reason = np.where((df["reasons"] != "").to_numpy() & ~dup, df["reasons"].to_numpy(), "").astype(object)
    live = ~dup & (reason == "")
    home = home_municipality()
    other = live & (df["municipality_code"] != home).to_numpy()
    reason[other] = "municipality_not_ours"
    live &= ~other
    persons = _persons(conn, df.loc[live, "atena_no"].to_numpy())
    unknown = live & ~df["atena_no"].isin(persons["atena_no"]).to_numpy()
    reason[unknown] = "atena_no_unknown"
    live &= ~unknown
    df["birth_date"] = _iso(df["birth_date__date"])
    key = ["municipality_code", "voucher_no"]
    sub = df.loc[live, [*key, *SUBJECT_FIELDS]]
    same = sub.duplicated(keep="first").to_numpy()
    duplicate = dup.copy()
    duplicate[np.flatnonzero(live)[same]] = True
    live[np.flatnonzero(live)[same]] = False
    conflict = np.zeros(n, dtype=bool)
    conflict[np.flatnonzero(live)[df.loc[live, key].duplicated(keep=False).to_numpy()]] = True
    reason[conflict] = "conflicting_records_in_file"
    live &= ~conflict

    d = df[live].copy()
    existing = _existing_subjects(conn, d)
    j = d[["row_no", *key, *SUBJECT_FIELDS]].merge(existing, on=key, how="left", suffixes=("", "_db"))
    on_record = j["id"].notna().to_numpy()
    unchanged = np.logical_and.reduce([_same(j[c], j[f"{c}_db"]) for c in SUBJECT_FIELDS])
    duplicate[np.flatnonzero(live)[on_record & unchanged]] = True
    write = j[~(on_record & unchanged)].copy()
    is_corr = write["id"].notna().to_numpy()
    now = ledger.now_text()
    decided_by = f"{actor.dag_id}/{actor.run_id}/{actor.task_id}"
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
        _temp(conn, "tmp_vrs_fix", {"id": "BIGINT PRIMARY KEY"}, pa.table({"id": pa.array(ids, pa.int64())}))
        conn.exec_driver_sql(
            f"INSERT INTO vrs_subject_history (subject_id, {', '.join(cols)}, superseded_at, superseded_by) "
            f"SELECT s.id, {', '.join('s.' + c for c in cols)}, '{now}', {int(manifest_id)} "
            "FROM vrs_subjects s JOIN tmp_vrs_fix t ON t.id = s.id"
        )
        conn.exec_driver_sql("DELETE FROM vrs_subjects WHERE id IN (SELECT id FROM tmp_vrs_fix)")
        _drop(conn, "tmp_vrs_fix")
    if len(write):
        k = len(write)
        version = np.where(is_corr, write["version"].fillna(0).astype("int64") + 1, 1)
        data = {
            "id": pa.array(write["id"].astype("Int64"), pa.int64()),
            **{
                c: pa.array(write[c], pa.string())
                for c in ("municipality_code", "voucher_no", *SUBJECT_FIELDS)
            },
            "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
            "row_no": pa.array(write["row_no"].astype("int64"), pa.int64()),
            "version": pa.array(version, pa.int64()),
            "decided_by": pa.repeat(pa.scalar(decided_by, pa.string()), k),
            "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
        }
        table = pa.table(data)
        if is_corr.any():
            bulk_insert(conn, "vrs_subjects", table.filter(pa.array(is_corr)))
        if (~is_corr).any():
            bulk_insert(conn, "vrs_subjects", table.filter(pa.array(~is_corr)).drop_columns(["id"]))
        detail = (file_name + "#row=" + write["row_no"].astype("int64").astype(str)).to_numpy()
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
    q = reason != ""
    raws = [
        scrub(
            json.dumps(
                {c: r[c] for c in ("municipality_code", "voucher", "atena_no", "sex")},
                ensure_ascii=False,
                default=str,
            )
        )
        for r in df[q].to_dict("records")
    ]
    _quarantine(
        conn,
        file_name,
        manifest_id,
        [int(x) for x in df.loc[q, "row_no"]] + [r[0] for r in rejected],
        list(reason[q]) + [r[1] for r in rejected],
        raws + [r[2] for r in rejected],
        now,
    )
    out.quarantined = int(q.sum()) + len(rejected)
    out.duplicates = int(duplicate.sum())
    out.accepted = len(write)
    out.corrections = int(is_corr.sum())
    ledger.audit_event(
        conn,
        actor,
        "ingest",
        "ingest_manifest",
        {"file": file_name, "manifest_id": manifest_id} | out.as_dict(),
    )
    assert out.rows_read == out.accepted + out.quarantined + out.review + out.duplicates, out
    return out


def _existing_subjects(conn: Connection, d: pd.DataFrame) -> pd.DataFrame:
    cols = ["id", "municipality_code", "voucher_no", *SUBJECT_FIELDS, "version"]
    if d.empty:
        return pd.DataFrame(columns=cols)
    keys = d[["municipality_code", "voucher_no"]].drop_duplicates()
    _temp(
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
    _drop(conn, "tmp_vrs_vouchers")
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- records


def _resolve(conn: Connection, df: pd.DataFrame, live_rows: np.ndarray) -> pd.DataFrame:
    """Per file row (not an exact duplicate): atena_no of the person, or the review reason and candidates."""
    rows = df.loc[live_rows, ["row_no", "atena_given"]].drop_duplicates("row_no").reset_index(drop=True)
    given = rows["atena_given"].notna().to_numpy()
    well = rows["atena_given"].fillna("").str.fullmatch(r"[0-9]{10}").to_numpy(dtype=bool)
    known = set(_persons(conn, rows.loc[well, "atena_given"].to_numpy())["atena_no"])
    rows["person"] = rows["atena_given"].where(well & rows["atena_given"].isin(known).to_numpy())
    rows["reason"] = np.where(
        given & ~well, "atena_no_format", np.where(well & rows["person"].isna(), "atena_no_unknown", "")
    )
    rows["candidates"] = ""

    # No 個別宛名番号: through our vouchers in the subjects loaded.
    home = home_municipality()
    by_voucher = ~given
    doses = df[live_rows & df["row_no"].isin(rows.loc[by_voucher, "row_no"]).to_numpy()]
    ours = doses[
        (doses["voucher_municipality"] == home).to_numpy() & (doses["voucher__status"] == "valid").to_numpy()
    ]
    vouchers = pd.unique(ours["voucher_no"])
    found = pd.DataFrame(columns=["voucher_no", "holder"])
    if len(vouchers):
        _temp(
            conn,
            "tmp_vrs_v",
            {"voucher_no": "VARCHAR(10) PRIMARY KEY"},
            pa.table({"voucher_no": pa.array(vouchers, pa.string())}),
        )
        found = pd.DataFrame(
            conn.exec_driver_sql(
                "SELECT s.voucher_no, s.atena_no FROM vrs_subjects s "
                "JOIN tmp_vrs_v t ON t.voucher_no = s.voucher_no "
                f"WHERE s.municipality_code = '{home}'"
            ).fetchall(),
            columns=["voucher_no", "holder"],
        )
        _drop(conn, "tmp_vrs_v")
    m = ours[["row_no", "voucher_no"]].merge(found, on="voucher_no", how="left")
    g = m.groupby("row_no").agg(
        n=("voucher_no", "size"),
        found=("holder", "count"),
        holders=("holder", lambda s: ";".join(sorted(set(s.dropna())))),
    )
    r = rows.set_index("row_no")
    idx = r.index[by_voucher]
    g = g.reindex(idx)
    n_ours = g["n"].fillna(0).to_numpy()
    n_found = g["found"].fillna(0).to_numpy()
    holders = g["holders"].fillna("").to_numpy(dtype=object)
    distinct = np.array([len(h.split(";")) if h else 0 for h in holders])
    reason = np.where(
        n_ours == 0,
        "no_atena_no_nor_own_voucher",
        np.where(n_found < n_ours, "voucher_unknown", np.where(distinct > 1, "vouchers_disagree", "")),
    )
    r.loc[idx, "reason"] = reason
    r.loc[idx, "candidates"] = holders
    r.loc[list(idx), "person"] = np.where(reason == "", holders, np.array(None, dtype=object))
    return r.reset_index()


def _existing_doses(conn: Connection, atena: np.ndarray) -> pd.DataFrame:
    cols = ["id", "atena_no", "dose_no", "version", *DOSE_FIELDS]
    keys = pd.unique(pd.Series(atena))
    if len(keys) == 0:
        return pd.DataFrame(columns=cols)
    _temp(
        conn,
        "tmp_vrs_hist",
        {"atena_no": "VARCHAR(10) PRIMARY KEY"},
        pa.table({"atena_no": pa.array(keys, pa.string())}),
    )
    rows = conn.exec_driver_sql(
        "SELECT d.id, d.atena_no, d.dose_no, d.version, CAST(d.dose_date AS TEXT), d.product_name, d.lot_no, "
        "v.voucher_no, v.voucher_municipality, v.venue, v.doctor FROM doses d "
        "JOIN tmp_vrs_hist t ON t.atena_no = d.atena_no "
        "LEFT JOIN vrs_dose_details v ON v.dose_id = d.id AND v.version = d.version "
        f"WHERE d.vaccine_code = '{VACCINE}' AND d.phase = '{PHASE}'"
    ).fetchall()
    _drop(conn, "tmp_vrs_hist")
    return pd.DataFrame(rows, columns=cols)


def _off_schedule(dose_date: np.ndarray, dose_no: np.ndarray) -> np.ndarray:
    """The special campaign's rules from the reviewed rules file: period in force and dose count."""
    rules = schedule.default_rules().rules
    r = rules[(rules["vaccine"] == VACCINE) & (rules["phase"] == PHASE)]
    in_force = np.zeros(len(dose_date), dtype=bool)
    too_many = np.zeros(len(dose_date), dtype=bool)
    for rule in r.itertuples():
        hit = (dose_date >= rule.eff_from) & (dose_date <= rule.eff_to)
        in_force |= hit
        too_many |= hit & (dose_no > int(str(rule.doses)))
    return np.where(~in_force, "no_routine_rule_on_date", np.where(too_many, "dose_count_exceeded", ""))


def apply_records(
    conn: Connection,
    staged: pa.Table,
    *,
    manifest_id: int,
    file_name: str,
    rejected: list[tuple[int, str, str]],
    actor: ledger.Actor,
) -> Outcome:
    df = staged.to_pandas()
    n = len(df)
    file_rows = len(pd.unique(df["row_no"])) + len(rejected)
    out = Outcome(rows_read=n + len(rejected), file_rows=file_rows)
    dup = df["is_duplicate"].to_numpy(dtype=bool)
    reason = np.where((df["reasons"] != "").to_numpy(), df["reasons"].to_numpy(), "").astype(object)
    duplicate = dup.copy()
    now = ledger.now_text()

    # 1. The person of each row.
    rows = _resolve(conn, df, ~dup)
    row_of = df[["row_no"]].merge(rows[["row_no", "person", "reason"]], on="row_no", how="left")
    to_review = ~dup & (row_of["reason"].fillna("") != "").to_numpy()
    df["person"] = row_of["person"].to_numpy()
    live = ~dup & ~to_review & (reason == "")
    quarantined = ~dup & ~to_review & (reason != "")

    # 2. Person state: no dose after death.
    persons = _persons(conn, df.loc[live, "person"].to_numpy())
    ps = df[["person"]].merge(persons.rename(columns={"atena_no": "person"}), on="person", how="left")
    removed = pd.to_datetime(ps["p_removed"]).to_numpy(dtype="datetime64[D]")
    dose_day = df["dose_date__date"].to_numpy(dtype="datetime64[D]")
    dead = live & (ps["p_status"] == "deceased").to_numpy() & ~np.isnat(removed) & (dose_day > removed)
    reason[dead] = "dose_after_death"
    quarantined |= dead
    live &= ~dead

    # 3. Dose identity: in the file, then the registry (person, dose number).
    df["dose_iso"] = _iso(df["dose_date__date"])
    df["dose_date"] = df["dose_iso"]
    key = ["person", "dose_no"]
    d = df[live].copy()
    d["i"] = np.flatnonzero(live)
    d["dose_no"] = d["dose_no"].astype("int64")
    same = d.duplicated([*key, *DOSE_FIELDS], keep="first").to_numpy()
    duplicate[d["i"].to_numpy()[same]] = True
    d = d[~same]
    conflict = d.duplicated(key, keep=False).to_numpy()
    reason[d["i"].to_numpy()[conflict]] = "conflicting_records_in_file"
    quarantined[d["i"].to_numpy()[conflict]] = True
    d = d[~conflict]

    existing = _existing_doses(conn, d["person"].to_numpy())
    existing["dose_no"] = existing["dose_no"].astype("int64")
    ex = existing.rename(columns={"atena_no": "person"})
    j = d[["i", *key, *DOSE_FIELDS]].merge(ex, on=key, how="left", suffixes=("", "_db"))
    on_record = j["id"].notna().to_numpy()
    unchanged = np.logical_and.reduce([_same(j[c], j[f"{c}_db"]) for c in DOSE_FIELDS])
    duplicate[j.loc[on_record & unchanged, "i"].to_numpy()] = True
    write = j[~(on_record & unchanged)]
    d = d.set_index("i").loc[write["i"].to_numpy()].reset_index()
    d["id"] = write["id"].to_numpy()
    d["old_version"] = write["version"].to_numpy()
    is_corr = d["id"].notna().to_numpy()
    d["off_schedule"] = _off_schedule(
        d["dose_date__date"].to_numpy(dtype="datetime64[D]"), d["dose_no"].to_numpy()
    )

    decided_by = f"{actor.dag_id}/{actor.run_id}/{actor.task_id}"
    _write_doses(conn, d, is_corr, manifest_id, decided_by, now)

    # Audit: one record per person and action (the doses are named in the detail).
    if len(d):
        a = d.assign(action=np.where(is_corr, "update", "insert"), n=d["dose_no"].astype(str))
        g = a.groupby(["action", "person"], sort=True)["n"].agg(",".join).reset_index()
        for action in ("insert", "update"):
            part = g[g["action"] == action]
            if len(part):
                ledger.write_audit(
                    conn,
                    actor,
                    action=action,
                    table_name="doses",
                    atena_no=part["person"].to_numpy(),
                    fields_changed=np.full(len(part), "*" if action == "insert" else "dose", dtype=object),
                    detail=(file_name + f" vaccine={VACCINE} doses=" + part["n"]).to_numpy(),
                )

    # Review: one item per unresolvable row, its doses intact.
    rv_rows = rows[rows["reason"] != ""]
    if len(rv_rows):
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
        rvd = df[to_review].assign(dose_date_raw=staged.column("dose_date").to_pandas()[to_review].to_numpy())
        by_row = {
            int(r): [
                {
                    k: (None if pd.isna(v) else (int(v) if k == "dose_no" else v))
                    for k, v in rec.items()
                    if k != "row_no"
                }
                for rec in g.to_dict("records")
            ]
            for r, g in rvd[["row_no", *received]].groupby("row_no")
        }
        rv_rows = rv_rows[rv_rows["row_no"].isin(list(by_row))]
        raws = [
            scrub(
                json.dumps(
                    {"個別宛名番号": a if isinstance(a, str) else None, "doses": by_row[int(r)]},
                    ensure_ascii=False,
                )
            )
            for r, a in zip(rv_rows["row_no"], rv_rows["atena_given"], strict=True)
        ]
        k = len(rv_rows)
        bulk_insert(
            conn,
            "review_items",
            pa.table(
                {
                    "feed": pa.repeat(pa.scalar("vrs", pa.string()), k),
                    "file_name": pa.repeat(pa.scalar(file_name, pa.string()), k),
                    "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
                    "row_no": pa.array(rv_rows["row_no"].astype("int64"), pa.int64()),
                    "reasons": pa.array(rv_rows["reason"], pa.string()),
                    "candidates": pa.array(rv_rows["candidates"].fillna(""), pa.string()),
                    "raw_row": pa.array(raws, pa.string()),
                    "status": pa.repeat(pa.scalar("open", pa.string()), k),
                    "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
                }
            ),
        )

    # Quarantine: one entry per file row, the reasons of its doses as "<n>回目:<code>".
    qd = df[quarantined].assign(code=reason[quarantined])
    qd["tag"] = qd["dose_no"].astype(str) + "回目:" + qd["code"].astype(str).str.replace(";", ",")
    qrows = qd.groupby("row_no").agg(
        reasons=("tag", ";".join), doses=("dose_no", lambda s: ",".join(map(str, s)))
    )
    raws = [scrub(json.dumps({"doses": str(v)}, ensure_ascii=False)) for v in qrows["doses"]]
    _quarantine(
        conn,
        file_name,
        manifest_id,
        [int(x) for x in qrows.index] + [r[0] for r in rejected],
        list(qrows["reasons"]) + [r[1] for r in rejected],
        raws + [r[2] for r in rejected],
        now,
    )

    out.accepted = len(d)
    out.corrections = int(is_corr.sum())
    out.off_schedule = int((d["off_schedule"] != "").sum())
    out.review = int(to_review.sum())
    out.duplicates = int(duplicate.sum())
    out.quarantined = int(quarantined.sum()) + len(rejected)
    ledger.audit_event(
        conn,
        actor,
        "ingest",
        "ingest_manifest",
        {"file": file_name, "manifest_id": manifest_id} | out.as_dict(),
    )
    assert out.rows_read == out.accepted + out.quarantined + out.review + out.duplicates, out
    return out


def _write_doses(
    conn: Connection, d: pd.DataFrame, is_corr: np.ndarray, manifest_id: int, decided_by: str, now: str
) -> None:
    """New doses in bulk; corrections: current version to dose_history, then replaced (same id,
    version + 1); then the VRS details of every version written."""
    if len(d) == 0:
        return
    cols = ["id", "atena_no", "vaccine_code", "phase", "dose_no", "dose_date", "product_name", "lot_no"]
    cols += ["institution_code", "place_code", "self_pay_declared", "source", "manifest_id", "row_no"]
    cols += ["off_schedule", "flags", "version", "decided_by", "recorded_at"]
    if is_corr.any():
        ids = d.loc[is_corr, "id"].astype("int64").to_numpy()
        _temp(conn, "tmp_vrs_fix", {"id": "BIGINT PRIMARY KEY"}, pa.table({"id": pa.array(ids, pa.int64())}))
        rest = [c for c in cols if c != "id"]
        conn.exec_driver_sql(
            f"INSERT INTO dose_history (dose_id, {', '.join(rest)}, superseded_at, superseded_by) "
            f"SELECT d.id, {', '.join('d.' + c for c in rest)}, '{now}', {int(manifest_id)} "
            "FROM doses d JOIN tmp_vrs_fix t ON t.id = d.id"
        )
        conn.exec_driver_sql("DELETE FROM doses WHERE id IN (SELECT id FROM tmp_vrs_fix)")
        _drop(conn, "tmp_vrs_fix")
    k = len(d)
    version = np.where(is_corr, pd.to_numeric(d["old_version"]).fillna(0).astype("int64") + 1, 1)
    table = pa.table(
        {
            "id": pa.array(d["id"].astype("Int64"), pa.int64()),
            "atena_no": pa.array(d["person"], pa.string()),
            "vaccine_code": pa.repeat(pa.scalar(VACCINE, pa.string()), k),
            "phase": pa.repeat(pa.scalar(PHASE, pa.string()), k),
            "dose_no": pa.array(d["dose_no"].astype("int64"), pa.int64()),
            "dose_date": pa.array(d["dose_iso"], pa.string()),
            "product_name": pa.array(d["maker"], pa.string()),
            "lot_no": pa.array(d["lot_no"], pa.string()),
            "source": pa.repeat(pa.scalar("vrs", pa.string()), k),
            "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
            "row_no": pa.array(d["row_no"].astype("int64"), pa.int64()),
            "off_schedule": pa.array(d["off_schedule"].replace("", None), pa.string()),
            "version": pa.array(version, pa.int64()),
            "decided_by": pa.repeat(pa.scalar(decided_by, pa.string()), k),
            "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
        }
    )
    if is_corr.any():
        bulk_insert(conn, "doses", table.filter(pa.array(is_corr)))
    if (~is_corr).any():
        bulk_insert(conn, "doses", table.filter(pa.array(~is_corr)).drop_columns(["id"]))
    # Ids of what was just written (new and corrected doses carry this manifest id).
    written = pd.DataFrame(
        conn.exec_driver_sql(
            f"SELECT id, atena_no, dose_no, version FROM doses WHERE manifest_id = {int(manifest_id)} "
            f"AND source = 'vrs'"
        ).fetchall(),
        columns=["dose_id", "person", "dose_no", "version"],
    )
    written["dose_no"] = written["dose_no"].astype("int64")
    w = d[
        [
            "person",
            "dose_no",
            "registered_at__ts",
            "voucher_no",
            "voucher_municipality",
            "venue",
            "doctor",
            "row_no",
        ]
    ].merge(written, on=["person", "dose_no"])
    bulk_insert(
        conn,
        "vrs_dose_details",
        pa.table(
            {
                "dose_id": pa.array(w["dose_id"].astype("int64"), pa.int64()),
                "version": pa.array(w["version"].astype("int64"), pa.int64()),
                "registered_at": pa.array(
                    pd.to_datetime(w["registered_at__ts"]).dt.strftime("%Y-%m-%d %H:%M:%S"), pa.string()
                ),
                "voucher_no": pa.array(w["voucher_no"], pa.string()),
                "voucher_municipality": pa.array(w["voucher_municipality"], pa.string()),
                "venue": pa.array(w["venue"], pa.string()),
                "doctor": pa.array(w["doctor"], pa.string()),
                "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), len(w)),
                "row_no": pa.array(w["row_no"].astype("int64"), pa.int64()),
            }
        ),
    )


# --------------------------------------------------------------------------- VRS flags (feeds.md §7)


def pending_flags(conn: Connection) -> pd.DataFrame:
    """Move-outs (20, 23) and deaths (21) of holders of our vouchers not yet sent to VRS.

    The person's current state decides: a move-out cancelled (40) before the file is written
    leaves the person resident, so nothing is flagged. One row per voucher of the person."""
    home = home_municipality()
    rows = conn.exec_driver_sql(
        "SELECT s.voucher_no, p.atena_no, p.status, CAST(COALESCE(p.removed_date, p.valid_from) AS TEXT) "
        "FROM persons p JOIN vrs_subjects s ON s.atena_no = p.atena_no "
        f"WHERE s.municipality_code = '{home}' AND p.status IN ('moved_out', 'deceased') "
        "AND NOT EXISTS (SELECT 1 FROM vrs_flags f WHERE f.voucher_no = s.voucher_no "
        "AND f.flag = CASE p.status WHEN 'deceased' THEN 'DECEASED' ELSE 'MOVED_OUT' END "
        "AND f.event_date = COALESCE(p.removed_date, p.valid_from)) "
        "ORDER BY s.voucher_no"
    ).fetchall()
    out = pd.DataFrame(rows, columns=["voucher_no", "atena_no", "status", "date"])
    out["flag"] = out["status"].map(FLAGS)
    return out


def publish_flags(conn: Connection, source: object, actor: ledger.Actor, day: dt.date) -> str | None:
    """Write ``VRS_FLAGS_<day>.csv`` with the pending flags and record them; None when there is
    nothing new, or when that day's file already exists (the flags wait for the next day)."""
    pending = pending_flags(conn)
    if pending.empty:
        return None
    name = outbound.LAYOUTS["vrs_flags"].name_pattern.format(date=day.strftime("%Y%m%d"))
    if conn.exec_driver_sql(f"SELECT 1 FROM vrs_flag_files WHERE file_name = '{name}'").first():
        return None
    table = pa.table(
        {
            "voucher_no": pa.array(pending["voucher_no"], pa.string()),
            "municipality_code": pa.repeat(pa.scalar(home_municipality(), pa.string()), len(pending)),
            "flag": pa.array(pending["flag"], pa.string()),
            "date": pa.array(pending["date"], pa.string()),
        }
    )
    name, sha = outbound.publish(source, "vrs_flags", table, date=day.strftime("%Y%m%d"))  # type: ignore[arg-type]
    now = ledger.now_text()
    k = len(pending)
    bulk_insert(
        conn,
        "vrs_flags",
        pa.table(
            {
                "atena_no": pa.array(pending["atena_no"], pa.string()),
                "voucher_no": pa.array(pending["voucher_no"], pa.string()),
                "flag": pa.array(pending["flag"], pa.string()),
                "event_date": pa.array(pending["date"], pa.string()),
                "file_name": pa.repeat(pa.scalar(name, pa.string()), k),
                "published_at": pa.repeat(pa.scalar(now, pa.string()), k),
            }
        ),
    )
    m = "?" if conn.dialect.name == "sqlite" else "%s"
    conn.exec_driver_sql(
        "INSERT INTO vrs_flag_files (file_name, sha256, rows, run_id, published_at) "
        f"VALUES ({m}, {m}, {m}, {m}, {m})",
        (name, sha, k, actor.run_id, now),
    )
    ledger.write_audit(
        conn,
        actor,
        action="export",
        table_name="vrs_flags",
        atena_no=pending["atena_no"].to_numpy(),
        fields_changed=np.full(k, None, dtype=object),
        detail=(name + " " + pending["flag"]).to_numpy(),
    )
    return name
