"""A real headless browser for page tests: Debian's chromium driven by Playwright.

Every request the page makes is recorded; anything not addressed to the loopback interface is
aborted and listed in :attr:`Browser.external`, so a test can assert that nothing leaves the machine
(municipal networks are closed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CHROMIUM = os.environ.get("VAXREG_CHROMIUM", "/usr/bin/chromium")
# Chromium's own background traffic is refused by a closed network: switch it off (see env notes).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class Browser:
    page: Any
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "file"):
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


@contextmanager
def browser(viewport: tuple[int, int] = (1280, 900)) -> Iterator[Browser]:
    """One page of a fresh headless chromium; external requests are aborted and recorded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            context = chrome.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            page = context.new_page()
            seen = Browser(page=page)

            def route(r: Any) -> None:
                url = r.request.url
                seen.requests.append(url)
                if _is_local(url):
                    r.continue_()
                else:
                    seen.external.append(url)
                    r.abort()

            page.route("**/*", route)
            yield seen
        finally:
            chrome.close()
