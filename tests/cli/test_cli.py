"""The `vaxreg` command as an operator uses it: real processes, exit codes, stdout/stderr."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.resident import deliver, person, resident_csv


def vaxreg(*args: str, db_url: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxreg.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"VAXREG_DATABASE_URL": db_url} | (env or {}),
    )


def test_run_export_and_exit_codes(feed_root: Path, db_url: str) -> None:
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv([person("0000000001", kojin_no="123456789018"), person("0000000002", sex="0")]),
    )
    assert vaxreg("db", "upgrade", db_url=db_url).returncode == 0

    done = vaxreg("run", "resident", "--source", f"file://{feed_root}", "--date", "2026-04-01", db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {
            "file": "JUKI_DIFF_20260401.csv",
            "status": "applied",
            "rows": 2,
            "accepted": 1,
            "quarantined": 1,
            "review": 0,
            "duplicates": 0,
        }
    ]

    persons = vaxreg("export", "persons", db_url=db_url)
    assert list(csv.reader(io.StringIO(persons.stdout))) == [
        ["atena_no", "status", "name_kana", "birth_date", "sex", "removed_date"],
        ["0000000001", "resident", "シケン　タロウ", "1990-05-05", "1", ""],
    ]
    quarantine = vaxreg("export", "quarantine", db_url=db_url)
    assert quarantine.stdout.splitlines() == [
        "feed,file,row_no,reasons",
        "resident,JUKI_DIFF_20260401.csv,2,sex_invalid",
    ]

    # A corrupt transfer: exit 1, one line on stderr, no traceback, no personal data.
    deliver(
        feed_root,
        "JUKI_DIFF_20260402.csv",
        resident_csv([person("0000000003")]),
        marker=hashlib.sha256(b"x").hexdigest(),
    )
    refused = vaxreg("run", "resident", "--source", f"file://{feed_root}", db_url=db_url)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("vaxreg: JUKI_DIFF_20260402.csv refused: checksum mismatch")
    assert "Traceback" not in refused.stderr and "0000000003" not in refused.stderr

    summary = vaxreg("summary", "--json", db_url=db_url)
    s = json.loads(summary.stdout)
    assert s["persons"] == {"resident": 1}
    assert s["audit_records"] >= 3  # two exports, one person, one ingested file


def test_usage_errors_exit_2(db_url: str) -> None:
    assert vaxreg("run", "nosuchfeed", db_url=db_url).returncode == 2
    assert vaxreg("run", "resident", "--date", "2026-02-30", db_url=db_url).returncode == 2
    assert vaxreg(db_url=db_url).returncode == 2


def test_unreachable_source_is_one_line(db_url: str, tmp_path: Path) -> None:
    vaxreg("db", "upgrade", db_url=db_url)
    r = vaxreg("run", "resident", "--source", f"file://{tmp_path}/missing", db_url=db_url)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_review_commands_exit_codes(db_url: str) -> None:
    """`vaxreg review` as a real process: usage errors exit 2; a problem found exits 1 with one line."""
    assert vaxreg("review", "list", db_url=db_url).stdout.strip() == "no open review items"
    assert vaxreg("review", "list", "--format", "csv", db_url=db_url).stdout.splitlines() == [
        "item_id,feed,file,row_no,reasons,candidates,recorded_at,status"
    ]
    for args in (
        ("review",),
        ("review", "accept", "1"),
        ("review", "show", "one"),
        ("review", "list", "--status", "x"),
    ):
        assert vaxreg(*args, db_url=db_url).returncode == 2, args
    for args, line in (
        (("review", "accept", "7", "--atena-no", "0000000001"), "vaxreg: no review item 7"),
        (("review", "reject", "7", "--by", "tanaka"), "vaxreg: no review item 7"),
        (("review", "show", "7"), "vaxreg: no review item 7"),
    ):
        done = vaxreg(*args, db_url=db_url)
        assert (done.returncode, done.stderr.strip().splitlines()) == (1, [line]), args
