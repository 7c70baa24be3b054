"""A publication killed at every step, then re-run (issue 15, defect 6), on SQLite and PostgreSQL.

The child process ends with ``os._exit`` at the step (no rollback in Python, no clean-up of any
kind). After the re-run: exactly one file with the right bytes and marker, exactly one record, no
temporary file left behind, and the next publication does not repeat its rows. Over the local
transport and, for the steps inside the transport, over the real SFTP server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxreg.outputs import outbound

from helpers.db import rows
from helpers.outbound import (
    CRASHED,
    DAY,
    NEXT,
    P,
    assert_published_once,
    crash_at,
    flags_text,
    listing,
    publish,
    seed_fee_details,
    seed_flag_holders,
)
from helpers.sshd import SftpServer

TRANSPORT_STEPS = ("data_temp", "data_renamed", "marker_temp", "marker_renamed")


def test_the_transport_steps_are_steps() -> None:
    assert set(TRANSPORT_STEPS) < set(outbound.STEPS)


@pytest.mark.parametrize("step", outbound.STEPS)
def test_crash_at_every_step_then_rerun_publishes_once(step: str, root: Path, db_url: str) -> None:
    source = f"file://{root}"
    seed_flag_holders(db_url, P[:3])
    crashed = crash_at(step, "vrs", db_url, source, DAY)
    assert crashed.returncode == CRASHED, crashed.stderr[-2000:]

    name = "VRS_FLAGS_20260414.csv"
    assert publish("vrs", db_url, source, DAY) == [name]  # finished (or, before the commit, done anew)
    assert_published_once(root, db_url, name, flags_text(P[:3]), P[:3])
    # Again the same day: nothing new. The next day, only the new move-out.
    assert publish("vrs", db_url, source, DAY) == []
    seed_flag_holders(db_url, [P[3]], on="2026-04-14")
    assert publish("vrs", db_url, source, NEXT) == ["VRS_FLAGS_20260415.csv"]
    assert (root / "inbox" / "vrs" / "VRS_FLAGS_20260415.csv").read_text() == flags_text(
        [P[3]], on="2026-04-14"
    )
    assert rows(db_url, "SELECT COUNT(*), COUNT(DISTINCT voucher_no) FROM vrs_flags") == [(4, 4)]
    assert rows(db_url, "SELECT state, COUNT(*) FROM outbound_files GROUP BY state") == [("published", 2)]


@pytest.mark.parametrize("step", TRANSPORT_STEPS)
def test_crash_inside_sftp_write_then_rerun_publishes_once(
    step: str, root: Path, db_url: str, sftp_server: SftpServer
) -> None:
    source = sftp_server.url(root)
    seed_flag_holders(db_url, P[:2], status="deceased")
    crashed = crash_at(step, "vrs", db_url, source, DAY)
    assert crashed.returncode == CRASHED, crashed.stderr[-2000:]
    assert rows(db_url, "SELECT state FROM outbound_files") == [("prepared",)]

    assert publish("vrs", db_url, source, DAY) == ["VRS_FLAGS_20260414.csv"]
    text = flags_text(P[:2], flag="DECEASED")
    assert_published_once(root, db_url, "VRS_FLAGS_20260414.csv", text, P[:2])
    assert rows(db_url, "SELECT outcome FROM outbound_files") == [
        ("written" if step == "data_temp" else "adopted",)
    ]


@pytest.mark.parametrize("step", ["prepared", "data_renamed", "marker_renamed"])
def test_fee_statement_crash_is_finished_by_the_next_run(step: str, root: Path, db_url: str) -> None:
    source = f"file://{root}"
    seed_fee_details(db_url, "202604", [5000, 7000])
    assert crash_at(step, "clinic", db_url, source, DAY).returncode == CRASHED
    assert rows(db_url, "SELECT payment_month FROM fee_statements") == [("202604",)]  # recorded, as one

    assert publish("clinic", db_url, source, NEXT) == ["FEES_202604.csv", "FEES_202604_DETAIL.csv"]
    assert publish("clinic", db_url, source, NEXT) == []
    inbox = root / "inbox" / "fees"
    assert listing(inbox) == [
        "FEES_202604.csv",
        "FEES_202604.csv.done",
        "FEES_202604_DETAIL.csv",
        "FEES_202604_DETAIL.csv.done",
    ]
    assert (inbox / "FEES_202604.csv").read_text().splitlines()[1] == "1310300011,2,12000"
    assert rows(db_url, "SELECT kind, state FROM outbound_files ORDER BY kind") == [
        ("fees", "published"),
        ("fees_detail", "published"),
    ]
