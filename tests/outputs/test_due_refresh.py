"""The registry refresh on both databases: residents only, states from the doses, atomic rebuild,
the checkpoint on the counts by state (a failing check leaves the previous due doses)."""

from __future__ import annotations

import pytest

from vaxreg.outputs import due
from vaxreg.rules.due import STATES

from helpers.db import rows
from helpers.due import Person, actor, day, seed_doses, seed_persons

KID, OLD, GONE, ADULT = "2000000001", "2000000002", "2000000003", "2000000004"


def seed(db_url: str) -> None:
    seed_persons(
        db_url,
        [
            Person(KID, "2025-12-10"),
            Person(OLD, "1950-05-05"),
            Person(GONE, "2025-11-01", status="moved_out", valid_from="2026-03-01", event_code="20"),
            Person(ADULT, "1990-01-01"),
        ],
    )
    seed_doses(
        db_url,
        [
            (KID, "06", "11", 1, "2026-02-10", None),
            (KID, "06", "11", 2, "2026-02-20", "interval_too_short"),
            (OLD, "21", "00", 1, "2025-11-01", None),
        ],
    )


def test_refresh_residents_states_and_counts(db_url: str) -> None:
    seed(db_url)
    result = due.refresh(actor(), day("2026-06-01"), db_url=db_url)
    assert set(result.counts) == set(STATES) and sum(result.counts.values()) == result.rows
    got = dict(
        ((a, v, p, n), s)
        for a, v, p, n, s in rows(
            db_url, "SELECT atena_no, vaccine_code, phase, dose_no, state FROM due_doses"
        )
    )
    assert {a for a, *_ in got} == {KID, OLD}  # residents only, children and elders only
    assert got[(KID, "06", "11", 1)] == "done"
    assert got[(KID, "06", "11", 2)] == "due"  # the off-schedule dose does not count
    assert got[(KID, "07", "11", 1)] == "not_eligible"  # follows 5種混合
    assert got[(OLD, "21", "00", 1)] == "due"  # FY2025's flu dose: due again in FY2026
    assert rows(db_url, "SELECT CAST(as_of AS TEXT), rows FROM due_refreshes") == [
        ("2026-06-01", result.rows)
    ]
    again = due.refresh(actor(), day("2026-06-01"), db_url=db_url)  # rebuilt, not appended
    assert again.rows == result.rows == rows(db_url, "SELECT COUNT(*) FROM due_doses")[0][0]
    audit = "SELECT COUNT(*) FROM audit_log WHERE table_name = 'due_doses' AND action = 'update'"
    if db_url.startswith("postgresql"):  # rebuilt after the load
        names = (
            "SELECT indexname FROM pg_indexes WHERE tablename = 'due_doses' AND schemaname = current_schema()"
        )
        assert sorted(r[0] for r in rows(db_url, names)) == ["ix_due_doses_state", "uq_due_doses_slot"]
    assert rows(db_url, audit) == [(2,)]


def test_failed_checkpoint_rolls_the_refresh_back(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(db_url)
    first = due.refresh(actor(), day("2026-06-01"), db_url=db_url)
    real = due.checkpoint_frame

    def broken(conn, as_of, rules):  # type: ignore[no-untyped-def]
        frame = real(conn, as_of, rules)
        frame.loc[frame["state"] == "due", "person_status"] = "deceased"  # a due dose of a deceased
        return frame

    monkeypatch.setattr(due, "checkpoint_frame", broken)
    with pytest.raises(due.DueCheckFailed, match="due_for_non_resident"):
        due.refresh(actor(), day("2026-09-01"), db_url=db_url)
    assert rows(db_url, "SELECT COUNT(*) FROM due_refreshes") == [(1,)]
    assert rows(db_url, "SELECT COUNT(*) FROM due_doses") == [(first.rows,)]
    if db_url.startswith("postgresql"):  # the indexes dropped for the load are back (or never left)
        names = (
            "SELECT indexname FROM pg_indexes WHERE tablename = 'due_doses' AND schemaname = current_schema()"
        )
        assert sorted(r[0] for r in rows(db_url, names)) == ["ix_due_doses_state", "uq_due_doses_slot"]
