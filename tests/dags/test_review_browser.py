"""The review page in a real headless browser (Debian's chromium + Playwright), served by Airflow's
own api-server app with the real ``vaxreg`` plugin and Airflow's token check: a resolver accepts an
item by clicking, the registry and the audit log change; a user without the role sees the list
only and a forged POST is refused. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.browser import browser
from helpers.db import pg_schema_url, rows
from helpers.paths import REPO
from helpers.review import P2, seed_review
from helpers.smtp import free_port

SHOTS = REPO / "var" / "screenshots"


@pytest.fixture
def registry(pg_url: str) -> Iterator[str]:
    from vaxreg.registry import db

    for url in pg_schema_url(pg_url):
        db.upgrade(url)
        yield url


@pytest.fixture
def api_server(airflow_home: Path, registry: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Airflow's api-server app (core: UI, REST API, plugins, auth manager) under uvicorn."""
    import uvicorn
    from airflow.api_fastapi.app import create_app

    monkeypatch.setenv("VAXREG_DATABASE_URL", registry)
    monkeypatch.setenv("VAXREG_REVIEW_ROLES", "admin,op")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app("core"), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "api-server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def token(name: str, role: str) -> str:
    """What Airflow's sign-in puts in the ``_token`` cookie (simple auth manager)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=name, role=role))


def sign_in(page, base: str, name: str, role: str) -> None:  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "_token", "value": token(name, role), "url": base}])


def test_review_page_resolves_in_a_browser(api_server: str, registry: str, feed_root: Path) -> None:
    ids = seed_review(feed_root, registry)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with browser() as b:
        page = b.page
        assert page.goto(f"{api_server}/vaxreg/review").status == 401  # not signed in
        sign_in(page, api_server, "alice", "admin")
        page.goto(f"{api_server}/vaxreg/review")
        assert "3 open item(s)" in page.inner_text("h1")
        page.screenshot(path=str(SHOTS / "review-list.png"), full_page=True)
        page.select_option("select[name='reason']", "no_candidate")
        page.click("#filters button")
        page.wait_for_url("**/vaxreg/review?*reason=no_candidate*")
        assert "1 open item(s)" in page.inner_text("h1") and page.locator("tbody tr").count() == 1
        page.goto(f"{api_server}/vaxreg/review")
        page.click(f"tr[data-item='{ids[1]}'] a.resolve")
        page.wait_for_url(f"**/vaxreg/review/{ids[1]}")
        page.check(f"input[name='atena_no'][value='{P2}']")
        page.fill("#accept textarea[name='note']", "本人に電話で確認")
        page.screenshot(path=str(SHOTS / "review-item.png"), full_page=True)
        page.click("#accept button[type='submit']")
        page.wait_for_url("**/vaxreg/review?resolved=*")
        assert page.inner_text("#done") == f"Review item {ids[1]} accepted."
        assert "2 open item(s)" in page.inner_text("h1")

        sign_in(page, api_server, "bob", "viewer")
        page.goto(f"{api_server}/vaxreg/review")
        assert "2 open item(s)" in page.inner_text("h1")
        assert page.locator("a.resolve").count() == 0 and page.locator("form[method='post']").count() == 0
        page.screenshot(path=str(SHOTS / "review-list-viewer.png"), full_page=True)
        assert page.goto(f"{api_server}/vaxreg/review/{ids[2]}").status == 403
        # The Data Docs of the seeded files' validations, to any signed-in user, nothing from outside.
        page.goto(f"{api_server}/vaxreg/data-docs/")
        page.click("a[href^='clinic/']")
        assert "clinic_records" in page.content()
        page.screenshot(path=str(SHOTS / "data-docs-clinic.png"), full_page=True)
        forged = page.request.post(
            f"{api_server}/vaxreg/review/{ids[2]}/resolve",
            form={"decision": "reject", "note": "forged", "csrf": "1.x"},
        )
        assert forged.status == 403
    assert b.external == []

    got = rows(
        registry,
        "SELECT id, status, resolved_by, resolved_atena_no, resolution_note FROM review_items ORDER BY id",
    )
    assert got == [
        (ids[1], "accepted", "alice", P2, "本人に電話で確認"),
        (ids[2], "open", None, None, None),
        (ids[3], "open", None, None, None),
    ]
    [(task, detail)] = rows(
        registry,
        "SELECT task_id, detail FROM audit_log WHERE table_name = 'review_items' AND action = 'update'",
    )
    assert task == "review accept" and json.loads(detail)["by"] == "alice"
