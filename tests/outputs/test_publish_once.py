"""The exactly-once publication (``outbound.publish_once``) on SQLite and PostgreSQL: the ledger,
a name already taken, nothing to send, a refused column set, a file already in the inbox (the
same bytes adopted, other bytes never overwritten — before and after prepare), the summary, the
retention of the ledger."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import Connection

from vaxreg.outputs import exports, outbound
from vaxreg.registry import db, ledger
from vaxreg.retention import purge
from vaxreg.transport import OutboundConflict, open_source

from helpers.db import owner_url, rows
from helpers.outbound import (
    DAY,
    NEXT,
    P,
    assert_published_once,
    flags_text,
    listing,
    publish,
    seed_flag_holders,
)

ACTOR = ledger.Actor(dag_id="test", run_id="test-run", task_id="publish", purpose="test")
PROBE = outbound.OutboundLayout("probe", "PROBE_{date}.csv", ("item", "value"))
FLAGS = "VRS_FLAGS_20260414.csv"


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layout of this test only (never seen by the P7 test of the real layouts)."""
    monkeypatch.setitem(outbound.LAYOUTS, "probe", PROBE)
    other = outbound.OutboundLayout("other", "X_{date}.csv", ("a",))
    monkeypatch.setitem(outbound.LAYOUTS, "probe_other", other)


def probe_once(root: Path, db_url: str, day: str, table: pa.Table | None, calls: list[str]) -> list[str]:
    def build(conn: Connection) -> pa.Table | None:
        calls.append("build")
        return table

    def record(conn: Connection, files: dict[str, outbound.OutboundFile]) -> None:
        calls.append("record")
        ledger.audit_event(conn, ACTOR, "export", "probe", {"file": files["probe"].name})

    with open_source(root.as_uri()) as src:
        done = outbound.publish_once(src, ACTOR, "probe", {"date": day}, build, record, db_url=db_url)
    return [f.name for f in done]


def test_ledger_row_name_taken_and_nothing_to_send(root: Path, db_url: str, probe: None) -> None:
    table = pa.table({"item": ["a", "b,c"], "value": ["1", None]})
    calls: list[str] = []
    assert probe_once(root, db_url, "20260414", table, calls) == ["PROBE_20260414.csv"]
    data = (root / "inbox" / "probe" / "PROBE_20260414.csv").read_bytes()
    assert data == b'item,value\na,1\n"b,c",\n'
    assert rows(
        db_url,
        "SELECT target, kind, file_name, sha256, size, rows, state, content IS NULL, run_id, outcome, "
        "published_run_id, last_error, published_at IS NOT NULL FROM outbound_files",
    ) == [
        (
            *("probe", "probe", "PROBE_20260414.csv", hashlib.sha256(data).hexdigest(), len(data), 2),
            *("published", True, "test-run", "written", "test-run", None, True),
        )
    ]
    # The name is taken: build is not even called (cli.md: writes nothing new).
    assert probe_once(root, db_url, "20260414", table, calls) == []
    # Nothing to send: no file, no record.
    assert probe_once(root, db_url, "20260415", None, calls) == []
    assert calls == ["build", "record", "build"]
    assert rows(db_url, "SELECT COUNT(*) FROM outbound_files") == [(1,)]
    assert rows(db_url, "SELECT COUNT(*) FROM audit_log WHERE table_name = 'probe'") == [(1,)]


def test_other_columns_record_nothing(root: Path, db_url: str, probe: None) -> None:
    calls: list[str] = []
    with pytest.raises(outbound.OutboundError, match="not exactly the specified"):
        probe_once(root, db_url, "20260414", pa.table({"item": ["a"], "name_kana": ["シケン"]}), calls)
    assert calls == ["build"]
    assert rows(db_url, "SELECT COUNT(*) FROM outbound_files") == [(0,)]
    assert rows(db_url, "SELECT COUNT(*) FROM audit_log") == [(0,)]
    assert listing(root / "inbox" / "probe") == []


def test_files_of_one_publication_share_their_folder(root: Path, db_url: str, probe: None) -> None:
    with open_source(root.as_uri()) as src, pytest.raises(outbound.OutboundError, match="share their inbox"):
        outbound.publish_once(
            src,
            ACTOR,
            ("probe", "probe_other"),
            {"date": "1"},
            lambda c: None,
            lambda c, f: None,
            db_url=db_url,
        )


def test_foreign_file_under_the_name_refuses_before_anything_is_recorded(root: Path, db_url: str) -> None:
    source = root.as_uri()
    seed_flag_holders(db_url, P[:2])
    inbox = root / "inbox" / "vrs"
    inbox.mkdir(parents=True)
    (inbox / FLAGS).write_bytes(b"someone else's file\n")
    with pytest.raises(
        OutboundConflict, match=r"exists with other content.*not in the outbound ledger: nothing recorded"
    ):
        publish("vrs", db_url, source, DAY)
    assert (inbox / FLAGS).read_bytes() == b"someone else's file\n"
    assert rows(db_url, "SELECT COUNT(*) FROM vrs_flags") == [(0,)]
    assert rows(db_url, "SELECT COUNT(*) FROM outbound_files") == [(0,)]
    # The on-call moves it aside: the next run publishes.
    (inbox / FLAGS).rename(root / "aside.csv")
    assert publish("vrs", db_url, source, DAY) == [FLAGS]
    assert_published_once(root, db_url, FLAGS, flags_text(P[:2]), P[:2])


def test_conflict_after_prepare_stays_prepared_and_never_overwrites(
    root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = root.as_uri()
    seed_flag_holders(db_url, P[:2])

    def stop(step: str) -> None:
        if step == "prepared":
            raise RuntimeError("stopped after prepare")

    monkeypatch.setattr(outbound, "step_hook", stop)
    with pytest.raises(RuntimeError, match="stopped after prepare"):
        publish("vrs", db_url, source, DAY)
    monkeypatch.setattr(outbound, "step_hook", lambda step: None)
    inbox = root / "inbox" / "vrs"
    (inbox / FLAGS).write_bytes(b"voucher_no,municipality_code,flag,date\n")  # not ours
    for day in (DAY, NEXT):  # every run of the output stops on it; nothing is overwritten
        with pytest.raises(OutboundConflict, match="exists with other content"):
            publish("vrs", db_url, source, day)
    assert (inbox / FLAGS).read_bytes() == b"voucher_no,municipality_code,flag,date\n"
    [(state, error, has_bytes)] = rows(
        db_url, "SELECT state, last_error, content IS NOT NULL FROM outbound_files"
    )
    assert (state, has_bytes) == ("prepared", True) and "exists with other content" in error
    with db.transaction(db_url) as conn:
        summary = exports.format_summary(exports.summary(conn))
    assert "left prepared 1" in summary and f"PREPARED {FLAGS} (inbox/vrs" in summary
    # Once the other file is moved aside, the prepared bytes go out.
    (inbox / FLAGS).rename(root / "aside.csv")
    assert publish("vrs", db_url, source, NEXT) == [FLAGS]
    assert_published_once(root, db_url, FLAGS, flags_text(P[:2]), P[:2])


def test_the_same_bytes_already_there_are_adopted(root: Path, db_url: str) -> None:
    """A file a crashed run of the old code left (the same flags, no record) is kept, not refused."""
    seed_flag_holders(db_url, P[:3])
    inbox = root / "inbox" / "vrs"
    inbox.mkdir(parents=True)
    (inbox / FLAGS).write_text(flags_text(P[:3]))
    assert publish("vrs", db_url, root.as_uri(), DAY) == [FLAGS]
    assert_published_once(root, db_url, FLAGS, flags_text(P[:3]), P[:3])
    assert rows(db_url, "SELECT outcome FROM outbound_files") == [("adopted",)]


def test_retention_purges_published_rows_never_prepared_ones(
    root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VAXREG_STAGING_DIR", str(tmp_path / "staging"))
    seed_flag_holders(db_url, P[:1])
    assert publish("vrs", db_url, root.as_uri(), DAY) == [FLAGS]
    seed_flag_holders(db_url, [P[1]], on="2026-04-14")

    def stop(step: str) -> None:
        if step == "prepared":
            raise RuntimeError("stopped after prepare")

    monkeypatch.setattr(outbound, "step_hook", stop)
    with pytest.raises(RuntimeError):
        publish("vrs", db_url, root.as_uri(), NEXT)
    result = purge.purge(
        dt.date(2040, 1, 1), dry_run=False, run_id="purge-test", db_url=owner_url(db_url), certificate=False
    )
    [policy] = [p for p in result.policies if p.policy == "outbound_files"]
    assert (policy.period, policy.deleted) == ("7 years", 1)
    left = rows(db_url, "SELECT file_name, state FROM outbound_files")
    assert left == [("VRS_FLAGS_20260415.csv", "prepared")]


def test_cli_run_reports_a_conflict_in_one_line(
    root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VAXREG_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("VAXREG_STAGING_DIR", str(tmp_path / "staging"))
    seed_flag_holders(db_url, P[:1])
    (root / "outbox" / "vrs").mkdir(parents=True, exist_ok=True)  # the feed's folder, empty
    (root / "inbox" / "vrs").mkdir(parents=True)
    (root / "inbox" / "vrs" / FLAGS).write_bytes(b"x\n")
    done = subprocess.run(
        [sys.executable, "-m", "vaxreg.cli", "run", "vrs", "--source", root.as_uri(), "--date", "2026-04-14"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"VAXREG_DATABASE_URL": db_url},
    )
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert (
        line.startswith(f"vaxreg: inbox/vrs/{FLAGS} exists with other content") and "nothing recorded" in line
    )
