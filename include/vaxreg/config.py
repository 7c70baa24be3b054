"""Where things are: registry URL, feed source, local folders. No secrets in code.

Resolution order for each setting: environment variable, then the Airflow
connection (only when running inside Airflow), then the embedded default under
the git-ignored ``var/`` folder of the repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(__file__).resolve().parent / "data"  # reviewed data: rules, fees, retention, matching
REGISTRY_CONN_ID = "vaxreg_registry"
VAULT_REGISTRY_CONN_ID = "vaxreg_registry_vault"
OWNER_REGISTRY_CONN_ID = "vaxreg_registry_owner"
SOURCE_CONN_ID = "vaxreg_source"


def var_dir() -> Path:
    return Path(os.environ.get("VAXREG_HOME", REPO_ROOT / "var"))


def staging_dir() -> Path:
    """Landing copies of raw files and Parquet staging (purged by retention policy)."""
    return Path(os.environ.get("VAXREG_STAGING_DIR", var_dir() / "staging"))


def data_docs_dir() -> Path:
    """The Great Expectations Data Docs site of the validations (counts only, no values)."""
    return Path(os.environ.get("VAXREG_DATA_DOCS_DIR", staging_dir() / "data-docs"))


def expectations_dir() -> Path:
    return Path(os.environ.get("VAXREG_EXPECTATIONS_DIR", REPO_ROOT / "expectations"))


def _airflow_connection(conn_id: str) -> Any:
    """The Airflow connection, or None outside Airflow or when it is not defined."""
    if not (os.environ.get("AIRFLOW_HOME") or os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")):
        return None
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception:  # not defined, or no Airflow context: fall back to the default
        return None


def database_url() -> str:
    """SQLAlchemy URL of the registry."""
    if url := os.environ.get("VAXREG_DATABASE_URL"):
        return url
    if conn := _airflow_connection(REGISTRY_CONN_ID):
        return _sqlalchemy_url(conn)
    path = var_dir() / "data" / "registry.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def vault_database_url() -> str:
    """The registry as the vault login (key rotation, reading): ``VAXREG_VAULT_DATABASE_URL``, the
    connection ``vaxreg_registry_vault``, else the registry URL (one login, e.g. SQLite)."""
    if url := os.environ.get("VAXREG_VAULT_DATABASE_URL"):
        return url
    if conn := _airflow_connection(VAULT_REGISTRY_CONN_ID):
        return _sqlalchemy_url(conn)
    return database_url()


def maintenance_database_url() -> str:
    """The registry as its owner login, for the retention purge (it deletes vault rows and old audit
    records, and VACUUM needs table ownership): ``VAXREG_MAINTENANCE_DATABASE_URL``, the connection
    ``vaxreg_registry_owner``, else the registry URL (one login, e.g. SQLite)."""
    if url := os.environ.get("VAXREG_MAINTENANCE_DATABASE_URL"):
        return url
    if conn := _airflow_connection(OWNER_REGISTRY_CONN_ID):
        return _sqlalchemy_url(conn)
    return database_url()


def _sqlalchemy_url(conn: Any) -> str:
    uri: str = conn.get_uri()
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def source_url() -> str:
    """URL of the feed root (the folder holding ``outbox/`` and ``inbox/``)."""
    if url := os.environ.get("VAXREG_SOURCE_URL"):
        return url
    if conn := _airflow_connection(SOURCE_CONN_ID):
        extra = conn.extra_dejson
        query = {k: str(extra[k]) for k in ("key_file", "known_hosts", "no_host_key_check") if k in extra}
        root = extra.get("root", "/")
        return f"sftp://{quote(conn.login or '')}@{conn.host}:{conn.port or 22}{root}" + (
            f"?{urlencode(query)}" if query else ""
        )
    return f"file://{var_dir() / 'landing'}"
