"""A generated municipality with clinic and other-ward dirt, run through the pipeline and judged
against the generator's truth per file: rows read = accepted + quarantined + review + duplicates,
the off-schedule count, and re-ingest adds nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from vaxreg_devtools.synth import synthesize

from vaxreg import pipeline

from helpers.clinic import registry


@pytest.fixture(scope="module")
def municipality(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("municipality")
    synthesize(out, persons=4_000, seed=23, nights=2, events_per_night=30, vaccinations=True)
    return out


def test_counts_match_truth_and_reingest_adds_nothing(
    municipality: Path, feed_root: Path, db_url: str
) -> None:
    shutil.rmtree(feed_root)
    shutil.copytree(municipality, feed_root)  # the fee statements are written under inbox/
    source = f"file://{feed_root}"
    for feed in ("resident", "clinic", "otherward"):
        pipeline.report(pipeline.run_feed(feed, pipeline.make_actor(feed), source_url=source, db_url=db_url))
    truth = json.loads((feed_root / "truth" / "vaccinations.json").read_text())["files"]
    reg = registry(db_url)
    got = {m[1]: m[2:] for m in reg["manifest"]}
    for f in truth:
        status, rows, accepted, quarantined, review, duplicates = got[f["file"]]
        assert status == "applied"
        assert rows == accepted + quarantined + review + duplicates
        assert (rows, accepted, quarantined, review, duplicates) == (
            f["rows"],
            f["accepted"],
            f["quarantined"],
            f["review"],
            f["duplicates"],
        ), f["file"]
    assert sum(d[6] is not None for d in reg["doses"]) == sum(f["off_schedule"] for f in truth)
    reasons = {r[2] for r in reg["quarantine"]}
    assert {"encoding", "dose_date_invalid", "birth_date_invalid", "place_code_not_file_ward"} <= reasons

    for feed in ("clinic", "otherward"):
        assert pipeline.run_feed(feed, pipeline.make_actor(feed), source_url=source, db_url=db_url) == []
    assert registry(db_url) == reg
