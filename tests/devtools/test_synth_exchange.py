"""The generated exchange files (vaxreg_devtools.synth_exchange): the resident files keep their
truth with the extra column, move-ins name valid previous municipalities, the TOGO file applies
with exactly its planted faults, and the replies answer the inquiries asked."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from pathlib import Path

from vaxreg_devtools.synth import synthesize
from vaxreg_devtools.synth_exchange import write_replies

from vaxreg.identity.validators import is_valid_municipality_code
from vaxreg.registry import db

from helpers.db import rows, run
from helpers.exchange import publish


def test_generated_exchange_files(feed_root: Path, tmp_path: Path) -> None:
    summary = synthesize(feed_root, persons=400, seed=5, nights=3, events_per_night=40, exchange=True)
    ex = summary["exchange"]
    assert ex["move_ins_with_previous_municipality"] > 0
    initial, *nightly = sorted((feed_root / "outbox" / "resident").glob("*.csv"))
    assert (
        "prev_municipality_code" not in initial.read_text(encoding="utf-8-sig").splitlines()[0]
    )  # valid too
    for f in nightly:
        marker = (f.parent / (f.name + ".done")).read_text().strip()
        assert marker == hashlib.sha256(f.read_bytes()).hexdigest()
        text = f.read_bytes().decode("utf-8-sig")
        header, *body = list(csv.reader(io.StringIO(text)))
        assert header[-1] == "prev_municipality_code"
        assert all(is_valid_municipality_code(r[-1]) for r in body if len(r) == 21 and r[-1])
    url = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    db.upgrade(url)
    got = run("resident", f"file://{feed_root}", url)
    want = {f["file"]: (f["accepted"], f["quarantined"], f["duplicates"]) for f in summary["per_file"]}
    assert {s["file"]: (s["accepted"], s["quarantined"], s["duplicates"]) for s in got} == want
    assert rows(url, "SELECT COUNT(*) FROM move_ins") == [(ex["move_ins_with_previous_municipality"],)]
    [togo] = run("atena", f"file://{feed_root}", url)
    assert (togo["rows"], togo["accepted"], togo["quarantined"]) == (ex["togo_rows"], ex["togo_rows"] - 2, 2)
    day = dt.date(2026, 4, 8)
    asked = publish("shokai", feed_root, url, day)
    replies = write_replies(feed_root, day)
    if asked:
        [kaito] = run("prior", f"file://{feed_root}", url)
        assert (kaito["rows"], kaito["quarantined"]) == (replies["kaito_rows"], 1)  # the unasked inquiry
        assert rows(url, "SELECT COUNT(*) FROM history_inquiries WHERE answered_at IS NULL") == [(0,)]
    db.engine(url).dispose()
