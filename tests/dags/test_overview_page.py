"""The registry overview page of the plugin, served by uvicorn on loopback and opened in a real
headless browser: without a token nothing is shown; with a valid Airflow token (signed by the
auth manager, as the UI's cookie or bearer) the page renders its tables and the quarantine-rate
charts, and no request leaves the machine. Screenshot: ``var/screenshots/overview.png``."""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaxreg.registry import db

from helpers import municipality as town
from helpers.browser import browser
from helpers.paths import REPO
from helpers.smtp import free_port

SHOT = REPO / "var" / "screenshots" / "overview.png"
pytestmark = pytest.mark.airflow


def _plugin() -> Any:
    spec = importlib.util.spec_from_file_location(
        "vaxreg_plugin_overview", REPO / "plugins" / "vaxreg_plugin.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def served(airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """(base URL of the plugin app, a valid token) over a seeded SQLite registry."""
    import uvicorn

    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "figures-test-secret-" * 4)
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    db.upgrade(url)
    persons, doses = town.generate(seed=9, n=160)
    town.seed(url, persons, doses)
    with db.transaction(url) as conn:
        conn.exec_driver_sql(
            "INSERT INTO ingest_manifest (feed, file_name, sha256, size_bytes, status, rows_read, accepted, "
            "quarantined, run_id, recorded_at) VALUES ('clinic', 'ISHIKAI_202605.csv', 'x', 1, 'applied', "
            "200, 180, 20, 't', CURRENT_TIMESTAMP)"
        )
    monkeypatch.setenv("VAXREG_DATABASE_URL", url)

    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = create_auth_manager()
    manager.init()
    token = manager.generate_jwt(SimpleAuthManagerUser(username="staff1", role="viewer"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_plugin().app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.engine(url).dispose()


def test_overview_page_in_a_browser(served: tuple[str, str]) -> None:
    base, token = served
    with browser() as b:
        response = b.page.goto(f"{base}/overview")
        assert response is not None and response.status == 401
        assert "Registry overview" not in b.page.content()

        b.page.set_extra_http_headers({"Authorization": "Bearer not-a-token"})
        response = b.page.goto(f"{base}/overview")
        assert response is not None and response.status == 403

        b.page.set_extra_http_headers({"Authorization": f"Bearer {token}"})
        response = b.page.goto(f"{base}/overview")
        assert response is not None and response.status == 200
        assert b.page.inner_text("h1") == "Registry overview"
        for table in ("persons-by-status", "doses-by-source-month", "coverage", "review-by-age"):
            assert b.page.locator(f"#{table}").count() == 1
        chart = b.page.locator("figure.rate-chart[data-feed='clinic'] svg")
        assert chart.count() == 1 and b.page.locator("figure.rate-chart rect.bar").count() == 1
        box = chart.bounding_box()
        assert box and box["width"] > 300
        text = b.page.inner_text("body")
        assert "試験" not in text and "シケン" not in text  # no names: counts only
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        b.page.screenshot(path=str(SHOT), full_page=True)
    assert b.external == []
    assert all(r.startswith(base) for r in b.requests)
    print(f"screenshot: {SHOT}")


def test_plugin_links_the_overview_under_browse() -> None:
    from airflow import plugins_manager
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    plugins_manager.ensure_plugins_loaded()
    [info] = [p for p in plugins_manager.get_plugin_info() if p["name"] == "vaxreg"]
    [view] = [
        ExternalViewResponse(**v) for v in info["external_views"] if v.get("url_route") == "vaxreg-overview"
    ]
    assert (view.href, (view.category or "").lower(), view.destination) == (
        "vaxreg/overview",
        "browse",
        "nav",
    )
