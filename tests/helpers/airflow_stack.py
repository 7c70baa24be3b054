"""A distributed Airflow started natively, with docker-compose.yaml's executor settings.

CeleryExecutor, the machine's Redis as broker (a database number of its own), PostgreSQL as
metadata database (a throwaway database), and separate ``api-server``, ``scheduler``,
``dag-processor``, ``triggerer`` and ``celery worker`` processes, each in its own process group so
that :meth:`Stack.stop` ends every process it started (children included), even after a failure.
The REST API is Airflow 3's public API (/api/v2) with a JWT from SimpleAuthManager (/auth/token).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.paths import REPO
from helpers.smtp import free_port

COMPONENTS = (
    ("api-server", ["api-server", "--workers", "1"]),
    ("scheduler", ["scheduler"]),
    ("dag-processor", ["dag-processor"]),
    ("triggerer", ["triggerer"]),
    ("celery-worker", ["celery", "worker", "--concurrency", "2", "--without-gossip", "--without-mingle"]),
)


def stack_env(
    home: Path, metadata_url: str, redis_db: int, port: int, extra: dict[str, str]
) -> dict[str, str]:
    """The environment every component shares (docker-compose.yaml's x-airflow-env, local values)."""
    from cryptography.fernet import Fernet

    pg = metadata_url.split("://", 1)[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{pg}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Tokyo",
        # Only the runs this test triggers: no cron run is created when a DAG is unpaused.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "GX_ANALYTICS_ENABLED": "False",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    return env | extra


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def airflow(self, *args: str, timeout: float = 300) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, timeout=timeout
        )
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)}: {done.stderr.decode()[-2000:]}")

    def start(self) -> None:
        (self.home / "passwords.json").write_text(json.dumps({"admin": "stack-test-password"}))
        self.airflow("db", "migrate")
        for name, args in COMPONENTS:
            log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its children too
            )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
            proc.wait()

    def keep_logs(self, folder: Path) -> None:
        """Copy the components' logs (and the task logs) where a failed CI run can be read."""
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(self.home, folder, ignore=shutil.ignore_patterns("*.cfg", "passwords.json"))

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n" + (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
            for name in self.procs
        )

    # --- the REST API ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def wait_until(self, what: str, probe: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} waiting for {what}")
            try:
                if result := probe():
                    return result
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(1)
        raise TimeoutError(f"{what}: not within {timeout:.0f} s")

    def login(self) -> None:
        def token() -> str:
            body = {"username": "admin", "password": "stack-test-password"}
            return str(self.request("POST", "/auth/token", body, auth=False)["access_token"])

        self.token = self.wait_until("the api-server", token, 120)

    def trigger(self, dag_id: str) -> str:
        """Unpause ``dag_id`` once the DAG processor has stored it, trigger a run; its run id."""

        def known() -> bool:
            try:
                return bool(self.request("GET", f"/api/v2/dags/{dag_id}"))
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return False
                raise

        self.wait_until(f"DAG {dag_id} parsed", known, 120)
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": {}})
        return str(run["dag_run_id"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 120) -> str:
        from urllib.parse import quote

        def finished() -> str | None:
            run = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}")
            return run["state"] if run["state"] in ("success", "failed") else None

        return str(self.wait_until(f"run {run_id}", finished, timeout))

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        from urllib.parse import quote

        tis = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances")
        return {t["task_id"]: t["state"] for t in tis["task_instances"]}
