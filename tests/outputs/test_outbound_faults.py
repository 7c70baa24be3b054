"""Outbound files exactly once under faults (issue 15, defect 6), on SQLite and PostgreSQL.

* A failure at the moment an output records what it sent (a trigger refuses the insert): under
  the old code the file stayed without its record, the re-run of the date refused to overwrite
  and the next day's file sent the same flags again; a fee month was never recorded and every
  later run failed.
* Two publishers at the same time, of the same day and of two days.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vaxreg.outputs import outbound

from helpers.db import rows
from helpers.outbound import (
    DAY,
    NEXT,
    P,
    assert_published_once,
    failing_inserts,
    flags_text,
    listing,
    publish,
    seed_fee_details,
    seed_flag_holders,
)

# --- defect 6: the file without its record ------------------------------------------------------------


def test_vrs_flags_failure_when_recording_leaves_no_file_and_sends_flags_once(
    root: Path, db_url: str
) -> None:
    source = f"file://{root}"
    seed_flag_holders(db_url, P[:3])
    with failing_inserts(db_url, "vrs_flag_files"), pytest.raises(Exception, match="injected failure"):
        publish("vrs", db_url, source, DAY)
    left = listing(root / "inbox" / "vrs")

    assert publish("vrs", db_url, source, DAY) == ["VRS_FLAGS_20260414.csv"]  # the re-run of that date
    assert publish("vrs", db_url, source, NEXT) == []  # the next day repeats nothing
    assert left == []  # nothing had left the registry unrecorded
    assert_published_once(root, db_url, "VRS_FLAGS_20260414.csv", flags_text(P[:3]), P[:3])


def test_fee_statement_failure_when_recording_does_not_block_later_runs(root: Path, db_url: str) -> None:
    source = f"file://{root}"
    seed_fee_details(db_url, "202604", [5000, 0, 7000])
    with failing_inserts(db_url, "fee_statements"), pytest.raises(Exception, match="injected failure"):
        publish("clinic", db_url, source, DAY)
    left = listing(root / "inbox" / "fees")

    assert publish("clinic", db_url, source, DAY) == ["FEES_202604.csv", "FEES_202604_DETAIL.csv"]
    assert left == []
    seed_fee_details(db_url, "202605", [6000])  # the next month's file
    assert publish("clinic", db_url, source, NEXT) == ["FEES_202605.csv", "FEES_202605_DETAIL.csv"]
    inbox = root / "inbox" / "fees"
    assert (inbox / "FEES_202604.csv").read_text().splitlines() == [
        "institution_code,count,amount",
        "1310300011,2,12000",
    ]
    assert len((inbox / "FEES_202604_DETAIL.csv").read_text().splitlines()) == 4
    assert rows(db_url, "SELECT payment_month, institutions, records, amount FROM fee_statements") == [
        ("202604", 1, 2, 12000),
        ("202605", 1, 1, 6000),
    ]
    assert len(listing(inbox)) == 8


# --- concurrent publishers ------------------------------------------------------------------------------


def _race(
    monkeypatch: pytest.MonkeyPatch, hold_at: str, runs: list[tuple[str, str, str, str]]
) -> list[object]:
    """Start ``runs`` (feed, db_url, source, day) together; the first holds at ``hold_at`` for a moment
    so that the second arrives while it is there. Returns each run's result or exception."""
    first_held = threading.Event()
    release = threading.Event()

    def hook(step: str) -> None:
        if step == hold_at and threading.current_thread().name == "run-0" and not first_held.is_set():
            first_held.set()
            release.wait(2.0)  # the other run is blocked (or racing) meanwhile

    monkeypatch.setattr(outbound, "step_hook", hook)
    results: list[object] = [None] * len(runs)

    def go(i: int, feed: str, db_url: str, source: str, day: str) -> None:
        try:
            results[i] = publish(feed, db_url, source, day)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=go, name=f"run-{i}", args=(i, *run)) for i, run in enumerate(runs)]
    threads[0].start()
    assert first_held.wait(60)
    for t in threads[1:]:
        t.start()
    for t in threads[1:]:
        t.join(0.5)
    release.set()
    for t in threads:
        t.join(120)
    return results


def names(results: list[object]) -> list[str]:
    """The file names all runs returned, after checking that none failed."""
    assert not [r for r in results if isinstance(r, Exception)], results
    return [n for r in results if isinstance(r, list) for n in r]


@pytest.mark.parametrize("hold_at", ["prepare_recorded", "data_renamed"])
def test_two_publishers_of_the_same_day(
    hold_at: str, root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"file://{root}"
    seed_flag_holders(db_url, P[:3])
    results = _race(monkeypatch, hold_at, [("vrs", db_url, source, DAY), ("vrs", db_url, source, DAY)])
    assert names(results) == ["VRS_FLAGS_20260414.csv"]
    assert_published_once(root, db_url, "VRS_FLAGS_20260414.csv", flags_text(P[:3]), P[:3])


def test_two_publishers_of_two_days_send_each_flag_once(
    root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"file://{root}"
    seed_flag_holders(db_url, P[:3])
    results = _race(
        monkeypatch, "prepare_recorded", [("vrs", db_url, source, DAY), ("vrs", db_url, source, NEXT)]
    )
    assert names(results) == ["VRS_FLAGS_20260414.csv"]  # either run may be the one that writes it
    assert listing(root / "inbox" / "vrs") == ["VRS_FLAGS_20260414.csv", "VRS_FLAGS_20260414.csv.done"]
    assert_published_once(root, db_url, "VRS_FLAGS_20260414.csv", flags_text(P[:3]), P[:3])
