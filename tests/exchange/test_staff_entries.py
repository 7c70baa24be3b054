"""Staff entries and corrections through the command line (outputs.md §6, cli.md), on both
databases: the same error check, the prior version kept, audited, and sent onwards by the
provision copy (a correction as U, a move to another person and a deletion as D); ``person show``
is an audited access."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaxreg.cli import main

from helpers.db import rows
from helpers.exchange import number, read_out, seed_persons, togo_csv
from helpers.exchange import run as run_feed

KID, OTHER = "4000000001", "4000000002"


def _cli(db_url: str, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--database-url", db_url, *argv])
    return code, capsys.readouterr().out


def test_staff_entries_flow_to_the_provision_copy(
    db_url: str, feed_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_persons(db_url, {KID: ("2025-01-15", "1"), OTHER: ("2025-01-20", "2")})
    run_feed(
        "atena",
        feed_root,
        db_url,
        "TOGO_20260601.csv",
        togo_csv([(p, number(p), "A", "2026-06-01") for p in (KID, OTHER)]),
    )
    src = f"file://{feed_root}"
    common = ["--reason", "実施依頼書 2026-05", "--by", "tanaka"]
    add = ["dose", "add", "--atena-no", KID, "--vaccine-code", "01", "--phase", "11", "--dose-no", "1"]
    code, out = _cli(db_url, *add, "--dose-date", "2025-03-20", *common, capsys=capsys)
    assert code == 0
    dose_id = json.loads(out)["dose_id"]
    # the error check refuses an invalid record (Hib has no phase 2): exit 1, nothing stored
    bad = ["dose", "add", "--atena-no", KID, "--vaccine-code", "01", "--phase", "20", "--dose-no", "1"]
    assert _cli(db_url, *bad, "--dose-date", "2025-04-20", *common, capsys=capsys)[0] == 1
    assert _cli(db_url, "publish", "fukuhon", "--source", src, "--date", "2026-06-01", capsys=capsys)[0] == 0
    assert [r["op"] for r in read_out(feed_root, "fukuhon", "FUKUHON_20260601.csv")] == ["A"]

    fix = ["dose", "correct", str(dose_id), "--lot-no", "L9", "--reason", "訂正請求", "--by", "tanaka"]
    assert _cli(db_url, *fix, capsys=capsys)[0] == 0
    _cli(db_url, "publish", "fukuhon", "--source", src, "--date", "2026-06-02", capsys=capsys)
    assert [
        (r["op"], r["integrated_no"]) for r in read_out(feed_root, "fukuhon", "FUKUHON_20260602.csv")
    ] == [("U", number(KID))]
    move = [
        "dose",
        "correct",
        str(dose_id),
        "--atena-no",
        OTHER,
        "--reason",
        "review decision",
        "--by",
        "sato",
    ]
    assert _cli(db_url, *move, capsys=capsys)[0] == 0
    _cli(db_url, "publish", "fukuhon", "--source", src, "--date", "2026-06-03", capsys=capsys)
    assert [
        (r["op"], r["integrated_no"]) for r in read_out(feed_root, "fukuhon", "FUKUHON_20260603.csv")
    ] == [
        ("D", number(KID)),
        ("A", number(OTHER)),
    ]
    assert (
        _cli(
            db_url,
            "dose",
            "delete",
            str(dose_id),
            "--reason",
            "entered in error",
            "--by",
            "sato",
            capsys=capsys,
        )[0]
        == 0
    )
    _cli(db_url, "publish", "fukuhon", "--source", src, "--date", "2026-06-04", capsys=capsys)
    assert [
        (r["op"], r["integrated_no"]) for r in read_out(feed_root, "fukuhon", "FUKUHON_20260604.csv")
    ] == [("D", number(OTHER))]
    # P5: every prior version kept; P4: every change audited with who and why
    assert rows(
        db_url,
        f"SELECT version, atena_no, lot_no FROM dose_history WHERE dose_id = {dose_id} ORDER BY version",
    ) == [
        (1, KID, None),
        (2, KID, "L9"),
        (3, OTHER, "L9"),
    ]
    audited = rows(
        db_url, "SELECT action, atena_no, detail FROM audit_log WHERE table_name = 'doses' ORDER BY id"
    )
    assert [a[0] for a in audited] == ["insert", "update", "update", "update", "delete"]
    assert all("tanaka" in a[2] or "sato" in a[2] for a in audited)

    code, out = _cli(
        db_url, "person", "show", OTHER, "--purpose", "窓口照会", "--format", "json", capsys=capsys
    )
    record = json.loads(out)
    assert code == 0 and record["attributes"][0]["atena_no"] == OTHER
    assert record["integrated_number"][0]["integrated_no"] == number(OTHER)
    assert [h["version"] for h in record["dose_history"]] == ["3"]
    assert rows(db_url, "SELECT atena_no, detail FROM audit_log WHERE action = 'view'") == [
        (OTHER, "person show (found): 窓口照会")
    ]
