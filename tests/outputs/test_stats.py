"""The prefecture statistics (outputs.md §4): figures against a generated municipality whose
expected counts the test computes itself (helpers.municipality), published exactly once, a
re-issue as a new file, the GX suite refusing bad figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from vaxreg.outputs import stats
from vaxreg.registry import db, ledger
from vaxreg.rules.table import default_rules
from vaxreg.transport import open_source

from helpers import municipality as town

DAY = dt.date(2026, 4, 10)  # FY2025 has ended


def _actor() -> ledger.Actor:
    return ledger.Actor(dag_id="test", run_id="test-stats", task_id="publish", purpose=stats.PURPOSE)


def _read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_fiscal_year_ended() -> None:
    assert stats.fiscal_year_ended(dt.date(2026, 4, 1)) == 2025
    assert stats.fiscal_year_ended(dt.date(2026, 3, 31)) == 2024
    assert stats.fiscal_year_ended(dt.date(2026, 12, 31)) == 2025


def test_figures_match_the_independent_count(db_url: str, root: Path) -> None:
    persons, doses = town.generate()
    town.seed(db_url, persons, doses)
    want = town.expected(persons, doses)
    # The generator gives what the test means to check: moved-out-after-dose, dose-before-residence.
    before = [d for d in doses if d.off is None and town.FY_START <= d.date <= town.FY_END]
    by_id = {p.atena_no: p for p in persons}
    assert any(not by_id[d.atena_no].resident_on(d.date) for d in before)
    assert any(
        by_id[d.atena_no].versions[-1][0] == "moved_out" and by_id[d.atena_no].resident_on(d.date)
        for d in before
    )

    with open_source(f"file://{root}") as src:
        names = stats.publish(src, _actor(), DAY, db_url=db_url)
    assert names == ["STATS_2025.csv", "STATS_2025.html"]
    got = _read(root / "inbox" / "stats" / "STATS_2025.csv")
    assert list(got[0]) == list(stats.COLUMNS)
    rows = {(r["vaccine_code"], r["phase"], int(r["dose_no"])): r for r in got}
    # every routine vaccine in force in FY2025 has its rows; nothing but counts
    routine = {k for k, v in default_rules().vaccines.items() if v["class"] in ("A", "B")}
    assert {k[0] for k in rows} >= routine
    for key, w in want.items():
        r = rows[key]
        assert int(r["doses_routine"]) == w["doses_routine"], key
        assert int(r["doses_off_schedule"]) == w["doses_off_schedule"], key
        if "target_persons" in w:
            assert int(r["target_persons"]) == w["target_persons"], key
            cov = f"{w['covered'] / w['target_persons']:.4f}" if w["target_persons"] else ""
            assert r["coverage"] == cov, key
    for key in set(rows) - set(want):  # rows nobody was given: no doses
        assert rows[key]["doses_routine"] == rows[key]["doses_off_schedule"] == "0"
    assert sum(w["target_persons"] or 0 for w in want.values() if "target_persons" in w) > 50
    assert all(r["fiscal_year"] == "2025" for r in got)

    # exactly once: the same year again writes nothing; a re-issue is a new file with its reason
    with open_source(f"file://{root}") as src:
        assert stats.publish(src, _actor(), DAY + dt.timedelta(days=3), db_url=db_url) == []
        again = stats.publish(src, _actor(), DAY, db_url=db_url, reissue_reason="late clinic file")
    assert again == ["STATS_2025_v2.csv", "STATS_2025_v2.html"]
    assert _read(root / "inbox" / "stats" / "STATS_2025_v2.csv") == got
    html = (root / "inbox" / "stats" / "STATS_2025_v2.html").read_text(encoding="utf-8")
    assert "late clinic file" in html and html.count("<svg") >= 6
    with db.transaction(db_url) as conn:
        audited = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM audit_log WHERE table_name = 'stats'"
        ).scalar_one()
    assert audited == 2
    assert stats._next_version(2025, db_url) == 3  # the next re-issue


def test_reissue_of_a_year_never_published_is_refused(db_url: str, root: Path) -> None:
    with open_source(f"file://{root}") as src, pytest.raises(stats.StatsError, match="never published"):
        stats.publish(src, _actor(), DAY, db_url=db_url, reissue_reason="why")
    with open_source(f"file://{root}") as src, pytest.raises(stats.StatsError, match="has not ended"):
        stats.publish(src, _actor(), DAY, db_url=db_url, fiscal_year=2026)


def test_the_suite_refuses_bad_figures() -> None:
    good = pd.DataFrame(
        {
            "fiscal_year": 2025,
            "vaccine_code": sorted(set(default_rules().rules["vaccine"]) - {"31"}),
            "phase": "00",
            "dose_no": 1,
            "doses_routine": 1,
            "doses_off_schedule": 0,
            "target_persons": pd.array([4] * 18, dtype="Int64"),
            "coverage": 0.25,
        }
    )
    stats.check(good, 2025)
    for col, value, reason in (
        ("doses_routine", -1, "negative_count"),
        ("coverage", 1.5, "coverage_out_of_range"),
    ):
        bad = good.copy()
        bad.loc[3, col] = value
        with pytest.raises(stats.StatsError, match=reason):
            stats.check(bad, 2025)
    with pytest.raises(stats.StatsError, match="routine_vaccine_missing"):
        stats.check(good[good["vaccine_code"] != "24"], 2025)


def test_a_crash_between_the_csv_and_the_page_is_finished_by_the_next_run(
    db_url: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaxreg.outputs import outbound

    town.seed(db_url, *town.generate(seed=4, n=30))

    def crash(step: str) -> None:
        if step == "marker_renamed":  # the CSV and its marker are in place, the ledger not yet
            raise RuntimeError("killed")

    monkeypatch.setattr(outbound, "step_hook", crash)
    with open_source(root.as_uri()) as src, pytest.raises(RuntimeError):
        stats.publish(src, _actor(), DAY, db_url=db_url)
    monkeypatch.setattr(outbound, "step_hook", lambda step: None)
    with open_source(root.as_uri()) as src:
        assert stats.publish(src, _actor(), DAY, db_url=db_url) == ["STATS_2025.csv", "STATS_2025.html"]
        assert stats.publish(src, _actor(), DAY, db_url=db_url) == []
    with db.transaction(db_url) as conn:
        states = stats.published(conn)
    assert [(s["file"], s["state"]) for s in states] == [
        ("STATS_2025.csv", "published"),
        ("STATS_2025.html", "published"),
    ]
    assert sorted(p.name for p in (root / "inbox" / "stats").iterdir()) == [
        "STATS_2025.csv",
        "STATS_2025.csv.done",
        "STATS_2025.html",
        "STATS_2025.html.done",
    ]
