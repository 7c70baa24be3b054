"""A generated municipality with dirt, run through the pipeline, judged against the
generator's truth row by row, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from vaxreg_devtools.synth import synthesize

from vaxreg import pipeline
from vaxreg.feeds import resident
from vaxreg.registry import db


@pytest.fixture(scope="module")
def municipality(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("municipality")
    synthesize(out, persons=3_000, seed=11, nights=5, events_per_night=60)
    return out


@pytest.mark.parametrize("chunk_rows", [resident.CHUNK_ROWS, 700], ids=["one-slice", "many-slices"])
def test_registry_matches_truth(
    municipality: Path, feed_root: Path, db_url: str, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resident, "CHUNK_ROWS", chunk_rows)  # slicing by person must not change anything
    actor = pipeline.make_actor("resident", run_id="truth", task_id="test")
    works = pipeline.run_feed("resident", actor, source_url=f"file://{municipality}", db_url=db_url)
    summaries = {s["file"]: s for s in pipeline.report(works)}

    truth = json.loads((municipality / "truth" / "summary.json").read_text())
    for f in truth["files"]:
        s = summaries[f["file"]]
        assert (s["rows"], s["accepted"], s["quarantined"], s["duplicates"]) == (
            f["rows"],
            f["accepted"],
            f["quarantined"],
            f["duplicates"],
        ), f["file"]
        assert s["rows"] == s["accepted"] + s["quarantined"] + s["review"] + s["duplicates"]

    with db.transaction(db_url) as conn:
        got_q = {
            (f, int(r)): reasons.split(";")
            for f, r, reasons in conn.exec_driver_sql("SELECT file_name, row_no, reasons FROM quarantine")
        }
        persons = [
            tuple("" if v is None else str(v) for v in row)
            for row in conn.exec_driver_sql(
                "SELECT atena_no, status, name_kana, CAST(birth_date AS TEXT), sex, "
                "CAST(removed_date AS TEXT) FROM persons ORDER BY atena_no"
            )
        ]

    with (municipality / "truth" / "resident_rows.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    expected_q = {(r["file"], int(r["seq"])): r["reason"] for r in rows if r["outcome"] == "quarantined"}
    assert set(got_q) == set(expected_q)
    for key, reason in expected_q.items():
        assert reason in got_q[key], (key, reason, got_q[key])

    with (municipality / "truth" / "persons.csv").open(encoding="utf-8") as f:
        expected = [tuple(r) for r in list(csv.reader(f))[1:]]
    assert persons == expected
