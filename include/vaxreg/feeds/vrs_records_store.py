"""Storing the VRS doses the records apply step (:mod:`vaxreg.feeds.vrs_records_apply`) decided:
vaccine ``31`` (phase ``00``, dose number n) in ``doses``, maker as ``product_name`` and lot as
``lot_no``; a corrected dose's prior version in ``dose_history``; the VRS attributes of each
version in ``vrs_dose_details``; the audit records. Set-based, in the caller's transaction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from vaxreg.feeds.columns import combined, drop_table, temp_table
from vaxreg.registry import ledger
from vaxreg.registry.db import bulk_insert

VACCINE = "31"  # 新型コロナ（特例臨時）, vaccines.md
PHASE = "00"
DOSE_FIELDS = ("dose_date", "maker", "lot_no", "voucher_no", "voucher_municipality", "venue", "doctor")


@dataclasses.dataclass
class Writes:
    """The doses to write (one per person and dose number): position in ``staged``, person,
    dose number, the dose's values (:data:`DOSE_FIELDS`), and for a correction the id and
    version of the dose on record (-1 and 0 for a new dose)."""

    idx: np.ndarray
    person: pa.Array
    dose_no: np.ndarray
    fields: dict[str, pa.Array]
    ids: np.ndarray
    versions: np.ndarray

    def take(self, sel: np.ndarray) -> Writes:
        """The doses at the positions ``sel``."""
        pos = pa.array(sel)
        return Writes(
            self.idx[sel],
            self.person.take(pos),
            self.dose_no[sel],
            {f: v.take(pos) for f, v in self.fields.items()},
            self.ids[sel],
            self.versions[sel],
        )


def write_doses(
    conn: Connection,
    staged: pa.Table,
    w: Writes,
    off: np.ndarray,
    manifest_id: int,
    decided_by: str,
    now: str,
) -> None:
    """Write the doses: a corrected dose's current version to ``dose_history``, then
    replaced (same id, version + 1); new doses in bulk; then the VRS details of every version
    written (:func:`_write_details`)."""
    k = len(w.idx)
    if k == 0:
        return
    is_corr = w.ids >= 0
    if is_corr.any():
        _supersede(conn, w.ids[is_corr], manifest_id, now)
    version = np.where(is_corr, w.versions + 1, 1)
    row_no = combined(staged, "row_no").take(pa.array(w.idx)).cast(pa.int64())
    table = pa.table(
        {
            "id": pa.array(w.ids, pa.int64()),
            "atena_no": w.person,
            "vaccine_code": pa.repeat(pa.scalar(VACCINE, pa.string()), k),
            "phase": pa.repeat(pa.scalar(PHASE, pa.string()), k),
            "dose_no": pa.array(w.dose_no, pa.int64()),
            "dose_date": w.fields["dose_date"],
            "product_name": w.fields["maker"],
            "lot_no": w.fields["lot_no"],
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
    _write_details(conn, staged, w, row_no, manifest_id)


def _supersede(conn: Connection, ids: np.ndarray, manifest_id: int, now: str) -> None:
    """The current versions of the doses ``ids`` to ``dose_history``, then out of ``doses``."""
    cols = ["id", "atena_no", "vaccine_code", "phase", "dose_no", "dose_date", "product_name", "lot_no"]
    cols += ["institution_code", "place_code", "self_pay_declared", "source", "manifest_id", "row_no"]
    cols += ["off_schedule", "flags", "version", "decided_by", "recorded_at"]
    temp_table(conn, "tmp_vrs_fix", {"id": "BIGINT PRIMARY KEY"}, pa.table({"id": pa.array(ids, pa.int64())}))
    rest = [c for c in cols if c != "id"]
    conn.exec_driver_sql(
        f"INSERT INTO dose_history (dose_id, {', '.join(rest)}, superseded_at, superseded_by) "
        f"SELECT d.id, {', '.join('d.' + c for c in rest)}, '{now}', {int(manifest_id)} "
        "FROM doses d JOIN tmp_vrs_fix t ON t.id = d.id"
    )
    conn.exec_driver_sql("DELETE FROM doses WHERE id IN (SELECT id FROM tmp_vrs_fix)")
    drop_table(conn, "tmp_vrs_fix")


def _write_details(conn: Connection, staged: pa.Table, w: Writes, row_no: pa.Array, manifest_id: int) -> None:
    """The VRS details of what was just written (new and corrected doses carry this manifest id),
    joined to their doses in the database, in the order of the doses."""
    sel = pa.array(np.arange(len(w.idx)))
    ts = combined(staged, "registered_at__ts").take(pa.array(w.idx)).cast(pa.timestamp("s"))
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
                "atena_no": w.person,
                "dose_no": pa.array(w.dose_no, pa.int64()),
                "registered_at": pc.strftime(ts, format="%Y-%m-%d %H:%M:%S"),
                "voucher_no": w.fields["voucher_no"],
                "voucher_municipality": w.fields["voucher_municipality"],
                "venue": w.fields["venue"],
                "doctor": w.fields["doctor"],
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


def audit_doses(conn: Connection, actor: ledger.Actor, w: Writes, file_name: str) -> None:
    """One audit record per person and action (insert, update): the doses are named in the detail."""
    if not len(w.idx):
        return
    is_corr = w.ids >= 0
    a = pa.table(
        {
            "person": w.person,
            "n": pa.array(w.dose_no).cast(pa.string()),
            "ord": pa.array(np.arange(len(w.idx))),
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
        detail = pc.binary_join_element_wise(pa.scalar(file_name + f" vaccine={VACCINE} doses="), joined, "")
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
