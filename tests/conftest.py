"""Shared fixtures: real registries (SQLite file, PostgreSQL schema), feed folders, Airflow home.

PostgreSQL comes from ``VAXREG_TEST_DATABASE_URL`` (default: the machine's server,
database ``test``). Each test gets its own schema there, so tests never see each
other's rows. When PostgreSQL cannot be reached the tests fail: they never skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

# Airflow reads its configuration at import: set it before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / "var" / "airflow-test"))
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from vaxreg.registry import db  # noqa: E402

from helpers.db import APP, OWNER, create_logins, login_url, pg_schema_url  # noqa: E402
from helpers.paths import PG_URL  # noqa: E402
from helpers.smtp import Inbox, free_port  # noqa: E402
from helpers.sshd import sftp_server  # noqa: E402, F401


@pytest.fixture(scope="session")
def pg_url() -> str:
    from sqlalchemy import create_engine, text

    eng = create_engine(PG_URL)
    try:
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is required for the tests and cannot be reached: {exc}")
    finally:
        eng.dispose()
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated registry on each database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
        db.upgrade(url)
        yield url
        db.engine(url).dispose()
    else:  # migrated by the owner login, used by the pipeline's login (docker/registry-roles.sql)
        for url in pg_schema_url(request.getfixturevalue("pg_logins"), owner=OWNER):
            db.upgrade(login_url(url, OWNER))
            yield login_url(url, APP)


@pytest.fixture(scope="session")
def pg_logins(pg_url: str) -> str:
    """The registry's login roles, created once per session by the compose init's own SQL."""
    create_logins(pg_url)
    from sqlalchemy import create_engine

    eng = create_engine(pg_url)
    with eng.begin() as conn:  # the owner creates each test's vault schema <schema>_vault
        database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        conn.exec_driver_sql(f'GRANT CREATE ON DATABASE "{database}" TO {OWNER}')
    eng.dispose()
    return pg_url


@pytest.fixture
def feed_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A delivery root holding ``outbox/<feed>/``; staging goes to its own folder."""
    root = tmp_path / "sftp-root"
    (root / "outbox" / "resident").mkdir(parents=True)
    monkeypatch.setenv("VAXREG_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("VAXREG_HOME", str(tmp_path / "var"))
    return root


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """A migrated Airflow metadata database for ``dag.test()``."""
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "airflow.db").exists():
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return home


@pytest.fixture(autouse=True)
def vault_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A generated My Number vault key for every test (privacy.md P1), unless one is configured."""
    from vaxreg.registry import vault

    key = os.environ.get(vault.KEY_ENV) or vault.generate_key()
    monkeypatch.setenv(vault.KEY_ENV, key)
    return key


@pytest.fixture(scope="session", autouse=True)
def _drop_orphan_vault_schemas() -> Iterator[None]:
    """Each test's PostgreSQL schema ``t_…`` has a vault schema ``t_…_vault``; each test drops both.
    At the end of the session, drop any vault schema a killed run left behind."""
    yield
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    eng = create_engine(PG_URL)
    try:
        with eng.begin() as conn:
            orphans = (
                conn.exec_driver_sql(
                    "SELECT v.nspname FROM pg_namespace v WHERE v.nspname LIKE 't\\_%%\\_vault' "
                    "AND NOT EXISTS (SELECT 1 FROM pg_namespace t WHERE t.nspname = left(v.nspname, -6))"
                )
                .scalars()
                .all()
            )
        for name in orphans:  # one transaction each: a thousand drops at once exhaust the lock table
            with eng.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    except OperationalError:  # no server: the pg_url fixture already failed the tests that need it
        pass
    finally:
        eng.dispose()


# --- a real SMTP server (aiosmtpd) for alert tests ---------------------------------------------------


@pytest.fixture(scope="module")
def _smtp_server() -> Iterator[Inbox]:
    """A real SMTP server on loopback, one per module, and ``AIRFLOW_CONN_VAXREG_SMTP`` pointing at it."""
    import json

    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "retry_limit": 0, "timeout": 10},
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_VAXREG_SMTP", json.dumps(conn))
        try:
            yield inbox
        finally:
            controller.stop()


@pytest.fixture
def smtp_inbox(_smtp_server: Inbox) -> Inbox:
    """The test SMTP server's inbox, emptied for each test (the connection ``vaxreg_smtp`` points at it)."""
    _smtp_server.messages.clear()
    return _smtp_server
