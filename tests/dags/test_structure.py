"""The shape the DAG files keep: thin wiring that matches what each feed declares, every Asset
declared once in vaxreg.dagtasks.assets, and a generic pipeline that names no feed; production
code in modules and functions a reader can hold."""

from __future__ import annotations

import ast
import re
from typing import Any

import pytest

from vaxreg import feeds
from vaxreg.dagtasks import assets

from helpers.paths import REPO

FEED_DAGS = {
    "resident_diff": "resident",
    "welfare_lists": "welfare",
    "clinic_records": "clinic",
    "otherward_records": "otherward",
    "vrs_import": "vrs",
    "atena_numbers": "atena",
    "prior_records": "prior",
}


@pytest.mark.parametrize(("dag_id", "feed"), sorted(FEED_DAGS.items()))
def test_feed_dag_wires_what_its_feed_declares(dagbag: Any, dag_id: str, feed: str) -> None:
    """The report task announces the feed's registry areas; one publish task per declared output."""
    spec = feeds.get(feed)
    dag = dagbag.get_dag(dag_id)
    report = dag.get_task("report")
    assert sorted(a.uri for a in report.outlets) == sorted(assets.REGISTRY[c].uri for c in spec.changes)
    published = sorted(a.uri for t in dag.tasks if t.task_id not in ("report",) for a in t.outlets)
    assert published == sorted(assets.OUTBOUND[o].uri for o in spec.after_apply)


def test_dag_files_are_thin_and_declare_no_asset() -> None:
    for path in sorted((REPO / "dags").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 90, f"{path.name} is over 90 lines"
        assert "Asset(" not in text, f"{path.name} declares an Asset: use vaxreg.dagtasks.assets"


def test_every_asset_is_declared_once() -> None:
    uris = [a.uri for a in (*assets.REGISTRY.values(), *assets.OUTBOUND.values())]
    assert len(uris) == len(set(uris))
    declared = re.findall(r'_asset\("([\w.]+)"\)', (REPO / "include/vaxreg/dagtasks/assets.py").read_text())
    assert len(declared) == len(set(declared))


def test_pipeline_names_no_feed() -> None:
    """Adding a feed is a module, a suite and a DAG file: the generic steps branch on no feed name."""
    tree = ast.parse((REPO / "include/vaxreg/pipeline.py").read_text(encoding="utf-8"))
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not literals & set(feeds.NAMES)


@pytest.mark.parametrize("feed", feeds.NAMES)
def test_feed_declares_its_suites(feed: str) -> None:
    for kind in feeds.get(feed).kinds:
        assert (REPO / "expectations" / f"{kind.suite}.json").is_file(), kind.suite


def test_production_modules_and_functions_stay_small() -> None:
    """No production module over 700 lines, no production function over 120 (issue 11). Alembic
    migrations are left out: a released migration is history, never rewritten."""
    too_long = []
    for path in sorted((REPO / "include/vaxreg").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(REPO)
        if len(text.splitlines()) > 700:
            too_long.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > 120:
                    too_long.append(f"{where}:{node.lineno} {node.name}: {lines} lines")
    assert not too_long, too_long


def test_every_dag_has_a_short_description(dagbag: Any) -> None:
    """The DAG list shows ``description`` under each name (16.6): one line, what the DAG does."""
    assert dagbag.dag_ids
    for dag_id in dagbag.dag_ids:
        text = dagbag.get_dag(dag_id).description or ""
        assert 20 <= len(text) <= 120 and "\n" not in text, dag_id


def test_make_airflow_runs_on_tokyo_time() -> None:
    """``make airflow`` (and ``make demo``) start Airflow with Asia/Tokyo as its default timezone."""
    import subprocess

    out = subprocess.run(
        ["make", "-n", "-p", "airflow"], cwd=REPO, capture_output=True, text=True, timeout=60
    ).stdout
    for target in ("airflow", "demo"):
        assert f"{target}: AIRFLOW__CORE__DEFAULT_TIMEZONE = Asia/Tokyo" in out


def test_every_dag_and_task_has_a_timeout(dagbag: Any) -> None:
    """Issue 16.3: a hung run or task ends (and mails) instead of blocking the next one."""
    import datetime as dt

    assert len(dagbag.dags) >= 6 and not dagbag.import_errors
    for dag_id, dag in dagbag.dags.items():
        assert dag.dagrun_timeout is not None, f"{dag_id}: no dagrun_timeout"
        assert dt.timedelta(0) < dag.dagrun_timeout <= dt.timedelta(hours=24), dag_id
        for task in dag.tasks:
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id}: no execution_timeout"
            assert task.execution_timeout > dt.timedelta(0), f"{dag_id}.{task.task_id}"
