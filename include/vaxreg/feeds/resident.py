"""Feed ``resident``: the nightly resident-registry change diff (住民異動差分, feeds.md §2).

The file ``JUKI_DIFF_YYYYMMDD.csv`` (UTF-8), its suite ``expectations/resident_diff.json`` and
the apply step: change events applied to the registry, set-based.

A file's rows are applied in ``seq`` order. Each row carries the person's full
state after the event; the registry keeps the current state in ``persons`` and
every version in ``person_history``. Whether an event may apply depends on the
person's status before it (:func:`judge`); persons with one event in the file are
judged in one vectorised step, the few with several events in seq order.
Everything a file changes is written by bulk statements inside the caller's
transaction, so a file applies whole or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, text

from vaxreg.feeds import ApplyContext, Feed, FileKind, feeds_of
from vaxreg.feeds.columns import same_values
from vaxreg.feeds.layout import Layout
from vaxreg.feeds.reader import checked_my_numbers, raw_row_json
from vaxreg.registry import ledger
from vaxreg.registry.db import bulk_insert, is_postgres
from vaxreg.registry.schema import PERSON_ATTRIBUTES, VERSION_COLUMNS

RESIDENT = Layout(
    feed="resident",
    file_pattern=re.compile(r"JUKI_DIFF_(?P<date>[0-9]{8})\.csv"),
    columns=(
        "seq",
        "atena_no",
        "kojin_no",
        "event_code",
        "event_date",
        "notified_date",
        "name_kanji",
        "name_kana",
        "name_alpha",
        "birth_date",
        "sex",
        "household_no",
        "relationship",
        "householder_name",
        "address",
        "address_date",
        "resident_since",
        "resident_class",
        "foreign_resident_since",
        "removed_date",
        "prev_municipality_code",
    ),
    encoding="utf-8",
    sensitive=("kojin_no",),
    optional=(
        "kojin_no",
        "notified_date",
        "prev_municipality_code",
    ),  # feeds.md §2; outputs.md §5.3 (event 10)
    max_length={"address": 200},
)
PURPOSE = "予防接種台帳の住民異動反映 (resident registry sync for vaccination affairs)"
DATE_COLUMNS = (
    "event_date",
    "notified_date",
    "birth_date",
    "address_date",
    "resident_since",
    "foreign_resident_since",
    "removed_date",
)
EVENT_CODES = ("10", "11", "12", "13", "20", "21", "22", "23", "30", "31", "32", "33", "40")
ENTRY_CODES = frozenset({"10", "11", "12", "13"})  # valid for a person the registry does not know
NEEDS_RESIDENT = frozenset({"13", "20", "21", "22", "23", "30", "31", "32"})
STATUS_AFTER = {
    "10": "resident",
    "11": "resident",
    "12": "resident",
    "13": "resident",
    "40": "resident",
    "20": "moved_out",
    "23": "moved_out",
    "21": "deceased",
    "22": "removed",
}  # 30-33 keep the status
DATE_ATTRIBUTES = ("birth_date", "address_date", "resident_since", "foreign_resident_since", "removed_date")
STATE_COLUMNS = ("status", *PERSON_ATTRIBUTES)
UNKNOWN = "unknown"
CHUNK_ROWS = 250_000  # rows judged and written at a time: bounds memory on a full load


def judge(prior: str, code: str) -> tuple[str | None, str | None]:
    """(reason to quarantine or None, status after the event) for a person whose status is ``prior``."""
    if prior == UNKNOWN:
        return (None, "resident") if code in ENTRY_CODES else ("unknown_person", None)
    if prior == "deceased" and code != "33":
        return "person_deceased", None
    if code in NEEDS_RESIDENT and prior != "resident":
        return "person_not_resident", None
    if code == "40" and prior != "moved_out":
        return "not_moved_out", None
    return None, STATUS_AFTER.get(code, prior)


_JUDGEMENTS = pd.DataFrame(
    [
        (p, c, *judge(p, c))
        for p in (UNKNOWN, "resident", "moved_out", "deceased", "removed")
        for c in EVENT_CODES
    ],
    columns=["prior_status", "event_code", "state_reason", "new_status"],
)


Outcome = ledger.Outcome


def _current_state(conn: Connection, atena: pd.Series) -> pd.DataFrame:
    """Registry rows of the given persons (dates as ISO text), indexed by atena_no."""
    cols = ["atena_no", *STATE_COLUMNS, "version", "last_event_code", "last_event_date"]
    source = {"last_event_code": "event_code", "last_event_date": "valid_from"}
    empty = pd.DataFrame(columns=cols).set_index("atena_no")
    if atena.empty or conn.execute(text("SELECT 1 FROM persons LIMIT 1")).first() is None:
        return empty
    conn.exec_driver_sql("CREATE TEMP TABLE tmp_atena (atena_no VARCHAR(10) PRIMARY KEY)")
    bulk_insert(conn, "tmp_atena", pa.table({"atena_no": pa.array(atena.unique(), pa.string())}))
    select_list = ", ".join(
        f"CAST(p.{source.get(c, c)} AS TEXT) AS {c}"
        if c in (*DATE_ATTRIBUTES, "last_event_date")
        else f"p.{source.get(c, c)} AS {c}"
        for c in cols
    )
    rows = conn.exec_driver_sql(
        f"SELECT {select_list} FROM persons p JOIN tmp_atena t ON t.atena_no = p.atena_no"
    ).fetchall()
    conn.exec_driver_sql("DROP TABLE tmp_atena")
    if not rows:
        return empty
    return pd.DataFrame(rows, columns=cols, dtype=object).set_index("atena_no")


def _judge_in_order(cand: pd.DataFrame, prior: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate row: quarantine reason, status after, and index of the prior state.

    The prior index is -1 for the registry row, -2 for an unknown person, else
    the position of the person's previous accepted row in ``cand``.
    """
    n = len(cand)
    known = cand["atena_no"].isin(prior.index).to_numpy()
    prior_ref = np.where(known, -1, -2)
    prior_status = cand["atena_no"].map(prior["status"]).fillna(UNKNOWN)
    verdict = pd.DataFrame({"prior_status": prior_status, "event_code": cand["event_code"]}).merge(
        _JUDGEMENTS, how="left", on=["prior_status", "event_code"]
    )
    reason = verdict["state_reason"].to_numpy(dtype=object)
    status = verdict["new_status"].to_numpy(dtype=object)

    multi = np.flatnonzero(cand["atena_no"].duplicated(keep=False).to_numpy())
    state: dict[str, tuple[str | None, int]] = {}
    atena, codes, prior_stat = (
        cand["atena_no"].to_numpy(),
        cand["event_code"].to_numpy(),
        prior_status.to_numpy(),
    )
    for i in multi:  # in seq order: only persons with several events in this file
        a = atena[i]
        st, ref = state.get(a, (prior_stat[i], int(prior_ref[i])))
        r, s = judge(st or UNKNOWN, codes[i])
        reason[i], status[i], prior_ref[i] = r, s, ref
        if r is None:
            state[a] = (s, int(i))
    assert len(reason) == n
    return reason, status, prior_ref


def _prior_frame(cand: pd.DataFrame, prior: pd.DataFrame, prior_ref: np.ndarray) -> pd.DataFrame:
    """The state each candidate row replaces, aligned with ``cand``."""
    cols = [*STATE_COLUMNS, "version", "last_event_code", "last_event_date"]
    if (prior_ref == -2).all():  # nobody in this file is known yet (a first load): no prior state
        return pd.DataFrame(None, index=range(len(cand)), columns=cols, dtype=object)
    from_registry = prior.reindex(cand["atena_no"])[cols].reset_index(drop=True)
    in_file = cand.rename(columns={"event_code": "last_event_code", "event_date": "last_event_date"})
    in_file = in_file.assign(status=cand["new_status"], version=np.nan)
    refs = np.clip(prior_ref, 0, None)
    from_file = in_file.iloc[refs][cols].reset_index(drop=True)
    shape = from_registry.shape
    use_file = np.broadcast_to((prior_ref >= 0)[:, None], shape)
    out = from_registry.astype(object).where(~use_file, from_file.astype(object))
    return out.where(np.broadcast_to((prior_ref != -2)[:, None], shape), None)


def apply_file(
    conn: Connection,
    staged: pa.Table,
    kojin_no: pd.DataFrame,
    *,
    manifest_id: int,
    file_name: str,
    rejected: list[tuple[int, str, str]],
    actor: ledger.Actor,
) -> Outcome:
    """Apply one validated file inside the caller's transaction.

    ``staged`` holds the received text columns (no My Number), ``row_no``,
    ``is_duplicate`` and ``reasons``; ``kojin_no`` holds (row_no, kojin_no) of the
    rows whose My Number passed its check; ``rejected`` are rows cut out at parse time.
    """
    df = staged.to_pandas()
    out = Outcome(rows_read=len(df) + len(rejected))
    dup = df["is_duplicate"].to_numpy(dtype=bool)
    bad = (df["reasons"] != "").to_numpy() & ~dup
    received = [c for c in RESIDENT.columns if c in df.columns]
    # Quarantine: row-level reasons, state rejections, rows cut out at parse time.
    quarantined = [df.loc[bad, ["row_no", "reasons", *received]]]
    cand = df[~dup & ~bad]
    del df  # the slices below are all that is needed from here on
    cand = cand.assign(seq_int=cand["seq"].astype("int64")).sort_values("seq_int", kind="stable")
    cand = cand.reset_index(drop=True)
    out.duplicates = int(dup.sum())
    for part in _partitions(cand):
        state_rejected, accepted, repeats = _apply_part(conn, part, kojin_no, manifest_id, file_name, actor)
        quarantined.append(state_rejected)
        out.accepted += accepted
        out.duplicates += repeats
    return ledger.close_file(
        conn,
        actor,
        feed="resident",
        file_name=file_name,
        manifest_id=manifest_id,
        out=out,
        quarantined=_quarantined(pd.concat(quarantined)),
        rejected=rejected,
    )


def _partitions(cand: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """Slices of at most about CHUNK_ROWS rows, all events of a person in one slice, seq order kept.

    Persons are independent of each other, so slices bound memory without changing the outcome.
    """
    k = -(-len(cand) // CHUNK_ROWS)
    if k <= 1:
        yield cand
        return
    key = pd.util.hash_array(cand["atena_no"].to_numpy(dtype=object)) % k
    for i in range(k):
        yield cand[key == i].reset_index(drop=True)


def _apply_part(
    conn: Connection,
    cand: pd.DataFrame,
    kojin_no: pd.DataFrame,
    manifest_id: int,
    file_name: str,
    actor: ledger.Actor,
) -> tuple[pd.DataFrame, int, int]:
    """Judge and write one slice: (rows rejected by state rules, with reasons; accepted; repeats)."""
    prior = _current_state(conn, cand["atena_no"])
    state_reason, new_status, prior_ref = _judge_in_order(cand, prior)
    cand["new_status"] = new_status
    ok = pd.isna(state_reason)

    # A correction (33) that leaves 消除日 blank keeps the one on record.
    p = _prior_frame(cand, prior, prior_ref)
    keep_removed = (cand["event_code"] == "33").to_numpy() & cand["removed_date"].isna().to_numpy()
    cand.loc[keep_removed, "removed_date"] = p.loc[keep_removed, "removed_date"]

    changed = {c: ~same_values(cand["new_status" if c == "status" else c], p[c]) for c in STATE_COLUMNS}
    any_change = np.logical_or.reduce(list(changed.values()))
    repeat = (
        (prior_ref != -2)
        & ~any_change
        & same_values(cand["event_code"], p["last_event_code"])
        & same_values(cand["event_date"], p["last_event_date"])
    )
    applied = ok & ~repeat
    app = cand[applied].reset_index(drop=True)
    if len(app):
        app_prior = p[applied].reset_index(drop=True)
        _write_persons(conn, app, app_prior, changed, applied, prior, kojin_no, manifest_id, file_name, actor)
        _record_move_ins(conn, app, manifest_id)
    received = [c for c in RESIDENT.columns if c in cand.columns]
    state_rejected = cand.loc[~ok, ["row_no", *received]].assign(reasons=state_reason[~ok])
    return state_rejected, len(app), int((ok & repeat).sum())


def _quarantined(q_rows: pd.DataFrame) -> ledger.Quarantined:
    """``q_rows``: row_no, reasons and the received columns of each quarantined row."""
    received = [c for c in RESIDENT.columns if c in q_rows.columns]
    records = q_rows[received].to_dict("records")
    return ledger.Quarantined(
        row_nos=[int(r) for r in q_rows["row_no"]],
        reasons=list(q_rows["reasons"]),
        raws=[raw_row_json({str(k): v for k, v in r.items()}, RESIDENT) for r in records],
    )


def _write_persons(
    conn: Connection,
    app: pd.DataFrame,
    app_prior: pd.DataFrame,
    changed: dict[str, np.ndarray],
    applied: np.ndarray,
    prior: pd.DataFrame,
    kojin_no: pd.DataFrame,
    manifest_id: int,
    file_name: str,
    actor: ledger.Actor,
) -> None:
    """Write the applied events: superseded versions to history, the last one to persons."""
    now = ledger.now_text()
    atena = app["atena_no"]
    last = ~atena.duplicated(keep="last").to_numpy()
    versions = app.rename(columns={"new_status": "status"})[["atena_no", *STATE_COLUMNS]].assign(
        version=atena.map(prior["version"]).fillna(0).astype("int64") + atena.groupby(atena).cumcount() + 1,
        valid_from=app["event_date"],
        event_code=app["event_code"],
        manifest_id=manifest_id,
        seq=app["seq_int"],
        decided_by=f"{actor.dag_id}/{actor.run_id}/{actor.task_id}",
        recorded_at=now,
    )

    # The current version of a person on record becomes history, valid until the first new event.
    known = app.loc[~atena.duplicated(keep="first").to_numpy() & atena.isin(prior.index).to_numpy()]
    if len(known):
        cols = ", ".join(("atena_no", *STATE_COLUMNS, *VERSION_COLUMNS))
        conn.exec_driver_sql("CREATE TEMP TABLE tmp_close (atena_no VARCHAR(10) PRIMARY KEY, valid_to DATE)")
        bulk_insert(
            conn,
            "tmp_close",
            pa.table(
                {
                    "atena_no": pa.array(known["atena_no"], pa.string()),
                    "valid_to": pa.array(known["event_date"], pa.string()),
                }
            ),
        )
        conn.exec_driver_sql(
            f"INSERT INTO person_history ({cols}, valid_to) "
            f"SELECT {', '.join(f'p.{c}' for c in cols.split(', '))}, t.valid_to "
            "FROM persons p JOIN tmp_close t ON t.atena_no = p.atena_no"
        )
        conn.exec_driver_sql("DROP TABLE tmp_close")
    # Versions superseded within this file go straight to history; the last one is current.
    superseded = versions[~last].assign(valid_to=app.groupby("atena_no")["event_date"].shift(-1)[~last])
    bulk_insert(conn, "person_history", _frame_to_table(superseded))
    _upsert(conn, "persons", _frame_to_table(versions[last]), key="atena_no", all_new=prior.empty)

    # My Number goes to the vault only (privacy.md P1): the person's last number in this file.
    numbers = (
        app[["atena_no", "row_no"]].merge(kojin_no, on="row_no").drop_duplicates("atena_no", keep="last")
    )
    if len(numbers):
        from vaxreg.registry import vault

        vault.put(conn, numbers["atena_no"], numbers["kojin_no"])  # encrypted, its own schema

    # One audit record per applied event: who, what, which fields ("*": a new person).
    has_number = app["row_no"].isin(kojin_no["row_no"]).to_numpy()
    fields = np.full(len(app), "*", dtype=object)
    mask = np.column_stack([changed[c][applied] for c in STATE_COLUMNS])
    for i in np.flatnonzero(app_prior["status"].notna().to_numpy()):
        fields[i] = ",".join([*np.array(STATE_COLUMNS)[mask[i]], *(["kojin_no"] if has_number[i] else [])])
    ledger.write_audit(
        conn,
        actor,
        action="update",
        table_name="persons",
        atena_no=atena.to_numpy(),
        fields_changed=fields,
        detail=(file_name + "#seq=" + app["seq"] + " event=" + app["event_code"]).to_numpy(),
    )


def _record_move_ins(conn: Connection, app: pd.DataFrame, manifest_id: int) -> None:
    """Applied move-ins (event 10) that name the previous municipality: the history inquiry's
    input (``move_ins``; outputs.md §5.3)."""
    if "prev_municipality_code" not in app.columns:
        return
    m = app[(app["event_code"] == "10") & app["prev_municipality_code"].notna()]
    if not len(m):
        return
    bulk_insert(
        conn,
        "move_ins",
        pa.table(
            {
                "atena_no": pa.array(m["atena_no"], pa.string()),
                "move_in_date": pa.array(m["event_date"], pa.string()),
                "prev_municipality_code": pa.array(m["prev_municipality_code"], pa.string()),
                "manifest_id": pa.repeat(pa.scalar(manifest_id, pa.int64()), len(m)),
                "seq": pa.array(m["seq_int"], pa.int64()),
                "recorded_at": pa.repeat(pa.scalar(ledger.now_text(), pa.string()), len(m)),
            }
        ),
    )


def derived_columns(table: pa.Table, name: str) -> pa.Table:
    """``prev_municipality_code__status`` for the suite: ``format``, ``check_digit`` or null (valid
    or absent)."""
    from vaxreg.identity.validators import municipality_code_valid_mask

    col = table.column("prev_municipality_code").combine_chunks().cast(pa.string())
    present = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    formed = np.asarray(
        pa.compute.fill_null(pa.compute.match_substring_regex(col, "^[0-9]{6}$"), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    valid = municipality_code_valid_mask(col)
    status = np.where(formed, "check_digit", "format").astype(object)
    status[~present | valid] = None
    return table.append_column("prev_municipality_code__status", pa.array(status.tolist(), pa.string()))


def _frame_to_table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)


def _upsert(conn: Connection, table: str, data: pa.Table, *, key: str, all_new: bool) -> None:
    """Insert rows, replacing those whose ``key`` exists. One bulk load plus one statement."""
    if all_new:
        bulk_insert(conn, table, data)
        return
    cols = data.column_names
    tmp = f"tmp_{table}"
    like = f"(LIKE {table} INCLUDING DEFAULTS)" if is_postgres(conn) else f"AS SELECT * FROM {table} WHERE 0"
    conn.exec_driver_sql(f"CREATE TEMP TABLE {tmp} {like}")
    bulk_insert(conn, tmp, data)
    col_list = ", ".join(cols)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {tmp} WHERE true "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
    conn.exec_driver_sql(f"DROP TABLE {tmp}")


def apply(conn: Connection, staged: pa.Table, ctx: ApplyContext) -> Outcome:
    """The feed's apply step: My Number is read back from the landing copy (it never goes to
    staging) for the rows whose number passed its check, then :func:`apply_file`."""
    assert ctx.landing is not None, "the resident feed reads My Number from the landing copy"
    numbers = checked_my_numbers(ctx.landing, RESIDENT, staged.column("row_no").combine_chunks())
    return apply_file(
        conn,
        staged,
        numbers,
        manifest_id=ctx.manifest_id,
        file_name=ctx.file_name,
        rejected=ctx.rejected,
        actor=ctx.actor,
    )


FEEDS = feeds_of(
    __name__,
    [
        Feed(
            name="resident",
            purpose=PURPOSE,
            kinds=(
                FileKind(
                    layout=RESIDENT,
                    suite="resident_diff",
                    apply=apply,
                    date_columns=DATE_COLUMNS,
                    derive=derived_columns,
                ),
            ),
            changes=("persons",),
        )
    ],
)
