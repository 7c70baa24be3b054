"""Privacy under faults (issue 15), on SQLite and PostgreSQL: one vault key only."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxreg import pipeline
from vaxreg.identity.validators import my_number_check_digit
from vaxreg.registry import db, vault

from helpers.db import rows
from helpers.resident import deliver, person, resident_csv


def number(body: str) -> str:
    return body + str(my_number_check_digit(body))


def _run(feed_root: Path, db_url: str) -> list[dict]:
    actor = pipeline.make_actor("resident", run_id="privacy-faults", task_id="test")
    return pipeline.report(
        pipeline.run_feed("resident", actor, source_url=f"file://{feed_root}", db_url=db_url)
    )


def test_a_second_vault_key_is_refused_before_anything_is_written(
    feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv([person("0000000001", kojin_no=number("11112222333"))]),
    )
    _run(feed_root, db_url)
    with db.transaction(db_url) as conn:
        held = vault.key_ids(conn)
    assert held == [vault.current_key().id]

    # A run configured with another key: the file is not applied, the vault still holds one key.
    monkeypatch.setenv(vault.KEY_ENV, vault.generate_key())
    deliver(
        feed_root,
        "JUKI_DIFF_20260402.csv",
        resident_csv([person("0000000002", kojin_no=number("44445555666"), household_no="5000000002")]),
    )
    with pytest.raises(vault.VaultError, match="not the key the vault holds"):
        _run(feed_root, db_url)
    with db.transaction(db_url) as conn:
        assert vault.key_ids(conn) == held
        with pytest.raises(vault.VaultError):  # the direct call is refused the same way
            vault.put(conn, ["0000000009"], [number("77778888999")])
    assert rows(db_url, "SELECT atena_no FROM persons") == [("0000000001",)]
    assert rows(db_url, "SELECT file_name FROM ingest_manifest WHERE status = 'applied'") == [
        ("JUKI_DIFF_20260401.csv",)
    ]


# --- the purge leaves nothing of a purged person, in any table or column ------------------------

A = "1357924680"  # the person who moves out and is purged
B = "2468013579"  # a resident, kept
VOUCHER = "7777000001"
A_NUMBER = number("24681357913")
# every identifier of A, in every form a feed sends it
NEEDLES = (
    A,
    A_NUMBER,
    VOUCHER,
    "消去　花子",
    "ショウキョ",
    "ｼｮｳｷｮ",
    "1950-03-03",
    "19500303",
    "S250303",
    "消去町",
    "CASE-ERASE",
)


def _deliver_history_of_a(feed_root: Path) -> None:
    from helpers.clinic import clinic_csv, rec
    from helpers.vrs import dose, records_csv, seiho_csv, subjects_csv, techo_csv

    a = person(
        A,
        kojin_no=A_NUMBER,
        name_kanji="消去　花子",
        name_kana="ショウキョ　ハナコ",
        birth_date="1950-03-03",
        sex="2",
        household_no="5000000077",
        householder_name="消去　花子",
        address="東京都港区消去町9丁目9番9号",
    )
    bad = a | {"event_code": "33", "sex": "7"}  # quarantined: the raw row holds A's names
    b = person(B, household_no="5000000088")
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv([a, bad, b]))
    deliver(feed_root, "SEIHO_202604.csv", seiho_csv([(A, "CASE-ERASE-1", "R080401", "")]), feed="welfare")
    deliver(feed_root, "TECHO_202604.csv", techo_csv([(A, "1", "1", "H", "R080401", "")]), feed="welfare")
    deliver(
        feed_root,
        "ISHIKAI_202604.csv",
        clinic_csv([rec(A, "ｼｮｳｷｮ ﾊﾅｺ", "S250303", "2", "21", "00", "1", "R080410")]),
        feed="clinic",
    )
    subjects = subjects_csv([(VOUCHER, A, "19500303", "ショウキョ　ハナコ", "2")])
    deliver(feed_root, "VRS_SUBJECTS_20260405.csv", subjects, feed="vrs")
    deliver(
        feed_root, "VRS_RECORDS_20260405.csv", records_csv([(A, [dose("20260405", VOUCHER)])]), feed="vrs"
    )


def _hits(db_url: str) -> set[tuple[str, str, str]]:
    """(table, column, identifier) for every value of the schema holding an identifier of A."""
    from sqlalchemy import inspect

    from helpers.db import vault_url

    found = set()
    with db.transaction(vault_url(db_url)) as conn:  # the vault login reads the vault too
        tables = [(t, t) for t in inspect(conn).get_table_names()]
        if vault.schema_name(conn):
            tables += [(f"{vault.schema_name(conn)}.{t}", vault.table(conn)) for t in ("my_number_vault",)]
        for label, sql_name in tables:
            schema, _, name = label.rpartition(".")
            for col in inspect(conn).get_columns(name, schema=schema or None):
                for v in conn.exec_driver_sql(f"SELECT {col['name']} FROM {sql_name}").scalars():
                    text = (
                        bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else str(v)
                    )
                    found |= {(name, col["name"], n) for n in NEEDLES if v is not None and n in text}
    return found


def test_purge_leaves_no_identifier_of_a_purged_person_in_any_table(
    feed_root: Path, db_url: str, tmp_path: Path
) -> None:
    import datetime as dt

    from vaxreg.retention.purge import purge

    from helpers.db import owner_url, run

    source = f"file://{feed_root}"
    _deliver_history_of_a(feed_root)
    for feed in ("resident", "welfare", "clinic", "vrs"):
        run(feed, source, db_url)
    gone = person(
        A, event_code="20", event_date="2026-04-20", removed_date="2026-04-20", birth_date="1950-03-03"
    )
    deliver(feed_root, "JUKI_DIFF_20260420.csv", resident_csv([gone | {"household_no": "5000000077"}]))
    run("resident", source, db_url)
    run("vrs", source, db_url, date="2026-04-21")  # the move-out goes to VRS: vrs_flags

    before = {t for t, _, _ in _hits(db_url)}
    expected = {"persons", "person_history", "doses", "quarantine", "vrs_subjects", "vrs_flags"}
    expected |= {"welfare_seiho_periods", "welfare_techo_periods"}
    assert expected <= before, f"the scenario did not reach {expected - before}"

    purge(
        dt.date(2100, 1, 1),
        dry_run=False,
        run_id="purge-faults",
        db_url=owner_url(db_url),
        certificate_dir=tmp_path,
    )
    assert _hits(db_url) == set()
    assert rows(db_url, "SELECT atena_no FROM persons") == [(B,)]
