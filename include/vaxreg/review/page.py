"""The review page of the Airflow plugin (名寄せ確認画面): list, show and resolve review items.

Pure Python (no Airflow, no web framework): the plugin (``plugins/vaxreg_plugin.py``) passes in the
signed-in user and the form fields; this module renders HTML and calls the SAME functions as
``vaxreg review list|show|accept|reject`` (:mod:`vaxreg.review.queue`), so a decision taken on the
page is audited exactly like one taken in a shell, with the Airflow user as ``decided_by``.

* **Who may resolve**: users holding one of the roles in ``VAXREG_REVIEW_ROLES`` (comma separated,
  case-insensitive; default ``admin``). Everyone signed in sees the list (no names: P3); only a
  resolver sees an item's received row and candidates (personal data, audited: P4) and the forms,
  and the server refuses a resolution from anyone else whatever the browser sends.
* **CSRF**: every form carries a token, an HMAC of the user and the time under a server key
  (:func:`csrf_token`); a POST without a valid, fresh token for the same user is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from vaxreg.registry import db, ledger
from vaxreg.review import queue

PAGE_SIZE = 50
ROLES_ENV = "VAXREG_REVIEW_ROLES"
DEFAULT_ROLES = "admin"
CSRF_MAX_AGE = 4 * 3600  # seconds a form stays valid


class Refused(PermissionError):
    """The signed-in user may not do this (no resolver role, or a stale/forged form)."""


@dataclass(frozen=True)
class Reviewer:
    """The signed-in Airflow user: name (``decided_by``) and role names (lower case)."""

    name: str
    roles: frozenset[str] = frozenset()

    @property
    def may_resolve(self) -> bool:
        return bool(self.roles & resolver_roles())


def resolver_roles() -> frozenset[str]:
    raw = os.environ.get(ROLES_ENV, DEFAULT_ROLES)
    return frozenset(r.strip().lower() for r in raw.split(",") if r.strip())


def user_roles(user: Any) -> frozenset[str]:
    """Role names of an Airflow user object: the simple auth manager's ``role``, FAB's ``roles``."""
    names = [user.role] if isinstance(getattr(user, "role", None), str) else []
    names += [str(getattr(r, "name", r)) for r in (getattr(user, "roles", None) or [])]
    return frozenset(n.lower() for n in names)


def actor(task: str) -> ledger.Actor:
    return ledger.Actor(dag_id="ui", run_id="plugin", task_id=task, purpose=queue.PURPOSE)


# --------------------------------------------------------------------------- CSRF


def csrf_token(key: bytes, user: str, now: float | None = None) -> str:
    issued = str(int(time.time() if now is None else now))
    mac = hmac.new(key, f"{user}\n{issued}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{mac}"


def csrf_ok(key: bytes, user: str, token: str, now: float | None = None) -> bool:
    issued, _, mac = (token or "").partition(".")
    if not issued.isdigit():
        return False
    age = (time.time() if now is None else now) - int(issued)
    good = hmac.new(key, f"{user}\n{issued}".encode(), hashlib.sha256).hexdigest()
    return 0 <= age <= CSRF_MAX_AGE and hmac.compare_digest(good, mac)


# --------------------------------------------------------------------------- pages

STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}.msg{background:#e7f5e7;padding:.5em}"
    ".err{background:#fbe4e4;padding:.5em}form.inline{display:inline}textarea{width:30em;height:3em}"
)


def _doc(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def render_list(
    user: Reviewer,
    *,
    feed: str | None = None,
    reason: str | None = None,
    page: int = 1,
    done: str | None = None,
    db_url: str | None = None,
) -> str:
    """The open items, one page, filtered by feed and reason code; no names. Audited (P4)."""
    feeds = queue.review_feeds()
    feed = feed if feed in feeds else None
    with db.transaction(db_url) as conn:
        reasons = queue.reason_codes(conn)
        reason = reason if reason in reasons else None
        page = max(page, 1)
        items, total = queue.list_page(
            conn, feed=feed, reason=reason, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        detail = {"rows": len(items), "by": user.name, "feed": feed, "reason": reason, "page": page}
        ledger.audit_event(conn, actor("review list"), "export", "review_items", detail)
    pages = max(math.ceil(total / PAGE_SIZE), 1)

    def option(value: str, chosen: str | None) -> str:
        sel = " selected" if value == chosen else ""
        return f"<option value='{_e(value)}'{sel}>{_e(value)}</option>"

    filters = (
        "<form method='get' action='review' id='filters'>"
        "<label>feed <select name='feed'><option value=''>all</option>"
        + "".join(option(f, feed) for f in feeds)
        + "</select></label> <label>reason <select name='reason'><option value=''>all</option>"
        + "".join(option(r, reason) for r in reasons)
        + "</select></label> <button type='submit'>Filter</button></form>"
    )
    heads = ["item", "feed", "file", "row", "reasons", "candidates (atena_no)", "recorded"]
    heads += ["resolve"] if user.may_resolve else []
    rows = []
    for r in items.itertuples():
        item_id = int(str(r.id))
        cells = [item_id, r.feed, r.file_name, r.row_no, str(r.reasons).replace(";", " ")]
        cells += [str(r.candidates or "").replace(";", " "), str(r.recorded_at)[:19]]
        tds = "".join(f"<td>{_e(v)}</td>" for v in cells)
        if user.may_resolve:
            tds += f"<td><a class='resolve' href='review/{item_id}'>resolve…</a></td>"
        rows.append(f"<tr data-item='{item_id}'>{tds}</tr>")

    def link(p: int, text: str) -> str:
        query = {k: v for k, v in (("feed", feed), ("reason", reason)) if v} | {"page": p}
        return f"<a href='review?{_e(urlencode(query))}'>{text}</a>"

    nav = (link(page - 1, "← previous") + " " if page > 1 else "") + f"page {page} of {pages}"
    nav += " " + link(page + 1, "next →") if page < pages else ""
    who = f"Signed in as <b>{_e(user.name)}</b>. " + (
        "You may resolve items."
        if user.may_resolve
        else "You can view the queue; resolving needs one of the roles: "
        + _e(", ".join(sorted(resolver_roles())))
        + "."
    )
    msg = f"<p class='msg' id='done'>{_e(done)}</p>" if done else ""
    body = (
        f"<h1>Review queue: {total} open item(s)</h1><p>{who}</p>{msg}{filters}"
        f"<p class='nav'>{nav}</p><table><thead><tr>{''.join(f'<th>{h}</th>' for h in heads)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<p>Accepted items are applied on the feed's next run. In a shell: "
        "<code>vaxreg review accept|reject</code>.</p>"
    )
    return _doc("vaxreg review queue", body)


def render_item(
    user: Reviewer, item_id: int, key: bytes, *, error: str | None = None, db_url: str | None = None
) -> str:
    """One item for a resolver: received row, candidates and the accept/reject forms. Audited."""
    if not user.may_resolve:
        raise Refused("resolving review items needs one of the roles " + ", ".join(sorted(resolver_roles())))
    with db.transaction(db_url) as conn:
        item = queue.show_audited(conn, item_id, by=user.name, actor=actor("review show"))
    token = _e(csrf_token(key, user.name))
    received = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in item["received"].items())
    cand_rows = []
    for i, c in enumerate(item["candidates"]):
        radio = (
            f"<input type='radio' name='atena_no' value='{_e(c['atena_no'])}' form='accept'"
            f" id='c{i}'{' checked' if i == 0 else ''}>"
        )
        cells = [c["name_kana"], c["birth_date"], c["sex"], c["status"], c["address"], c["weight"]]
        score = json.dumps(c["score"], ensure_ascii=False) if c["score"] else ""
        cand_rows.append(
            f"<tr><td>{radio}<label for='c{i}'>{_e(c['atena_no'])}</label></td>"
            + "".join(f"<td>{_e(v)}</td>" for v in cells)
            + f"<td><small>{_e(score)}</small></td></tr>"
        )
    state = f"status <b>{_e(item['status'])}</b>, reasons {_e(str(item['reasons']).replace(';', ' '))}"
    if item["status"] == "open":
        forms = (
            f"<form method='post' action='{item_id}/resolve' id='accept'>"
            f"<input type='hidden' name='csrf' value='{token}'><input type='hidden' name='decision' "
            "value='accept'><p><label>or another atena_no <input name='atena_no_other' "
            "pattern='[0-9]{10}' size='12'></label></p><p><label>note <textarea name='note'>"
            "</textarea></label></p><button type='submit'>Accept: the record is this person's</button></form>"
            f"<form method='post' action='{item_id}/resolve' id='reject'>"
            f"<input type='hidden' name='csrf' value='{token}'><input type='hidden' name='decision' "
            "value='reject'><p><label>note (required) <textarea name='note' required></textarea></label>"
            "</p><button type='submit'>Reject: the record is no one's here</button></form>"
        )
    else:
        forms = f"<p>Resolved by {_e(item['resolved_by'])} at {_e(str(item['resolved_at'])[:19])}.</p>"
    err = f"<p class='err' id='error'>{_e(error)}</p>" if error else ""
    body = (
        f"<p><a href='../review'>← review queue</a></p><h1>Review item {item_id}</h1>"
        f"<p>feed {_e(item['feed'])}, file {_e(item['file_name'])}, row {_e(item['row_no'])}; {state}</p>"
        f"{err}<h2>Received</h2><table>{received}</table><h2>Candidates</h2>"
        "<table><thead><tr><th>atena_no</th><th>name (kana)</th><th>birth</th><th>sex</th><th>status</th>"
        f"<th>address</th><th>weight</th><th>score</th></tr></thead><tbody>{''.join(cand_rows)}</tbody>"
        f"</table>{forms}"
    )
    return _doc(f"vaxreg review item {item_id}", body)


def resolve(
    user: Reviewer, item_id: int, form: dict[str, str], key: bytes, *, db_url: str | None = None
) -> str:
    """Accept or reject ``item_id`` from the page's form; the one-line outcome. Raises
    :class:`Refused` (no role, bad CSRF token) or :class:`queue.ReviewError` (nothing changed)."""
    if not user.may_resolve:
        raise Refused("resolving review items needs one of the roles " + ", ".join(sorted(resolver_roles())))
    if not csrf_ok(key, user.name, form.get("csrf", "")):
        raise Refused("the form has expired or did not come from this page: reload it and try again")
    decision = form.get("decision")
    note = (form.get("note") or "").strip() or None
    with db.transaction(db_url) as conn:
        if decision == "accept":
            atena = (form.get("atena_no_other") or "").strip() or form.get("atena_no") or ""
            queue.accept(conn, item_id, atena, by=user.name, note=note, actor=actor("review accept"))
        elif decision == "reject":
            if note is None:
                raise queue.ReviewError("a rejection needs a note (why the record is no one's here)")
            queue.reject(conn, item_id, by=user.name, note=note, actor=actor("review reject"))
        else:
            raise queue.ReviewError("decision must be accept or reject")
        feed = queue.show_item(conn, item_id)["feed"]
    if decision == "accept":
        return f"Review item {item_id} accepted by {user.name}; applied on the next run of {feed}."
    return f"Review item {item_id} rejected by {user.name}."
