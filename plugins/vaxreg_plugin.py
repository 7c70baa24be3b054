"""Airflow UI plugin ``vaxreg``: a link to the on-call runbook in the UI's navigation.

The link is an Airflow 3 *external view* without ``url_route``, so the UI opens it
in a new tab (the git host usually forbids being framed). ``category: docs`` puts it
in the **Docs** menu beside Airflow's own documentation. The address is
``vaxreg.alerts.RUNBOOK_URL`` (env ``VAXREG_RUNBOOK_URL``), the same one the failure
mails link to, so the UI and the mails never point to different runbooks.

Kept deliberately tiny: it is imported by every Airflow component at start-up.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from vaxreg.alerts import RUNBOOK_URL

RUNBOOK_VIEW: dict[str, Any] = {
    "name": "Runbook (vaxreg on-call)",
    "href": RUNBOOK_URL,
    "destination": "nav",
    "category": "docs",
}


class VaxregPlugin(AirflowPlugin):
    """Navigation link to ``docs/runbook.md`` (one section per DAG id and alert)."""

    name = "vaxreg"
    external_views = [RUNBOOK_VIEW]  # noqa: RUF012 - AirflowPlugin declares these as class attributes
