"""Faults of the network outputs on both databases: a provision copy or an inquiry file killed
mid-publication, then re-run: one file, each change sent once, nothing repeated the next day."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxreg.registry import db, ledger

from helpers.db import rows
from helpers.exchange import (
    CRASHED,
    DAY1,
    DAY2,
    crash_publish,
    number,
    publish,
    read_out,
    seed_doses,
    seed_persons,
)

A, B = "7000000001", "7000000002"


def _numbers(db_url: str, people: tuple[str, ...]) -> None:
    with db.transaction(db_url) as conn:
        for p in people:
            conn.exec_driver_sql(
                "INSERT INTO integrated_numbers (atena_no, integrated_no, assigned_date, assigned_by, "
                f"recorded_at) VALUES ('{p}', '{number(p)}', '2026-05-01', 0, '{ledger.now_text()}')"
            )


@pytest.mark.parametrize("step", ["prepare_recorded", "marker_renamed"])
def test_provision_copy_crash_then_rerun(step: str, db_url: str, tmp_path: Path) -> None:
    seed_persons(db_url, {A: ("2025-01-15", "1"), B: ("2025-01-15", "2")})
    seed_doses(db_url, [(A, "01", "11", 1, "2025-03-20", None), (B, "01", "11", 1, "2025-03-20", None)])
    _numbers(db_url, (A, B))
    assert crash_publish(step, "fukuhon", db_url, tmp_path, DAY1) == CRASHED
    assert publish("fukuhon", tmp_path, db_url, DAY1) == ["FUKUHON_20260601.csv"]
    inbox = sorted(p.name for p in (tmp_path / "inbox" / "fukuhon").iterdir())
    assert inbox == ["FUKUHON_20260601.csv", "FUKUHON_20260601.csv.done"]
    assert len(read_out(tmp_path, "fukuhon", "FUKUHON_20260601.csv")) == 2
    assert rows(db_url, "SELECT op, COUNT(*) FROM provision_sent GROUP BY op") == [("A", 2)]
    assert publish("fukuhon", tmp_path, db_url, DAY2) == []  # nothing repeated


def test_inquiry_file_crash_then_rerun(db_url: str, tmp_path: Path) -> None:
    seed_persons(db_url, {A: ("2025-01-15", "1")})
    _numbers(db_url, (A,))
    with db.transaction(db_url) as conn:
        conn.exec_driver_sql(
            "INSERT INTO move_ins (atena_no, move_in_date, prev_municipality_code, manifest_id, seq, "
            f"recorded_at) VALUES ('{A}', '2026-05-20', '011002', 0, 1, '{ledger.now_text()}')"
        )
    assert crash_publish("marker_temp", "shokai", db_url, tmp_path, DAY1) == CRASHED
    assert publish("shokai", tmp_path, db_url, DAY1) == ["SHOKAI_20260601.csv"]
    assert [r["inquiry_no"] for r in read_out(tmp_path, "shokai", "SHOKAI_20260601.csv")] == [
        "20260601000001"
    ]
    assert publish("shokai", tmp_path, db_url, DAY2) == []  # asked once
    assert rows(db_url, "SELECT inquiry_no, atena_no FROM history_inquiries") == [("20260601000001", A)]
