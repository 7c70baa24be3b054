"""Fixtures of the DAG tests: the DAG folder parsed once per module, as the DAG processor does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.paths import REPO


@pytest.fixture(scope="module")
def dagbag(airflow_home: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))
