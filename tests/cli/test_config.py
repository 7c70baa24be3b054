"""Configuration without secrets in code: environment, then Airflow connections, then defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaxreg import config
from vaxreg.transport import SftpSource, open_source


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "VAXREG_DATABASE_URL",
        "VAXREG_SOURCE_URL",
        "AIRFLOW_CONN_VAXREG_REGISTRY",
        "AIRFLOW_CONN_VAXREG_SOURCE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VAXREG_HOME", str(tmp_path))


def test_embedded_defaults(tmp_path: Path) -> None:
    assert config.database_url() == f"sqlite:///{tmp_path}/data/registry.sqlite"
    assert config.source_url() == f"file://{tmp_path}/landing"


def test_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXREG_DATABASE_URL", "postgresql+psycopg://u@db/registry")
    monkeypatch.setenv("AIRFLOW_CONN_VAXREG_REGISTRY", "postgresql://other@elsewhere/x")
    assert config.database_url() == "postgresql+psycopg://u@db/registry"


def test_airflow_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VAXREG_REGISTRY", "postgresql://vaxreg@db.internal:5432/registry")
    monkeypatch.setenv(
        "AIRFLOW_CONN_VAXREG_SOURCE",
        json.dumps(
            {
                "conn_type": "sftp",
                "host": "sftp.internal",
                "port": 2222,
                "login": "vaxreg",
                "extra": {
                    "key_file": "/keys/id_ed25519",
                    "known_hosts": "/keys/known_hosts",
                    "root": "/data",
                },
            }
        ),
    )
    assert config.database_url() == "postgresql+psycopg://vaxreg@db.internal:5432/registry"
    url = config.source_url()
    assert url.startswith("sftp://vaxreg@sftp.internal:2222/data?")
    source = open_source(url)  # connects lazily: nothing is dialled here
    assert isinstance(source, SftpSource)
    assert "sftp.internal" in source.describe() and "key" not in source.describe().split("?")[0]
