"""The registry overview's figures (vaxreg.outputs.overview) against the generated municipality,
counted here independently, and the small-cell rule on the rendered page."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pyarrow as pa

from vaxreg.outputs import overview, overview_page
from vaxreg.registry import db

from helpers import municipality as town

AS_OF = dt.date(2026, 3, 15)  # FY2025; the 12 months from 2025-04


def seed_operations(db_url: str) -> None:
    """Applied files of two feeds (one going bad) and open review items of several ages."""
    files = [
        ("clinic", f"ISHIKAI_2025{m:02d}.csv", 100, q, f"2025-{m:02d}-05 03:00:00+00:00")
        for m, q in ((5, 0), (6, 1), (7, 2), (8, 30))
    ]
    files.append(("otherward", "TAKU_202506.csv", 50, 0, "2025-06-10 03:00:00+00:00"))
    files.append(("clinic", "ISHIKAI_202401.csv", 100, 50, "2024-01-05 03:00:00+00:00"))  # too old
    manifest = pa.Table.from_pylist(
        [
            {
                "feed": f,
                "file_name": n,
                "sha256": f"{i:064d}",
                "size_bytes": 1,
                "status": "applied",
                "rows_read": r,
                "accepted": r - q,
                "quarantined": q,
                "run_id": "t",
                "recorded_at": at,
            }
            for i, (f, n, r, q, at) in enumerate(files)
        ]
    )
    ages = [3, 3, 10, 100]
    review = pa.Table.from_pylist(
        [
            {
                "feed": "clinic",
                "file_name": "ISHIKAI_202508.csv",
                "manifest_id": 1,
                "row_no": i + 1,
                "reasons": "below_threshold",
                "candidates": "",
                "raw_row": "{}",
                "status": "open",
                "recorded_at": f"{AS_OF - dt.timedelta(days=a)} 01:00:00+00:00",
            }
            for i, a in enumerate(ages)
        ]
    )
    with db.transaction(db_url) as conn:
        db.bulk_insert(conn, "ingest_manifest", manifest)
        db.bulk_insert(conn, "review_items", review)


def test_overview_figures(db_url: str) -> None:
    persons, doses = town.generate(seed=5, n=200)
    town.seed(db_url, persons, doses)
    seed_operations(db_url)
    with db.transaction(db_url) as conn:
        o = overview.overview(conn, as_of=AS_OF)
    assert o.fiscal_year == 2025
    assert o.persons_by_status == dict(Counter(p.versions[-1][0] for p in persons))
    want = Counter(
        ("clinic", d.date.isoformat()[:7]) for d in doses if dt.date(2025, 4, 1) <= d.date <= AS_OF
    )
    assert {(r["source"], r["month"]): r["doses"] for r in o.doses_by_source_month} == dict(want)
    assert {(r["feed"], r["age"]): r["items"] for r in o.review_by_age} == {
        ("clinic", "< 7 days"): 2,
        ("clinic", "7–29 days"): 1,
        ("clinic", "≥ 90 days"): 1,
    }
    clinic = o.quarantine_rates["clinic"]
    assert [f["file"] for f in clinic] == [f"ISHIKAI_2025{m:02d}.csv" for m in (5, 6, 7, 8)]
    assert [round(f["rate"], 2) for f in clinic] == [0.0, 0.01, 0.02, 0.3]
    assert set(o.quarantine_rates) == {"clinic", "otherward"}
    bcg = [c for c in o.coverage if (c["vaccine_code"], c["phase"]) == ("09", "00")]
    assert len(bcg) == 1 and bcg[0]["target"] > 0

    page = overview_page.render(o)
    assert page.count("class='rate-chart'") == 2 and page.count("<rect class='bar'") == 5
    # small cells: no population count from 1 to 9 on the page
    for table_id in ("persons-by-status", "doses-by-source-month", "coverage"):
        section = page.split(f"id='{table_id}'")[1].split("</table>")[0]
        numbers = [int(n) for n in re.findall(r"<td class='n'>(\d+)</td>", section)]
        assert not [n for n in numbers if 0 < n < 10 and table_id != "coverage"], table_id
    small = [s for s, n in o.persons_by_status.items() if 0 < n < 10]
    for s in small:
        assert f"<td>{s}</td><td class='n'>&lt;10</td>" in page


def test_suppression_rules() -> None:
    assert [overview.suppress(n) for n in (0, 1, 9, 10, 250)] == ["0", "<10", "<10", "10", "250"]
    assert overview.coverage_shown(5, 100) == "—"  # 5 covered persons would show through
    assert overview.coverage_shown(95, 100) == "—"  # so would 5 uncovered
    assert overview.coverage_shown(50, 9) == "—"
    assert overview.coverage_shown(50, 100) == "50.0%"
    assert overview.coverage_shown(0, 100) == "0.0%"
