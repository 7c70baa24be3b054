"""Storing what the vaccination-record apply step (:mod:`vaxreg.feeds.vaccination`) decided: the
doses (new ones in bulk, corrections through ``dose_history``), the preliminary examinations
(予診のみ) and the fee details of what was stored, each change with its audit records. Set-based,
in the caller's transaction; nothing here decides what a row is."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.feeds.columns import append_code, iso, same_values
from vaxreg.registry import ledger, welfare
from vaxreg.registry.db import bulk_insert
from vaxreg.registry.schema_doses import DOSE_ATTRIBUTES, DOSE_KEY
from vaxreg.rules import fees


@dataclasses.dataclass(frozen=True)
class Target:
    """Where the rows of one file are written, and by whom (``decided_by``) and when."""

    feed: str
    manifest_id: int
    file_name: str
    decided_by: str
    now: str


def write_doses(
    conn: Connection, actor: ledger.Actor, d: pd.DataFrame, corr: pd.DataFrame, at: Target
) -> pd.DataFrame:
    """Write the doses: new ones in bulk, corrections through ``dose_history``; one audit
    record per dose written. Returns the new doses (not the corrections)."""
    is_corr = d["i"].isin(corr["i"]).to_numpy()
    fresh, fixes = d[~is_corr], d[is_corr]
    _insert_doses(conn, fresh, at.feed, at.manifest_id, at.decided_by, at.now)
    if len(fixes):
        _correct_doses(conn, fixes, corr, at.feed, at.manifest_id, at.decided_by, at.now)
    if len(d):
        _audit_doses(conn, actor, d, corr, is_corr, at.file_name)
    return fresh


def _audit_doses(
    conn: Connection,
    actor: ledger.Actor,
    d: pd.DataFrame,
    corr: pd.DataFrame,
    is_corr: np.ndarray,
    file_name: str,
) -> None:
    """One audit record per dose written: ``*`` for a new dose, the attributes a correction
    changed; the detail names the row, the dose and how its person was placed."""
    attrs = list(DOSE_ATTRIBUTES)
    fields = np.where(is_corr, "", "*").astype(object)
    cj = d[["i"]].merge(corr[["i", *attrs, *(f"{c}_db" for c in attrs)]], on="i", how="left")
    for c in attrs:
        diff = ~same_values(cj[c], cj[f"{c}_db"]) & is_corr
        fields = np.where(diff, fields + np.where(fields == "", "", ",") + c, fields)
    detail = (
        file_name
        + "#row="
        + d["row_no"].astype(str)
        + " vaccine="
        + d["vaccine_code"]
        + "/"
        + d["phase"]
        + "/"
        + d["dose_no"].astype(str)
        + " match="
        + d["how"]
    ).to_numpy()
    for action, mask in (("insert", ~is_corr), ("update", is_corr)):
        if mask.any():
            ledger.write_audit(
                conn,
                actor,
                action=action,
                table_name="doses",
                atena_no=d["atena_no"].to_numpy()[mask],
                fields_changed=fields[mask],
                detail=detail[mask],
            )


def write_preliminary(conn: Connection, actor: ledger.Actor, p: pd.DataFrame, at: Target) -> None:
    """The preliminary examinations (予診のみ) ``p`` in bulk, one audit record each."""
    if not len(p):
        return
    bulk_insert(
        conn,
        "preliminary_exams",
        pa.table(
            {
                "atena_no": pa.array(p["atena_no"], pa.string()),
                "vaccine_code": pa.array(p["vaccine_code"], pa.string()),
                "phase": pa.array(p["phase"], pa.string()),
                "dose_no": pa.array(p["dose_no_int"], pa.int64()),
                "exam_date": pa.array(p["dose_iso"], pa.string()),
                "institution_code": pa.array(p["institution_code"], pa.string()),
                "place_code": pa.array(p["place_code"], pa.string()),
                "self_pay_declared": pa.array(p["self_pay_declared"], pa.string()),
                "source": pa.repeat(pa.scalar(at.feed, pa.string()), len(p)),
                "manifest_id": pa.repeat(pa.scalar(at.manifest_id, pa.int64()), len(p)),
                "row_no": pa.array(p["row_no"], pa.int64()),
                "decided_by": pa.array(at.decided_by + " (" + p["how"] + ")", pa.string()),
                "recorded_at": pa.repeat(pa.scalar(at.now, pa.string()), len(p)),
            }
        ),
    )
    ledger.write_audit(
        conn,
        actor,
        action="insert",
        table_name="preliminary_exams",
        atena_no=p["atena_no"].to_numpy(),
        fields_changed=np.full(len(p), "*", dtype=object),
        detail=(
            at.file_name + "#row=" + p["row_no"].astype(str) + " preliminary match=" + p["how"]
        ).to_numpy(),
    )


def _dose_table(
    d: pd.DataFrame, feed: str, manifest_id: int, decided_by: str, now: str, version: pa.Array
) -> pa.Table:
    k = len(d)
    return pa.table(
        {
            "atena_no": pa.array(d["atena_no"], pa.string()),
            "vaccine_code": pa.array(d["vaccine_code"], pa.string()),
            "phase": pa.array(d["phase"], pa.string()),
            "dose_no": pa.array(d["dose_no_int"], pa.int64()),
            "dose_date": pa.array(d["dose_iso"], pa.string()),
            **{c: pa.array(d[c], pa.string()) for c in DOSE_ATTRIBUTES},
            "source": pa.repeat(pa.scalar(feed, pa.string()), k),
            "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
            "row_no": pa.array(d["row_no"], pa.int64()),
            "off_schedule": pa.array(d["off_schedule"].replace("", None), pa.string()),
            "flags": pa.array(d["flags"].replace("", None), pa.string()),
            "version": version,
            "decided_by": pa.array(decided_by + " (" + d["how"] + ")", pa.string()),
            "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
        }
    )


def _insert_doses(
    conn: Connection, d: pd.DataFrame, feed: str, manifest_id: int, decided_by: str, now: str
) -> None:
    if len(d):
        version = pa.repeat(pa.scalar(1, pa.int64()), len(d))
        bulk_insert(conn, "doses", _dose_table(d, feed, manifest_id, decided_by, now, version))


def _correct_doses(
    conn: Connection,
    fixes: pd.DataFrame,
    corr: pd.DataFrame,
    feed: str,
    manifest_id: int,
    decided_by: str,
    now: str,
) -> None:
    """Move the current versions to dose_history, then overwrite them (one statement each)."""
    ids = fixes[["i"]].merge(corr[["i", "id", "version"]], on="i")
    cols = ["id", *DOSE_KEY, *DOSE_ATTRIBUTES, "source", "manifest_id", "row_no", "off_schedule", "flags"]
    cols += ["version", "decided_by", "recorded_at"]
    conn.exec_driver_sql("CREATE TEMP TABLE tmp_fix_ids (id BIGINT PRIMARY KEY)")
    bulk_insert(conn, "tmp_fix_ids", pa.table({"id": pa.array(ids["id"].astype("int64"), pa.int64())}))
    hist_cols = ", ".join(c for c in cols if c != "id")
    conn.exec_driver_sql(
        f"INSERT INTO dose_history (dose_id, {hist_cols}, superseded_at, superseded_by) "
        f"SELECT d.id, {', '.join('d.' + c for c in cols if c != 'id')}, '{now}', {int(manifest_id)} "
        "FROM doses d JOIN tmp_fix_ids t ON t.id = d.id"
    )
    conn.exec_driver_sql("DROP TABLE tmp_fix_ids")
    version = pa.array(ids["version"].astype("int64") + 1, pa.int64())
    table = _dose_table(
        fixes.set_index("i").loc[ids["i"]].reset_index(), feed, manifest_id, decided_by, now, version
    )
    conn.exec_driver_sql("CREATE TEMP TABLE tmp_fix AS SELECT * FROM doses WHERE 1 = 0")
    bulk_insert(conn, "tmp_fix", table)
    names = table.column_names
    updates = ", ".join(f"{c} = excluded.{c}" for c in names if c not in DOSE_KEY)
    conn.exec_driver_sql(
        f"INSERT INTO doses ({', '.join(names)}) SELECT {', '.join(names)} FROM tmp_fix WHERE true "
        f"ON CONFLICT ({', '.join(DOSE_KEY)}) DO UPDATE SET {updates}"
    )
    conn.exec_driver_sql("DROP TABLE tmp_fix")


def write_fees(
    conn: Connection,
    d: pd.DataFrame,
    p: pd.DataFrame,
    feed: str,
    manifest_id: int,
    file_name: str,
    file_date: dt.date,
    now: str,
) -> int:
    recs = pd.concat(
        [
            pd.DataFrame(
                {
                    "row_no": d["row_no"].to_numpy(),
                    "atena_no": d["atena_no"].to_numpy(),
                    "institution_code": d["institution_code"].to_numpy(),
                    "kind": "dose",
                    "vaccine_code": d["vaccine_code"].to_numpy(),
                    "service_date": d["dose_date__date"].to_numpy(dtype="datetime64[D]"),
                    "declared": d["self_pay_declared"].to_numpy(),
                    "off": d["off_schedule"].to_numpy(),
                }
            ),
            pd.DataFrame(
                {
                    "row_no": p["row_no"].to_numpy(),
                    "atena_no": p["atena_no"].to_numpy(),
                    "institution_code": p["institution_code"].to_numpy(),
                    "kind": "preliminary",
                    "vaccine_code": p["vaccine_code"].to_numpy(),
                    "service_date": p["dose_date__date"].to_numpy(dtype="datetime64[D]"),
                    "declared": p["self_pay_declared"].to_numpy(),
                    "off": "",
                }
            ),
        ],
        ignore_index=True,
    )
    if recs.empty:
        return 0
    derived = welfare.self_pay_class(conn, recs["atena_no"], recs["service_date"].to_numpy())
    has_derived = derived.notna().to_numpy()
    recs["self_pay_class"] = np.where(has_derived, derived.to_numpy(), recs["declared"].to_numpy())
    recs["self_pay_source"] = np.where(has_derived, "registry", "declared")
    recs["payable"] = (recs["off"] == "").to_numpy()
    priced = fees.price(recs)
    flags = np.full(len(priced), "", dtype=object)
    for mask, code in (
        (~has_derived, "self_pay_declared"),
        (has_derived & (derived.to_numpy() != recs["declared"].to_numpy()), "self_pay_declared_disagrees"),
        (priced["no_fee_on_date"].to_numpy(), "no_fee_on_date"),
        ((priced["off"] != "").to_numpy(), "off_schedule"),
    ):
        append_code(flags, mask, code)
    k = len(priced)
    bulk_insert(
        conn,
        "fee_details",
        pa.table(
            {
                "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), k),
                "feed": pa.repeat(pa.scalar(feed, pa.string()), k),
                "file_name": pa.repeat(pa.scalar(file_name, pa.string()), k),
                "row_no": pa.array(priced["row_no"], pa.int64()),
                "institution_code": pa.array(priced["institution_code"], pa.string()),
                "payment_month": pa.repeat(pa.scalar(fees.payment_month(file_date), pa.string()), k),
                "kind": pa.array(priced["kind"], pa.string()),
                "vaccine_code": pa.array(priced["vaccine_code"], pa.string()),
                "service_date": pa.array(iso(priced["service_date"]), pa.string()),
                "self_pay_class": pa.array(priced["self_pay_class"], pa.string()),
                "self_pay_source": pa.array(priced["self_pay_source"], pa.string()),
                "flags": pa.array(flags, pa.string(), mask=flags == ""),
                "unit_price": pa.array(priced["unit_price"], pa.int64()),
                "self_pay_amount": pa.array(priced["self_pay_amount"], pa.int64()),
                "fee": pa.array(priced["fee"], pa.int64()),
                "recorded_at": pa.repeat(pa.scalar(now, pa.string()), k),
            }
        ),
    )
    return int(priced["fee"].sum())
