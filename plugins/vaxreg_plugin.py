"""Airflow UI plugin ``vaxreg``: a link to the on-call runbook, and the open review items.

* **Runbook**: ``/vaxreg/runbook`` serves ``docs/runbook.md`` as HTML with heading anchors; an
  Airflow 3 *external view* (``category: docs``, the **Docs** menu) links to it, or to
  ``VAXREG_RUNBOOK_URL`` when set: the same address the failure mails use
  (``vaxreg.dagtasks.notify.runbook_url``), so the UI and the mails never disagree.
* **Review queue**: a FastAPI app mounted by the api-server at ``/vaxreg``; its page
  ``/vaxreg/review`` lists the open review items (id, feed, file, row, reason codes,
  candidate atena_no: no names, privacy.md P3), paged, filtered by feed and reason, and is
  framed in the UI under **Browse** (external view with ``url_route``). Only a signed-in Airflow
  user sees it (Airflow's own token check); each view is audited (P4). Users holding a role in
  ``VAXREG_REVIEW_ROLES`` (default ``admin``) also open an item (``/vaxreg/review/ID``: received
  row and candidates, audited) and accept or reject it (``POST /vaxreg/review/ID/resolve``,
  CSRF token), through the same functions as ``vaxreg review accept|reject``, with the Airflow
  user as the resolver. The logic is :mod:`vaxreg.review.page`; this module is the HTTP glue.
* **Data Docs**: ``/vaxreg/data-docs/`` serves the Great Expectations Data Docs site of the
  validations (:mod:`vaxreg.quality.datadocs`; counts only) to signed-in users, framed under
  **Browse**.
* **Registry overview**: ``/vaxreg/overview`` in the same app, same protection, under **Browse**:
  counts only, read-only (persons by status, doses by source and month, coverage, review queue by
  age, quarantine rate per file); figures from ``vaxreg.outputs.overview``, page from
  ``vaxreg.outputs.overview_page`` (small cells under 10 shown as ``<10``).

Kept deliberately light: it is imported by every Airflow component at start-up, so the
registry, SQLAlchemy and Airflow's security module are imported only when the page is served.
"""

from __future__ import annotations

import hashlib
import html
import os
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vaxreg.dagtasks.notify import RUNBOOK_PATH

URL_PREFIX = "/vaxreg"

RUNBOOK_VIEW: dict[str, Any] = {
    "name": "Runbook (vaxreg on-call)",
    # VAXREG_RUNBOOK_URL when set, else the page below, relative to the api-server's base URL.
    "href": os.environ.get("VAXREG_RUNBOOK_URL") or RUNBOOK_PATH.lstrip("/"),
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

DATA_DOCS_VIEW: dict[str, Any] = {
    "name": "Data Docs (vaxreg validations)",
    "href": URL_PREFIX.lstrip("/") + "/data-docs/",
    "url_route": "vaxreg-data-docs",
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


@app.get("/runbook", response_class=HTMLResponse)
def runbook_page() -> HTMLResponse:
    """docs/runbook.md as HTML with heading anchors (no personal data, no secret: open to the
    network that reaches the UI, so a link in a mail opens before signing in)."""
    from vaxreg.dagtasks import runbook

    return HTMLResponse(runbook.render(runbook.runbook_file().read_text(encoding="utf-8")))


async def current_user(request: Request) -> Any:
    """The signed-in Airflow user (Airflow's token check: bearer header or the UI's cookie) as a
    :class:`vaxreg.review.page.Reviewer` (name and role names)."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    from vaxreg.review.page import Reviewer, user_roles

    user = await get_user(request, None, await bearer_scheme(request))
    return Reviewer(name=str(user.get_name()), roles=user_roles(user))


CurrentUser = Annotated[Any, Depends(current_user)]

# --- the review page (16.5): list for everyone signed in, show/resolve for the configured roles ---

_NO_STORE = {"Cache-Control": "no-store", "Content-Security-Policy": "frame-ancestors 'self'"}
_RANDOM_KEY = os.urandom(32)


def csrf_key() -> bytes:
    """The key of the review forms' CSRF tokens: ``VAXREG_UI_SECRET``, else Airflow's
    ``[api_auth] jwt_secret`` (shared by every api-server worker), else one per process."""
    secret = os.environ.get("VAXREG_UI_SECRET", "")
    if not secret:
        from airflow.configuration import conf

        secret = conf.get("api_auth", "jwt_secret", fallback="") or ""
    if not secret:
        return _RANDOM_KEY
    return hashlib.sha256(b"vaxreg review csrf\n" + secret.encode()).digest()


@app.get("/review", response_class=HTMLResponse)
def review_page(
    user: CurrentUser,
    feed: str | None = None,
    reason: str | None = None,
    page: int = 1,
    resolved: int | None = None,
    decision: str | None = None,
) -> HTMLResponse:
    """The open review items, paged and filtered; no names, no My Number."""
    from vaxreg.review.page import render_list

    done = (
        f"Review item {resolved} {decision}." if resolved and decision in ("accepted", "rejected") else None
    )
    text = render_list(user, feed=feed or None, reason=reason or None, page=page, done=done)
    return HTMLResponse(text, headers=_NO_STORE)


@app.get("/review/{item_id}", response_class=HTMLResponse)
def review_item_page(item_id: int, user: CurrentUser) -> HTMLResponse:
    """One item with its candidates and the accept/reject forms (resolvers only; audited)."""
    from vaxreg.review.page import Refused, render_item
    from vaxreg.review.queue import ReviewError

    try:
        return HTMLResponse(render_item(user, item_id, csrf_key()), headers=_NO_STORE)
    except Refused as exc:
        return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=403, headers=_NO_STORE)
    except ReviewError as exc:
        return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=404, headers=_NO_STORE)


@app.post("/review/{item_id}/resolve", response_model=None)
async def review_resolve(item_id: int, request: Request, user: CurrentUser) -> Response:
    """Accept or reject from the page's form (CSRF token, resolver role); 303 back to the list."""
    from vaxreg.review.page import Refused, render_item, resolve
    from vaxreg.review.queue import ReviewError

    if not _same_origin(request):
        return HTMLResponse("<p>cross-site form refused</p>", status_code=403, headers=_NO_STORE)
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    try:
        resolve(user, item_id, form, csrf_key())
    except Refused as exc:
        return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=403, headers=_NO_STORE)
    except ReviewError as exc:
        try:
            page = render_item(user, item_id, csrf_key(), error=str(exc))
        except ReviewError:
            return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=404, headers=_NO_STORE)
        return HTMLResponse(page, status_code=409, headers=_NO_STORE)
    verb = "accepted" if form.get("decision") == "accept" else "rejected"
    return RedirectResponse(f"../../review?resolved={item_id}&decision={verb}", status_code=303)


def _same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (when sent) must name this server (a second line behind the token)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    hosts = {request.headers.get("host", ""), *request.headers.get("x-forwarded-host", "").split(",")}
    return urlsplit(origin).netloc in {h.strip() for h in hosts if h.strip()}


# --- Data Docs (16.4): the validations' Great Expectations site, to signed-in users -----------------


@app.get("/data-docs/{path:path}", response_model=None)
def data_docs(path: str, user: CurrentUser) -> Response:
    """A page of the Data Docs site (``vaxreg.config.data_docs_dir()``); counts only, no personal
    data. Same protection as the review list: a signed-in Airflow user."""
    from vaxreg import config

    root = config.data_docs_dir().resolve()
    target = (root / (path or "index.html")).resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(root) or target.suffix != ".html" or not target.is_file():
        return HTMLResponse("<p>no such Data Docs page</p>", status_code=404)
    return HTMLResponse(target.read_text(encoding="utf-8"), headers=_NO_STORE)


@app.get("/overview", response_class=HTMLResponse)
def overview_page(user: CurrentUser) -> HTMLResponse:
    """The registry overview: counts only, read-only (vaxreg.outputs.overview)."""
    return HTMLResponse(render_overview())


def render_overview(db_url: str | None = None) -> str:
    from vaxreg.outputs import overview, overview_page
    from vaxreg.registry import db

    with db.transaction(db_url) as conn:
        figures = overview.overview(conn)
    return overview_page.render(figures)


class VaxregPlugin(AirflowPlugin):
    """Navigation links: the runbook (``docs/runbook.md``), the review queue, the registry overview
    and the Data Docs."""

    name = "vaxreg"
    external_views = [RUNBOOK_VIEW, REVIEW_VIEW, OVERVIEW_VIEW, DATA_DOCS_VIEW]  # noqa: RUF012 - AirflowPlugin declares these as class attributes
    fastapi_apps = [{"name": "vaxreg review queue", "app": app, "url_prefix": URL_PREFIX}]  # noqa: RUF012
