"""Feed ``prior``: replies to the history inquiries (接種歴照会への回答, outputs.md §5.3),
``KAITO_YYYYMMDD.csv`` (UTF-8, BOM allowed), suite ``expectations/prior.json``.

Each row names an inquiry and one dose the previous municipality holds (a row with no vaccine
code says it holds none). In the caller's transaction, set-based:

1. **the inquiry**: an unknown ``inquiry_no`` is quarantined (``inquiry_unknown``); an
   ``integrated_no`` other than the inquiry's (``integrated_no_mismatch``), or the inquiry's number
   released since (``integrated_no_released``), or another ``municipality_code`` than the one asked
   (``municipality_code_mismatch``) too. Every other row closes its inquiry (answered).
2. **the dose**, like a clinic row (:func:`vaxreg.rules.check.judge` against the person's whole
   history, :mod:`vaxreg.feeds.vaccination_store` to write): a dose already on record is a
   duplicate (a reply never overwrites our own record); two different rows for one dose in the
   file are quarantined; an invalid dose is quarantined with its codes; the others are stored
   with ``source=prior`` (off-schedule codes kept) and earn no fee.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.feeds import ApplyContext, Feed, FileKind, feeds_of
from vaxreg.feeds import vaccination_store as store
from vaxreg.feeds.columns import drop_table, iso, temp_table
from vaxreg.feeds.layout import Layout
from vaxreg.feeds.reader import received_json
from vaxreg.registry import db, ledger, welfare
from vaxreg.registry.db import read_table
from vaxreg.registry.schema_doses import DOSE_ATTRIBUTES
from vaxreg.rules import check

PRIOR = Layout(
    feed="prior",
    file_pattern=re.compile(r"KAITO_(?P<date>[0-9]{8})\.csv"),
    columns=(
        "inquiry_no",
        "integrated_no",
        "municipality_code",
        "vaccine_code",
        "phase",
        "dose_no",
        "dose_date",
        "product_name",
    ),
    encoding="utf-8",
)
PURPOSE = "転入者の接種歴照会への回答の登録 (prior vaccination history of a move-in)"
KEY = ["atena_no", "vaccine_code", "phase", "dose_no_int", "dose_iso"]


def _inquiries(conn: Connection, nos: np.ndarray) -> pd.DataFrame:
    """The inquiries named, with their person's birth date and sex and whether the number holds."""
    temp_table(conn, "tmp_kaito", {"inquiry_no": "VARCHAR(14)"}, pa.table({"inquiry_no": pa.array(nos)}))
    found = read_table(
        conn,
        "SELECT h.inquiry_no, h.atena_no, h.integrated_no, h.municipality_code, CAST(p.birth_date AS TEXT), "
        "p.sex, n.integrated_no FROM history_inquiries h JOIN tmp_kaito t ON t.inquiry_no = h.inquiry_no "
        "LEFT JOIN persons p ON p.atena_no = h.atena_no "
        "LEFT JOIN integrated_numbers n ON n.atena_no = h.atena_no AND n.released_date IS NULL",
        ["inquiry_no", "atena_no", "q_integrated_no", "q_municipality", "birth_iso", "sex", "held_no"],
    ).to_pandas()
    drop_table(conn, "tmp_kaito")
    return found


def _on_record(conn: Connection, atena: np.ndarray) -> pd.DataFrame:
    cols = ["atena_no", "vaccine_code", "phase", "dose_no", "dose_date"]
    if not len(atena):
        return pd.DataFrame(columns=cols)
    temp_table(conn, "tmp_kaito_atena", {"atena_no": "VARCHAR(10)"}, pa.table({"atena_no": pd.unique(atena)}))
    found = read_table(
        conn,
        "SELECT d.atena_no, d.vaccine_code, d.phase, d.dose_no, CAST(d.dose_date AS TEXT) FROM doses d "
        "JOIN tmp_kaito_atena t ON t.atena_no = d.atena_no",
        cols,
        types={"dose_no": pa.int64()},
    ).to_pandas()
    drop_table(conn, "tmp_kaito_atena")
    return found


def _screen(df: pd.DataFrame, q: pd.DataFrame, reason: np.ndarray, live: np.ndarray) -> pd.DataFrame:
    """Step 1 on the live rows; returns ``df`` with the inquiry's person and state joined."""
    j = df.merge(q, on="inquiry_no", how="left")
    for code, bad in (
        ("inquiry_unknown", j["atena_no"].isna()),
        ("integrated_no_mismatch", j["atena_no"].notna() & (j["integrated_no"] != j["q_integrated_no"])),
        ("integrated_no_released", j["atena_no"].notna() & (j["held_no"] != j["q_integrated_no"])),
        (
            "municipality_code_mismatch",
            j["atena_no"].notna() & (j["municipality_code"] != j["q_municipality"]),
        ),
    ):
        hit = live & (reason == "") & bad.to_numpy(dtype=bool)
        reason[hit] = code
    return j


def apply(conn: Connection, staged: pa.Table, ctx: ApplyContext) -> ledger.Outcome:
    """Apply one validated KAITO file inside the caller's transaction (the module's steps)."""
    df = staged.to_pandas()
    out = ledger.Outcome(rows_read=len(df) + len(ctx.rejected))
    received = df[list(PRIOR.columns)].copy()
    dup = df["is_duplicate"].to_numpy(dtype=bool).copy()
    reason = np.where((df["reasons"] != "").to_numpy() & ~dup, df["reasons"].to_numpy(), "").astype(object)
    live = ~dup & (reason == "")
    j = _screen(df, _inquiries(conn, pd.unique(df.loc[live, "inquiry_no"])), reason, live)
    answered = live & (reason == "")
    closes = pd.unique(j.loc[answered, "inquiry_no"])
    dose_rows = answered & j["vaccine_code"].notna().to_numpy()
    d = j[dose_rows].assign(i=np.flatnonzero(dose_rows))
    d["dose_date__date"] = pd.to_datetime(d["dose_date"], format="%Y-%m-%d")  # the suite checked it
    d["dose_iso"] = iso(d["dose_date__date"])
    d["dose_no_int"] = pd.to_numeric(d["dose_no"]).astype("int64")
    in_file = d.duplicated([*KEY, "product_name"], keep="first").to_numpy()
    dup[d["i"].to_numpy()[in_file]] = True
    d = d[~in_file]
    conflict = d.duplicated(KEY, keep=False).to_numpy()
    reason[d["i"].to_numpy()[conflict]] = "conflicting_records_in_file"
    d = d[~conflict]
    hist = _on_record(conn, d["atena_no"].to_numpy())
    seen = (
        d[KEY]
        .merge(
            hist.rename(columns={"dose_no": "dose_no_int", "dose_date": "dose_iso"}).assign(_on=True),
            on=KEY,
            how="left",
        )["_on"]
        .notna()
        .to_numpy()
    )
    dup[d["i"].to_numpy()[seen]] = True
    d = _judged(conn, d[~seen], hist, reason)
    _store(conn, ctx, d)
    _close(conn, closes, ctx.manifest_id)
    out.duplicates = int(dup.sum())
    out.accepted = int(answered.sum()) - int((reason[answered] != "").sum()) - int((dup & answered).sum())
    q = reason != ""
    return ledger.close_file(
        conn,
        ctx.actor,
        feed="prior",
        file_name=ctx.file_name,
        manifest_id=ctx.manifest_id,
        out=out,
        quarantined=ledger.Quarantined(
            row_nos=[int(x) for x in df.loc[q, "row_no"]],
            reasons=list(reason[q]),
            raws=[received_json(r) for r in received[q].to_dict("records")],
        ),
        rejected=ctx.rejected,
    )


def _judged(conn: Connection, d: pd.DataFrame, hist: pd.DataFrame, reason: np.ndarray) -> pd.DataFrame:
    """The schedule check against the whole history: invalid doses quarantined, the others with
    ``off_schedule`` and ``flags``."""
    if not len(d):
        return d.assign(off_schedule=[], flags=[])
    hist = hist.assign(dose_date=pd.to_datetime(hist["dose_date"]).to_numpy(dtype="datetime64[D]"))
    days = d["dose_date__date"].to_numpy(dtype="datetime64[D]")
    new = pd.DataFrame(
        {
            "atena_no": d["atena_no"].to_numpy(),
            "vaccine_code": d["vaccine_code"].to_numpy(),
            "phase": d["phase"].to_numpy(),
            "dose_no": d["dose_no_int"].to_numpy(),
            "dose_date": days,
            "birth_date": pd.to_datetime(d["birth_iso"]).to_numpy(dtype="datetime64[D]"),
            "sex": d["sex"].to_numpy(),
            "disability": welfare.disability_letters(
                conn, d["atena_no"].reset_index(drop=True), days
            ).to_numpy(),
        }
    )
    verdict = check.judge(new, hist[list(check.DOSE_COLUMNS)], None)
    invalid = (verdict["invalid"] != "").to_numpy()
    reason[d["i"].to_numpy()[invalid]] = verdict["invalid"].to_numpy()[invalid]
    d = d.assign(off_schedule=verdict["off_schedule"].to_numpy(), flags=verdict["flags"].to_numpy())
    return d[~invalid]


def _store(conn: Connection, ctx: ApplyContext, d: pd.DataFrame) -> None:
    """The doses with ``source=prior`` (no fee: nothing is priced here)."""
    if not len(d):
        return
    d = d.assign(how="inquiry " + d["inquiry_no"], lot_no=None, institution_code=None, place_code=None)
    d = d.assign(self_pay_declared=None)
    attrs = list(DOSE_ATTRIBUTES)
    corr = pd.DataFrame(columns=["i", "id", "version", *attrs, *(f"{c}_db" for c in attrs)])
    at = store.Target(
        "prior",
        ctx.manifest_id,
        ctx.file_name,
        f"{ctx.actor.dag_id}/{ctx.actor.run_id}/{ctx.actor.task_id}",
        ledger.now_text(),
    )
    store.write_doses(conn, ctx.actor, d, corr, at)


def _close(conn: Connection, nos: np.ndarray, manifest_id: int) -> None:
    """The inquiries answered by this file (a second answer leaves the first one's date)."""
    if not len(nos):
        return
    temp_table(
        conn, "tmp_kaito_close", {"inquiry_no": "VARCHAR(14)"}, pa.table({"inquiry_no": pa.array(nos)})
    )
    m = db.mark(conn)
    conn.exec_driver_sql(
        f"UPDATE history_inquiries SET answered_at = {m}, answered_manifest_id = {m} "
        "WHERE answered_at IS NULL AND inquiry_no IN (SELECT inquiry_no FROM tmp_kaito_close)",
        (ledger.now_text(), manifest_id),
    )
    drop_table(conn, "tmp_kaito_close")


FEEDS = feeds_of(
    __name__,
    [
        Feed(
            name="prior",
            purpose=PURPOSE,
            kinds=(FileKind(layout=PRIOR, suite="prior", apply=apply, date_columns=("dose_date",)),),
            changes=("doses",),
        )
    ],
)
