"""The `vaxreg` command under faults (issue 15): expected failures are one line on stderr, exit 1,
no traceback and no library noise; an export of personal data is audited before the data leaves."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaxreg import cli
from vaxreg.registry import db

from helpers.db import rows, run
from helpers.resident import deliver, person, resident_csv


def vaxreg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxreg.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | env,
    )


class Head(io.StringIO):
    """``| head -2``: the reader goes away after two lines."""

    def write(self, s: str) -> int:
        if self.getvalue().count("\n") >= 2:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(s)


def test_export_is_audited_before_the_data_leaves(
    feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(
        feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person(f"00000000{i:02d}") for i in range(1, 6)])
    )
    run("resident", f"file://{feed_root}", db_url)
    out = Head()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert cli.main(["--database-url", db_url, "export", "persons"]) == 0
    assert out.getvalue().count("\n") == 2  # the header and one person left
    [(detail,)] = rows(db_url, "SELECT detail FROM audit_log WHERE action = 'export'")
    assert json.loads(detail) == {"rows": 5}
    db.engine(db_url).dispose()


# what is wrong -> (arguments, environment, the one line expected on stderr)
FAULTS = {
    "malformed_database_url": (
        ("db", "upgrade"),
        {"VAXREG_DATABASE_URL": "postgresql+psycopg://user:secret@[::1:5432/x"},
        "vaxreg: the database URL is malformed",
    ),
    "unknown_database_driver": (
        ("db", "upgrade"),
        {"VAXREG_DATABASE_URL": "nosuchdb://x/y"},
        "vaxreg: the database URL names an unknown database driver",
    ),
    "database_unreachable": (
        ("summary",),
        {"VAXREG_DATABASE_URL": "postgresql+psycopg://postgres:secret@127.0.0.1:1/test?connect_timeout=2"},
        "vaxreg: the database is unavailable",
    ),
    "staging_not_writable": (
        ("run", "resident", "--source", "file://{root}"),
        {"VAXREG_STAGING_DIR": "/sys/vaxreg-staging"},
        "vaxreg: permission denied: /sys/vaxreg-staging",
    ),
    "no_outbox_folder_for_the_feed": (
        ("run", "clinic", "--source", "file://{root}"),
        {},
        "vaxreg: no folder outbox/clinic under file://",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_expected_failures_are_one_line(
    fault: str, feed_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process (the command's own code path, without an interpreter start per case): an
    unexpected exception would escape ``main`` and fail the test with its traceback."""
    args, env, line = FAULTS[fault]
    registry = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    db.upgrade(registry)
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person("0000000001")]))
    for k, v in ({"VAXREG_DATABASE_URL": registry} | env).items():
        monkeypatch.setenv(k, v)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main([a.format(root=feed_root) for a in args]) == 1
    assert err.getvalue().startswith(line) and err.getvalue().count("\n") == 1, err.getvalue()
    assert "secret" not in err.getvalue()


def test_a_good_run_prints_nothing_on_stderr(feed_root: Path, tmp_path: Path) -> None:
    """No library INFO line (Great Expectations) without -v."""
    registry = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    db.upgrade(registry)
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person("0000000001")]))
    done = vaxreg("run", "resident", "--source", f"file://{feed_root}", env={"VAXREG_DATABASE_URL": registry})
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_lost_database_connection_is_one_line(pg_url: str) -> None:
    """The server ends the session mid-run (restart, failover): one line, nothing committed."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from vaxreg import failures

    eng = create_engine(pg_url)
    try:
        with eng.connect() as victim:
            pid = victim.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with eng.connect() as admin:
                admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            with pytest.raises(OperationalError) as err:
                victim.exec_driver_sql("SELECT 1")
    finally:
        eng.dispose()
    line = failures.one_line(err.value)
    assert line is not None and line.startswith("the database connection was lost") and "\n" not in line
    assert failures.one_line(RuntimeError("a bug")) is None  # a bug keeps its traceback


def test_a_dag_task_fails_with_the_one_line(tmp_path: Path) -> None:
    """The feed tasks run their step inside ``failures.task_failure``: the task log ends with one
    line, not the library's chain (a forbidden staging folder here)."""
    from vaxreg import failures

    with pytest.raises(failures.ExpectedFailure) as err, failures.task_failure():
        (Path("/sys") / "vaxreg-staging").mkdir(parents=True)
    assert str(err.value) == "permission denied: /sys/vaxreg-staging"
    assert err.value.__suppress_context__ and err.value.__cause__ is None
    with pytest.raises(KeyError), failures.task_failure():  # a bug is not dressed up
        {}["x"]
