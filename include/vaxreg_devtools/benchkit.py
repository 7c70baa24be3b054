"""What the feed benchmarks share: a throwaway PostgreSQL schema, and the three phases
(setup, pipeline, bare COPY) each run in a fresh child process so that each peak RSS is its own."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(module: str, phase: str, url: str, root: Path, args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", module, "--phase", phase, "--url", url, "--root", str(root), *args]
    out = subprocess.run(
        cmd, check=True, capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"}
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_phases(
    module: str, name: str, args: list[str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(setup, pipeline, copy) results of ``python -m module --phase …`` in a schema dropped afterwards."""
    from sqlalchemy import create_engine

    base = os.environ.get("VAXREG_BENCH_DATABASE_URL", DEFAULT_PG_URL)
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = schema_url(base, schema)
    try:
        with tempfile.TemporaryDirectory(prefix=f"vaxreg-bench-{name}-") as tmp:
            prepared = _child(module, "setup", url, Path(tmp), args)
            pipe = _child(module, "pipeline", url, Path(tmp), args)
            copy = _child(module, "copy", url, Path(tmp), args)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema}_vault CASCADE")
        admin.dispose()
    return prepared, pipe, copy
