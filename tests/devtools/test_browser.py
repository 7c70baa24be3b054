"""The browser the page tests use: it renders a local page and catches a request leaving the machine."""

from __future__ import annotations

from pathlib import Path

from helpers.browser import browser


def test_a_local_page_renders_and_an_external_request_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    html = '<!doctype html><meta charset="utf-8"><h1>接種率</h1><img src="http://192.0.2.1/x.png">'
    page.write_text(html, encoding="utf-8")
    with browser() as b:
        b.page.goto(page.as_uri())
        assert b.page.inner_text("h1") == "接種率"
    assert b.external == ["http://192.0.2.1/x.png"]
