"""The ``vaxreg`` Airflow plugin loads through Airflow's own plugins manager and links the runbook."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from vaxreg.alerts import RUNBOOK_URL

from conftest import REPO


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
    assert len(views) == 1
    view = ExternalViewResponse(**views[0])  # what the UI's plugins endpoint serves
    assert view.href == RUNBOOK_URL
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
    assert vaxreg and vaxreg[0]["external_views"][0]["href"] == RUNBOOK_URL


def test_runbook_has_a_section_per_dag() -> None:
    """Failure mails link to ``runbook.md#<dag_id>``: each DAG needs a ``## <dag_id>`` heading."""
    headings = set(re.findall(r"^## (\S+)\s*$", (REPO / "docs" / "runbook.md").read_text(), re.M))
    for dag_file in (REPO / "dags").glob("*.py"):
        if not dag_file.name.startswith("_"):
            assert dag_file.stem in headings, f"docs/runbook.md lacks '## {dag_file.stem}'"
