"""Welfare snapshots (feeds.md §3) through the real pipeline on SQLite and PostgreSQL: status
periods over three months, the shrunken-snapshot guard, and the self-pay class and 60–64
B-class eligibility the registry derives for the rule engine and the fees."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaxreg import pipeline
from vaxreg.registry import db, welfare

from helpers.db import rows, run
from helpers.resident import deliver, person, resident_csv
from helpers.vrs import seiho_csv, techo_csv

P = [f"20000000{i:02d}" for i in range(1, 13)]


@pytest.fixture
def source(feed_root: Path, db_url: str) -> str:
    people = [person(a, birth_date="1963-06-01", name_kana="ハヤシ　レン") for a in P]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(people))
    src = f"file://{feed_root}"
    run("resident", src, db_url)
    return src


def periods(db_url: str, kind: str) -> list[tuple]:
    cols = "atena_no, case_no, CAST(end_date AS TEXT)" if kind == "seiho" else "atena_no, grade, part"
    return rows(db_url, f"SELECT {cols}, first_month, closed_month FROM welfare_{kind}_periods ORDER BY id")


def test_status_periods_across_three_months(feed_root: Path, source: str, db_url: str) -> None:
    deliver(
        feed_root,
        "SEIHO_202604.csv",
        seiho_csv([(P[0], "C1", "H300401", ""), (P[1], "C2", "R050101", "")]),
        feed="welfare",
    )
    deliver(
        feed_root,
        "TECHO_202604.csv",
        techo_csv([(P[2], "1", "1", "H", "H270401", ""), (P[3], "1", "2", "K", "H270401", "")]),
        feed="welfare",
    )
    deliver(
        feed_root, "SEIHO_202605.csv", seiho_csv([(P[0], "C1", "H300401", "")]), feed="welfare"
    )  # P[1] leaves
    deliver(
        feed_root,
        "TECHO_202605.csv",
        techo_csv([(P[2], "1", "1", "H", "H270401", ""), (P[3], "1", "1", "K", "H270401", "")]),
        feed="welfare",
    )
    out = run("welfare", source, db_url)
    assert [s["file"] for s in out] == [
        "SEIHO_202604.csv",
        "TECHO_202604.csv",
        "SEIHO_202605.csv",
        "TECHO_202605.csv",
    ]
    assert [(s["opened"], s["closed"]) for s in out] == [(2, 0), (2, 0), (0, 1), (1, 1)]
    # Month 3: P[0]'s welfare ends (廃止日), P[1] comes back, the unknown person is quarantined.
    deliver(
        feed_root,
        "SEIHO_202606.csv",
        seiho_csv(
            [
                (P[0], "C1", "H300401", "R080615"),
                (P[1], "C9", "R080601", ""),
                ("2999999999", "C3", "R080601", ""),
            ]
        ),
        feed="welfare",
    )
    [s] = run("welfare", source, db_url)
    assert (s["rows"], s["accepted"], s["quarantined"], s["opened"], s["closed"]) == (3, 2, 1, 2, 1)
    assert periods(db_url, "seiho") == [
        (P[0], "C1", None, "202604", "202606"),
        (P[1], "C2", None, "202604", "202605"),
        (P[0], "C1", "2026-06-15", "202606", None),
        (P[1], "C9", None, "202606", None),
    ]
    assert periods(db_url, "techo") == [
        (P[2], "1", "H", "202604", None),
        (P[3], "2", "K", "202604", "202605"),
        (P[3], "1", "K", "202605", None),
    ]
    # Self-pay class on dates: '0' exempt while a period covers the date, None before the data.
    with db.transaction(db_url) as conn:
        who = pd.Series([P[0], P[0], P[0], P[1], P[1], P[1], P[4], P[4]])
        when = np.array(
            [
                "2026-04-20",
                "2026-06-15",
                "2026-06-16",
                "2026-04-20",
                "2026-05-10",
                "2026-06-02",
                "2026-04-20",
                "2025-01-01",
            ],
            dtype="datetime64[D]",
        )
        assert welfare.self_pay_class(conn, who, when).tolist() == ["0", "0", "1", "0", "1", "0", "1", None]
        who = pd.Series([P[2], P[3], P[3], P[4], P[4]])
        when = np.array(
            ["2026-05-01", "2026-04-20", "2026-05-20", "2026-05-01", "2020-01-01"], dtype="datetime64[D]"
        )
        assert welfare.disability_letters(conn, who, when).tolist() == ["H", "", "K", "", None]
    # Counts add up in the manifest, and a re-run changes nothing.
    before = periods(db_url, "seiho")
    assert run("welfare", source, db_url) == []
    assert periods(db_url, "seiho") == before


def test_shrunken_snapshot_fails_and_changes_nothing(feed_root: Path, source: str, db_url: str) -> None:
    deliver(
        feed_root,
        "SEIHO_202604.csv",
        seiho_csv([(a, f"C{i}", "R050101", "") for i, a in enumerate(P[:10])]),
        feed="welfare",
    )
    run("welfare", source, db_url)
    before = periods(db_url, "seiho")
    deliver(
        feed_root,
        "SEIHO_202605.csv",
        seiho_csv([(a, f"C{i}", "R050101", "") for i, a in enumerate(P[:4])]),
        feed="welfare",
    )
    deliver(feed_root, "TECHO_202605.csv", techo_csv([(P[0], "1", "1", "I", "R050101", "")]), feed="welfare")
    with pytest.raises(
        pipeline.FeedRefused, match=r"SEIHO_202605.csv: 4 rows, fewer than half of the previous .*10 rows"
    ):
        run("welfare", source, db_url)
    assert periods(db_url, "seiho") == before and periods(db_url, "techo") == []
    assert rows(
        db_url, "SELECT file_name, status FROM ingest_manifest WHERE feed = 'welfare' ORDER BY id"
    ) == [
        ("SEIHO_202604.csv", "applied"),
        ("SEIHO_202605.csv", "refused"),
    ]
    # Exactly half passes (the guard is "fewer than half").
    (feed_root / "outbox" / "welfare" / "SEIHO_202605.csv").unlink()
    (feed_root / "outbox" / "welfare" / "SEIHO_202605.csv.done").unlink()
    deliver(
        feed_root,
        "SEIHO_202606.csv",
        seiho_csv([(a, f"C{i}", "R050101", "") for i, a in enumerate(P[:5])]),
        feed="welfare",
    )
    out = run("welfare", source, db_url)
    assert [(s["file"], s["closed"]) for s in out] == [("TECHO_202605.csv", 0), ("SEIHO_202606.csv", 5)]
    # An older month than the latest applied is refused.
    deliver(feed_root, "SEIHO_202603.csv", seiho_csv([(a, "C", "R050101", "") for a in P]), feed="welfare")
    with pytest.raises(pipeline.FeedRefused, match="not after the latest applied 202606"):
        run("welfare", source, db_url)


def test_clinic_records_use_the_welfare_data(feed_root: Path, source: str, db_url: str) -> None:
    """Influenza at 62: eligible with grade-1 身体 H; the self-pay class comes from the registry."""
    from helpers.clinic import clinic_csv, rec

    deliver(feed_root, "SEIHO_202603.csv", seiho_csv([(P[0], "C1", "R050101", "")]), feed="welfare")
    deliver(
        feed_root,
        "TECHO_202603.csv",
        techo_csv([(P[0], "1", "1", "H", "R050101", ""), (P[1], "1", "2", "H", "R050101", "")]),
        feed="welfare",
    )
    run("welfare", source, db_url)
    kana, birth = "ﾊﾔｼ ﾚﾝ", "S380601"
    deliver(
        feed_root,
        "ISHIKAI_202603.csv",
        clinic_csv(
            [
                rec(P[0], kana, birth, "1", "21", "00", "1", "R080310"),
                rec(P[1], kana, birth, "1", "21", "00", "1", "R080310"),
            ]
        ),
        feed="clinic",
    )
    run("clinic", source, db_url)
    assert rows(db_url, "SELECT atena_no, off_schedule FROM doses ORDER BY atena_no") == [
        (P[0], None),
        (P[1], "outside_age_window"),
    ]
    assert rows(
        db_url, "SELECT row_no, self_pay_class, self_pay_source, flags FROM fee_details ORDER BY row_no"
    ) == [
        (1, "0", "registry", "self_pay_declared_disagrees"),
        (2, "1", "registry", "off_schedule"),
    ]
    assert dt.date(2026, 3, 10)  # the dose date: within the March snapshot month
