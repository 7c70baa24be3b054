"""Two runs of a feed started together with the same staging folder (issue 15, defect 9): both
fetch every file whole; neither fails on the other's temporary files."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from vaxreg import pipeline

from helpers.resident import deliver

MB = 1024 * 1024


def test_two_fetches_started_together(feed_root: Path, db_url: str) -> None:
    files = {f"JUKI_DIFF_202604{d:02d}.csv": bytes([d]) * (4 * MB + d) for d in range(1, 7)}
    for name, data in files.items():
        deliver(feed_root, name, data)
    start = threading.Barrier(2)
    results: list[object] = [None, None]

    def fetch(i: int) -> None:
        actor = pipeline.make_actor("resident", run_id=f"race-{i}", task_id="fetch")
        start.wait()
        try:
            results[i] = pipeline.fetch("resident", actor, source_url=f"file://{feed_root}", db_url=db_url)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not [r for r in results if isinstance(r, Exception)], results
    for works in results:
        assert isinstance(works, list)
        got = {w["name"]: (w["status"], w["sha256"], Path(w["landing"]).read_bytes()) for w in works}
        assert got == {n: ("fetched", hashlib.sha256(d).hexdigest(), d) for n, d in files.items()}
