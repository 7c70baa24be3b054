"""The ``vaxreg`` Airflow plugin loads through Airflow's own plugins manager and links the runbook."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.paths import REPO

# The menu's runbook: VAXREG_RUNBOOK_URL when set, else the page the plugin serves (relative to the UI).
RUNBOOK_HREF = os.environ.get("VAXREG_RUNBOOK_URL") or "vaxreg/runbook"


def _vaxreg_info() -> dict[str, Any]:
    from airflow import plugins_manager, settings

    assert Path(settings.PLUGINS_FOLDER or "") == REPO / "plugins"
    plugins_manager.ensure_plugins_loaded()
    assert plugins_manager.get_import_errors() == {}
    infos = [p for p in plugins_manager.get_plugin_info() if p["name"] == "vaxreg"]
    assert len(infos) == 1, "plugin 'vaxreg' not loaded"
    return infos[0]


def test_plugin_loads_without_import_errors() -> None:
    info = _vaxreg_info()
    assert str(info["source"]).endswith("vaxreg_plugin.py")


def test_plugin_links_the_runbook_in_the_navigation() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    views = _vaxreg_info()["external_views"]
    assert len(views) == 4  # runbook, review queue, registry overview, Data Docs
    view = ExternalViewResponse(**views[0])  # what the UI's plugins endpoint serves
    assert view.href == RUNBOOK_HREF
    assert view.destination == "nav"
    assert view.url_route is None  # opened in a new tab, not framed
    assert (view.category or "").lower() == "docs"


def test_airflow_cli_lists_the_plugin(airflow_home: Path) -> None:
    """A fresh Airflow process (as the api-server and scheduler start) finds the plugin."""
    env = os.environ | {"AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")}
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "plugins", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    plugins = json.loads(out.strip().splitlines()[-1])
    vaxreg = [p for p in plugins if p["name"] == "vaxreg"]
    assert vaxreg and vaxreg[0]["external_views"][0]["href"] == RUNBOOK_HREF


def test_plugin_serves_the_runbook_with_an_anchor_per_dag() -> None:
    """The mails link to <base>/vaxreg/runbook#<dag_id>: the page exists and has each anchor."""
    from fastapi.testclient import TestClient

    page = TestClient(_plugin_module().app).get("/runbook")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for dag_file in sorted((REPO / "dags").glob("*.py")):
        assert f'id="{dag_file.stem}"' in page.text, dag_file.stem
    assert 'id="high-quarantine-rate"' in page.text  # the data-quality mail's anchor


def test_runbook_has_a_section_per_dag() -> None:
    """Failure mails link to ``runbook.md#<dag_id>``: each DAG needs a ``## <dag_id>`` heading."""
    headings = set(re.findall(r"^## (\S+)\s*$", (REPO / "docs" / "runbook.md").read_text(), re.M))
    for dag_file in (REPO / "dags").glob("*.py"):
        if not dag_file.name.startswith("_"):
            assert dag_file.stem in headings, f"docs/runbook.md lacks '## {dag_file.stem}'"


# --- the review queue page (a FastAPI app mounted by the api-server) ---------------------------------


def _plugin_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "vaxreg_plugin_under_test", REPO / "plugins" / "vaxreg_plugin.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plugin_mounts_the_review_page_under_browse() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse, FastAPIAppResponse

    info = _vaxreg_info()
    [app] = info["fastapi_apps"]
    assert FastAPIAppResponse(**app).url_prefix == "/vaxreg"
    view = ExternalViewResponse(**info["external_views"][1])
    assert (view.href, view.url_route, (view.category or "").lower()) == (
        "vaxreg/review",
        "vaxreg-review",
        "browse",
    )
    assert not view.href.startswith("/")  # relative: works behind a proxy's base path


def test_plugin_import_stays_light() -> None:
    """Every Airflow component imports the plugin: no registry, pandas or Airflow's API security at import."""
    path = str(REPO / "plugins" / "vaxreg_plugin.py")
    code = (
        "import sys, importlib.util; "
        f"spec = importlib.util.spec_from_file_location('p', {path!r}); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "print(sorted(n for n in ('vaxreg.registry.db', 'vaxreg.review.queue', 'pandas', "
        "'airflow.api_fastapi.core_api.security') if n in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_review_page_lists_open_items_without_names(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from vaxreg.registry import db

    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    db.upgrade(url)
    monkeypatch.setenv("VAXREG_DATABASE_URL", url)
    with db.transaction(url) as conn:
        for i, (status, cands) in enumerate(
            (("open", "0000000001;0000000002"), ("rejected", "0000000003")), 1
        ):
            conn.exec_driver_sql(
                "INSERT INTO review_items (feed, file_name, manifest_id, row_no, reasons, candidates, "
                "raw_row, status, recorded_at) VALUES ('clinic', 'ISHIKAI_202603.csv', 1, ?, "
                "'atena_no_missing;below_threshold', ?, ?, ?, '2026-04-05 03:00:00+00:00')",
                (i, cands, json.dumps({"name_kana": "ﾔﾏﾀﾞ ﾊﾅｺ", "address": "港区芝1丁目"}), status),
            )
    plugin = _plugin_module()
    client = TestClient(plugin.app)

    assert client.get("/review").status_code == 401  # no Airflow token: nothing shown

    from vaxreg.review.page import Reviewer

    viewer = Reviewer("reviewer1", frozenset({"viewer"}))
    plugin.app.dependency_overrides[plugin.current_user] = lambda: viewer
    page = client.get("/review")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "1 open item(s)" in text and "0000000001 0000000002" in text and "ISHIKAI_202603.csv" in text
    assert "atena_no_missing below_threshold" in text
    assert "0000000003" not in text  # resolved items are not listed
    assert "ﾔﾏﾀﾞ" not in text and "港区" not in text  # no names, no addresses
    with db.transaction(url) as conn:
        [(dag_id, task_id, detail)] = conn.exec_driver_sql(
            "SELECT dag_id, task_id, detail FROM audit_log WHERE table_name = 'review_items'"
        ).fetchall()
    assert (dag_id, task_id) == ("ui", "review list")
    assert json.loads(detail) == {"by": "reviewer1", "rows": 1, "feed": None, "reason": None, "page": 1}
    assert "resolve" not in text.split("<tbody>")[1]  # no role: no resolve links
    assert client.get("/review/1").status_code == 403
    assert client.post("/review/1/resolve", data={"decision": "reject", "note": "x"}).status_code == 403
    assert (
        client.post(
            "/review/1/resolve", data={"decision": "reject"}, headers={"Origin": "http://evil.example"}
        ).status_code
        == 403
    )
    db.engine(url).dispose()


def test_plugin_serves_data_docs_to_signed_in_users(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from vaxreg.review.page import Reviewer

    docs = tmp_path / "docs"
    (docs / "clinic").mkdir(parents=True)
    (docs / "index.html").write_text("<h1>Data Docs index</h1>", encoding="utf-8")
    (docs / "clinic" / "ISHIKAI_202603.csv.abc.html").write_text("<h1>clinic page</h1>", encoding="utf-8")
    (tmp_path / "secret.html").write_text("outside", encoding="utf-8")
    monkeypatch.setenv("VAXREG_DATA_DOCS_DIR", str(docs))
    plugin = _plugin_module()
    client = TestClient(plugin.app)
    assert client.get("/data-docs/").status_code == 401  # not signed in
    plugin.app.dependency_overrides[plugin.current_user] = lambda: Reviewer("viewer1", frozenset({"viewer"}))
    assert "Data Docs index" in client.get("/data-docs/").text
    assert "clinic page" in client.get("/data-docs/clinic/ISHIKAI_202603.csv.abc.html").text
    assert client.get("/data-docs/..%2Fsecret.html").status_code == 404
    assert client.get("/data-docs/clinic/../../secret.html").status_code == 404
