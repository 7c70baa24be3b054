"""The review page's logic (vaxreg.review.page) on SQLite and PostgreSQL: paging and filters,
resolving through the same functions as the CLI with the signed-in user as resolver, audited; the
role and the CSRF token are enforced by the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaxreg.review import page
from vaxreg.review import queue as review

from helpers.db import rows
from helpers.review import P1, P2, seed_review

ALICE = page.Reviewer("alice", frozenset({"admin"}))
BOB = page.Reviewer("bob", frozenset({"viewer"}))
KEY = b"k" * 32


def test_list_pages_filters_and_refuses_without_role_or_token(
    feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed_review(feed_root, db_url)
    assert len(ids) == 3
    from vaxreg.registry import db

    with db.transaction(db_url) as conn:
        reasons = review.reason_codes(conn)
        assert reasons and all(";" not in r for r in reasons)
        items, total = review.list_page(conn, offset=1, limit=1)
        assert (total, list(items["id"])) == (3, [ids[2]])
        some = reasons[0]
        with_reason, n = review.list_page(conn, reason=some)
        assert n == len(with_reason) >= 1 and all(some in r.split(";") for r in with_reason["reasons"])
        assert review.list_page(conn, reason="no_such_reason")[1] == 0
        assert review.list_page(conn, feed="vrs")[1] == 0

    monkeypatch.setattr(page, "PAGE_SIZE", 2)
    first = page.render_list(ALICE, db_url=db_url)
    assert "3 open item(s)" in first and "page 1 of 2" in first and "next →" in first
    assert first.count("class='resolve'") == 2
    second = page.render_list(ALICE, page=2, db_url=db_url)
    assert f"data-item='{ids[3]}'" in second and f"data-item='{ids[1]}'" not in second
    viewer = page.render_list(BOB, db_url=db_url)
    assert "class='resolve'" not in viewer and "needs one of the roles: admin" in viewer
    assert "ﾔﾏﾀﾞ" not in first + second + viewer  # the list shows no names (P3)

    # Without the role, or without a valid token of the same user, nothing is resolved.
    good = {"decision": "accept", "atena_no": P2}
    with pytest.raises(page.Refused):
        page.resolve(BOB, ids[1], good | {"csrf": page.csrf_token(KEY, "bob")}, KEY, db_url=db_url)
    with pytest.raises(page.Refused):
        page.render_item(BOB, ids[1], KEY, db_url=db_url)
    for token in (
        "",
        page.csrf_token(KEY, "bob"),
        page.csrf_token(b"x" * 32, "alice"),
        page.csrf_token(KEY, "alice", now=1.0),
    ):  # missing, other user, other key, expired
        with pytest.raises(page.Refused):
            page.resolve(ALICE, ids[1], good | {"csrf": token}, KEY, db_url=db_url)
    assert rows(db_url, "SELECT count(*) FROM review_items WHERE status = 'open'") == [(3,)]


def test_resolve_accept_and_reject_audited_with_the_user(feed_root: Path, db_url: str) -> None:
    ids = seed_review(feed_root, db_url)
    shown = page.render_item(ALICE, ids[1], KEY, db_url=db_url)
    assert "ﾔﾏﾀﾞ" in shown and "name='csrf'" in shown  # a resolver sees the received row
    token = page.csrf_token(KEY, "alice")
    form = {"csrf": token, "decision": "accept", "atena_no": P2, "note": "本人確認済み"}
    assert "accepted by alice" in page.resolve(ALICE, ids[1], form, KEY, db_url=db_url)
    with pytest.raises(review.ReviewError, match="needs a note"):
        page.resolve(ALICE, ids[2], {"csrf": token, "decision": "reject"}, KEY, db_url=db_url)
    form = {"csrf": token, "decision": "reject", "note": "not ours", "atena_no": P1}
    page.resolve(ALICE, ids[2], form, KEY, db_url=db_url)
    got = rows(db_url, "SELECT id, status, resolved_by, resolved_atena_no FROM review_items ORDER BY id")
    assert got == [
        (ids[1], "accepted", "alice", P2),
        (ids[2], "rejected", "alice", None),
        (ids[3], "open", None, None),
    ]
    audit = rows(
        db_url,
        "SELECT dag_id, task_id, detail FROM audit_log WHERE table_name = 'review_items' "
        "AND action = 'update' ORDER BY id",
    )
    decisions = [(d, t, json.loads(x)["decision"], json.loads(x)["by"]) for d, t, x in audit]
    assert decisions == [
        ("ui", "review accept", "accepted", "alice"),
        ("ui", "review reject", "rejected", "alice"),
    ]
    with pytest.raises(review.ReviewError, match="not open"):
        page.resolve(ALICE, ids[1], {"csrf": token, "decision": "reject", "note": "x"}, KEY, db_url=db_url)


def test_user_roles_of_both_auth_managers() -> None:
    class Simple:
        role = "Admin"

    class Role:
        def __init__(self, name: str) -> None:
            self.name = name

    class Fab:
        def __init__(self) -> None:
            self.roles = [Role("Viewer"), Role("vaxreg_reviewer")]

    assert page.user_roles(Simple()) == {"admin"}
    assert page.user_roles(Fab()) == {"viewer", "vaxreg_reviewer"}
