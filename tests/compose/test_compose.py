"""The compose stack without Docker (issue 16.1, 15.7): the file against the compose-spec schema,
every secret from .env, and the compose init's SQL replayed on the local PostgreSQL, then the real
migrations and the resident feed run as the login roles it creates."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import DBAPIError

from vaxreg.registry import db, vault

from helpers.db import run
from helpers.paths import REPO, SAMPLES

COMPOSE = REPO / "docker-compose.yaml"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )


def test_compose_file_matches_the_compose_spec(tmp_path: Path) -> None:
    done = validate(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr
    # The check can fail: the same file with a misspelt service key is refused.
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("    restart: unless-stopped\n", "    restrat: no\n", 1))
    assert validate(broken).returncode == 1


def test_every_secret_comes_from_env_and_is_documented() -> None:
    text = COMPOSE.read_text()
    code = "\n".join(line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", code))  # $${X} is the container's own
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert used - documented == set(), "variables used by docker-compose.yaml but missing from .env.example"
    for var in ("VAXREG_VAULT_KEY", "VAXREG_APP_DB_PASSWORD", "VAXREG_KEEPER_DB_PASSWORD"):
        assert f"${{{var}:?" in text, f"{var} must be required (${{{var}:?…}})"
    spec = yaml.safe_load(text)
    for name, service in spec["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if re.search(r"PASSWORD|SECRET|_KEY$|FERNET", key) and not key.endswith("_FILE"):
                assert value is None or "${" in str(value), f"{name}: {key} is written in the file"
    # The tasks use the pipeline's login, the migration the owner's, the vault login the worker only.
    x_env = spec["x-airflow-env"]
    assert "//vaxreg_app:" in x_env["AIRFLOW_CONN_VAXREG_REGISTRY"]
    assert "//vaxreg:" in spec["services"]["airflow-init"]["environment"]["VAXREG_DATABASE_URL"]
    for conn in ("AIRFLOW_CONN_VAXREG_REGISTRY_VAULT", "AIRFLOW_CONN_VAXREG_REGISTRY_OWNER"):
        assert [n for n, s in spec["services"].items() if conn in str(s)] == ["airflow-worker"], conn
    assert "Compose v2.20" in text and "Compose v2.20" in (REPO / "README.md").read_text()


# --- the compose init, replayed ------------------------------------------------------------------


@pytest.fixture
def compose_init(pg_url: str) -> Iterator[dict[str, str]]:
    """docker/postgres-init.sh run against the local server with throwaway names and passwords."""
    tag = f"opsstack_{uuid.uuid4().hex[:8]}"
    names = {
        "AIRFLOW_DB_NAME": f"{tag}_airflow",
        "AIRFLOW_DB_USER": f"{tag}_airflow",
        "VAXREG_DB_NAME": f"{tag}_vaxreg",
        "VAXREG_DB_OWNER": f"{tag}_owner",
        "VAXREG_DB_APP": f"{tag}_app",
        "VAXREG_DB_KEEPER": f"{tag}_keeper",
    }
    secrets = {
        "AIRFLOW_DB_PASSWORD": "a1",
        "VAXREG_DB_PASSWORD": "o1",
        "VAXREG_APP_DB_PASSWORD": "p1",
        "VAXREG_KEEPER_DB_PASSWORD": "k1",
    }
    server = make_url(pg_url)
    env = {
        **os.environ,
        **names,
        **secrets,
        "VAXREG_INIT_DIR": str(REPO / "docker"),
        "PGHOST": server.host or "127.0.0.1",
        "PGPORT": str(server.port or 5432),
        "PGUSER": server.username or "postgres",
    }
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        done = subprocess.run(
            ["bash", str(REPO / "docker" / "postgres-init.sh")], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        base = server.set(database=names["VAXREG_DB_NAME"])

        def login(user: str, password: str) -> str:
            return base.set(username=user, password=password).render_as_string(hide_password=False)

        yield {
            "owner": login(names["VAXREG_DB_OWNER"], secrets["VAXREG_DB_PASSWORD"]),
            "app": login(names["VAXREG_DB_APP"], secrets["VAXREG_APP_DB_PASSWORD"]),
            "keeper": login(names["VAXREG_DB_KEEPER"], secrets["VAXREG_KEEPER_DB_PASSWORD"]),
            **names,
        }
    finally:
        with admin.connect() as conn:
            for key in ("VAXREG_DB_NAME", "AIRFLOW_DB_NAME"):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{names[key]}" WITH (FORCE)')
            for key in ("VAXREG_DB_APP", "VAXREG_DB_KEEPER", "VAXREG_DB_OWNER", "AIRFLOW_DB_USER"):
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{names[key]}"')
        admin.dispose()


def test_compose_init_then_migrations_and_a_feed_as_its_roles(
    compose_init: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, app, keeper = compose_init["owner"], compose_init["app"], compose_init["keeper"]
    try:
        # airflow-init: `vaxreg db upgrade` as the owner login (no superuser, no CREATEROLE).
        assert db.upgrade(owner) != "base"
        with db.transaction(owner) as conn:
            assert (
                conn.exec_driver_sql(
                    "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
                ).scalar_one()
                is False
            )
        # The worker: the resident feed as the pipeline's login, My Numbers into the vault.
        root = tmp_path / "sftp"
        shutil.copytree(SAMPLES / "resident", root / "outbox" / "resident")
        monkeypatch.setenv("VAXREG_STAGING_DIR", str(tmp_path / "staging"))
        monkeypatch.setenv("VAXREG_HOME", str(tmp_path / "var"))
        summaries = run("resident", f"file://{root}", app)
        assert [s["status"] for s in summaries] == ["applied", "applied"]
        with db.transaction(app) as conn:
            assert conn.exec_driver_sql("SELECT current_user").scalar_one() == compose_init["VAXREG_DB_APP"]
            persons = conn.exec_driver_sql("SELECT COUNT(*) FROM persons").scalar_one()
            assert persons > 0
        # The pipeline's login cannot read the vault; the vault login can, and it is not empty.
        with pytest.raises(DBAPIError, match="permission denied"), db.transaction(app) as conn:
            conn.exec_driver_sql("SELECT atena_no FROM vault.my_number_vault")
        with db.transaction(keeper) as conn:
            numbers = vault.read_all(conn)
        assert 0 < len(numbers) <= persons
        # A loader login with another vault key cannot seal (nor overwrite) a row: the Python check
        # refuses first; past it (check=False, a client that skips it) the database refuses.
        other = vault.key_from_text(vault.generate_key())
        atena = sorted(numbers)[0]
        with (
            pytest.raises(vault.VaultError, match="not the key the vault holds"),
            db.transaction(app) as conn,
        ):
            vault.put(conn, [atena], [numbers[atena]], key=other)
        with pytest.raises(DBAPIError, match="refusing to seal"), db.transaction(app) as conn:
            vault.put(conn, [atena], [numbers[atena]], key=other, check=False)
        with db.transaction(keeper) as conn:
            assert vault.read_all(conn)[atena] == numbers[atena]
    finally:
        for url in (owner, app, keeper):
            db.engine(url).dispose()
