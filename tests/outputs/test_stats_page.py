"""STATS_FY.html opened in a real headless browser: it renders the table and a chart per vaccine,
with Japanese labels drawn as paths, and nothing leaves the machine. The screenshot is kept at
``var/screenshots/STATS_2025.png``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vaxreg.outputs import stats
from vaxreg.registry import db, ledger
from vaxreg.transport import open_source

from helpers import municipality as town
from helpers.browser import browser
from helpers.paths import REPO

SHOT = REPO / "var" / "screenshots" / "STATS_2025.png"


def test_stats_page_renders_offline(tmp_path: Path, root: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    db.upgrade(url)
    persons, doses = town.generate(seed=11, n=120)
    town.seed(url, persons, doses)
    actor = ledger.Actor(dag_id="test", run_id="page", task_id="publish", purpose=stats.PURPOSE)
    with open_source(root.as_uri()) as src:
        stats.publish(src, actor, dt.date(2026, 4, 10), db_url=url)
    page = root / "inbox" / "stats" / "STATS_2025.html"
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "@font-face" not in text and "<text" not in text  # glyphs are paths
    lines = (root / "inbox" / "stats" / "STATS_2025.csv").read_text(encoding="utf-8").splitlines()[1:]
    csv_rows = len(lines)
    vaccines = {r.split(",")[1] for r in lines if r.split(",")[6] != ""}  # those with a target
    with browser(viewport=(1280, 1000)) as b:
        b.page.goto(page.as_uri())
        assert b.page.inner_text("h1").startswith("予防接種統計 2025年度")
        assert b.page.locator("#figures tbody tr").count() == csv_rows
        charts = b.page.locator("figure.chart svg")
        assert charts.count() == len(vaccines) == 18  # FY2025: 13 A-class and 5 B-class vaccines
        box = charts.first.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        b.page.screenshot(path=str(SHOT), full_page=True)
    assert b.external == []
    assert all(r.startswith("file://") for r in b.requests)
    print(f"screenshot: {SHOT}")
    db.engine(url).dispose()
