"""Airflow UI plugin ``vaxreg``: a link to the on-call runbook, and the open review items.

* **Runbook**: an Airflow 3 *external view* without ``url_route``, so the UI opens it
  in a new tab (the git host usually forbids being framed). ``category: docs`` puts it
  in the **Docs** menu beside Airflow's own documentation. The address is
  ``vaxreg.dagtasks.notify.RUNBOOK_URL`` (env ``VAXREG_RUNBOOK_URL``), the same one the failure
  mails link to, so the UI and the mails never point to different runbooks.
* **Review queue**: a FastAPI app mounted by the api-server at ``/vaxreg``; its page
  ``/vaxreg/review`` lists the open review items (id, feed, file, row, reason codes,
  candidate atena_no: no names, privacy.md P3) and is framed in the UI under **Browse**
  (external view with ``url_route``). Only a signed-in Airflow user sees it (Airflow's
  own token check); each view is audited (P4). Items are resolved with
  ``vaxreg review accept|reject`` (cli.md).
* **Registry overview**: ``/vaxreg/overview`` in the same app, same protection, under **Browse**:
  counts only, read-only (persons by status, doses by source and month, coverage, review queue by
  age, quarantine rate per file); figures from ``vaxreg.outputs.overview``, page from
  ``vaxreg.outputs.overview_page`` (small cells under 10 shown as ``<10``).

Kept deliberately light: it is imported by every Airflow component at start-up, so the
registry, SQLAlchemy and Airflow's security module are imported only when the page is served.
"""

from __future__ import annotations

import html
from typing import Any

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from vaxreg.dagtasks.notify import RUNBOOK_URL

URL_PREFIX = "/vaxreg"

RUNBOOK_VIEW: dict[str, Any] = {
    "name": "Runbook (vaxreg on-call)",
    "href": RUNBOOK_URL,
    "destination": "nav",
    "category": "docs",
}
REVIEW_VIEW: dict[str, Any] = {
    "name": "Review queue (vaxreg)",
    "href": URL_PREFIX.lstrip("/") + "/review",  # relative to the api-server's base URL
    "url_route": "vaxreg-review",
    "destination": "nav",
    "category": "browse",
}

OVERVIEW_VIEW: dict[str, Any] = {
    "name": "Registry overview (vaxreg)",
    "href": URL_PREFIX.lstrip("/") + "/overview",
    "url_route": "vaxreg-overview",
    "destination": "nav",
    "category": "browse",
}

app = FastAPI(title="vaxreg", docs_url=None, redoc_url=None, openapi_url=None)


async def current_user(request: Request) -> str:
    """The signed-in Airflow user (Airflow's token check: bearer header or the UI's cookie)."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    user = await get_user(request, None, await bearer_scheme(request))
    return str(user.get_name())


@app.get("/review", response_class=HTMLResponse)
def review_page(user: str = Depends(current_user), feed: str | None = None) -> HTMLResponse:
    """The open review items as an HTML table; no names, no My Number."""
    return HTMLResponse(render_review(user, feed))


def render_review(user: str, feed: str | None = None, db_url: str | None = None) -> str:
    from vaxreg.registry import db, ledger
    from vaxreg.review import queue as review

    with db.transaction(db_url) as conn:
        items = review.list_items(conn, feed=feed if feed in review.review_feeds() else None, status="open")
        actor = ledger.Actor(dag_id="ui", run_id="plugin", task_id="review list", purpose=review.PURPOSE)
        ledger.audit_event(conn, actor, "export", "review_items", {"rows": len(items), "by": user})
    cells = (
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                r.id,
                r.feed,
                r.file_name,
                r.row_no,
                str(r.reasons).replace(";", " "),
                str(r.candidates).replace(";", " "),
                str(r.recorded_at)[:19],
            )
        )
        + "</tr>"
        for r in items.itertuples()
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("item", "feed", "file", "row", "reasons", "candidates (atena_no)", "recorded")
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>vaxreg review queue</title>"
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}</style></head><body>"
        f"<h1>Review queue: {len(items)} open item(s)</h1>"
        "<p>Resolve with <code>vaxreg review show ITEM</code>, then "
        "<code>vaxreg review accept ITEM --atena-no N --note WHY</code> or "
        "<code>vaxreg review reject ITEM --note WHY</code>; applied on the feed's next run.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(cells)}</tbody></table></body></html>"
    )


@app.get("/overview", response_class=HTMLResponse)
def overview_page(user: str = Depends(current_user)) -> HTMLResponse:
    """The registry overview: counts only, read-only (vaxreg.outputs.overview)."""
    return HTMLResponse(render_overview())


def render_overview(db_url: str | None = None) -> str:
    from vaxreg.outputs import overview, overview_page
    from vaxreg.registry import db

    with db.transaction(db_url) as conn:
        figures = overview.overview(conn)
    return overview_page.render(figures)


class VaxregPlugin(AirflowPlugin):
    """Navigation links: the runbook (``docs/runbook.md``), the review queue and the registry overview."""

    name = "vaxreg"
    external_views = [RUNBOOK_VIEW, REVIEW_VIEW, OVERVIEW_VIEW]  # noqa: RUF012 - AirflowPlugin declares these as class attributes
    fastapi_apps = [{"name": "vaxreg review queue", "app": app, "url_prefix": URL_PREFIX}]  # noqa: RUF012
