"""The exchange DAGs (outputs.md §5): schedules, tasks and outlets, and one ``dag.test()`` each over
the real SFTP server on SQLite and PostgreSQL: numbers, an inquiry, its reply, the provision copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxreg.registry import db, ledger

from helpers.db import rows
from helpers.exchange import kaito_csv, number, read_out, seed_persons, togo_csv
from helpers.resident import deliver

pytestmark = pytest.mark.airflow

KID = "6000000001"


def test_schedules_tasks_and_outlets(dagbag) -> None:  # type: ignore[no-untyped-def]
    atena = dagbag.get_dag("atena_numbers")
    assert (atena.timetable.expression, str(atena.timetable.timezone)) == ("30 2 * * *", "Asia/Tokyo")
    assert [a.uri for a in atena.get_task("report").outlets] == ["vaxreg://registry/integrated_numbers"]
    prior = dagbag.get_dag("prior_records")
    assert [a.uri for a in prior.get_task("report").outlets] == ["vaxreg://registry/doses"]
    copy = dagbag.get_dag("provision_copy")
    assert sorted(a.uri for a in copy.timetable.asset_condition.objects) == [
        "vaxreg://registry/doses",
        "vaxreg://registry/integrated_numbers",
    ]
    assert [t.task_id for t in copy.topological_sort()] == ["publish", "report"]
    assert [a.uri for a in copy.get_task("publish").outlets] == ["vaxreg://outbound/fukuhon"]
    inquiries = dagbag.get_dag("history_inquiries")
    assert sorted(a.uri for a in inquiries.timetable.asset_condition.objects) == [
        "vaxreg://registry/integrated_numbers",
        "vaxreg://registry/persons",
    ]
    assert [a.uri for a in inquiries.get_task("publish").outlets] == ["vaxreg://outbound/shokai"]
    for d in (atena, prior, copy, inquiries):
        assert d.dagrun_timeout is not None and "network" in d.tags


def test_exchange_end_to_end(dagbag, monkeypatch, feed_root: Path, sftp_server, db_url: str) -> None:  # type: ignore[no-untyped-def]
    import pendulum

    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", sftp_server.url(feed_root))
    seed_persons(db_url, {KID: ("2025-01-10", "2")})
    with db.transaction(db_url) as conn:  # the move-in the resident feed recorded
        conn.exec_driver_sql(
            "INSERT INTO move_ins (atena_no, move_in_date, prev_municipality_code, manifest_id, seq, "
            f"recorded_at) VALUES ('{KID}', '2026-05-20', '011002', 0, 1, '{ledger.now_text()}')"
        )
    day = pendulum.parse("2026-06-01T06:00", tz="Asia/Tokyo")
    deliver(feed_root, "TOGO_20260601.csv", togo_csv([(KID, number(KID), "A", "2026-06-01")]), feed="atena")
    assert dagbag.get_dag("atena_numbers").test(logical_date=day).state == "success"
    assert dagbag.get_dag("history_inquiries").test(logical_date=day).state == "success"
    [inquiry] = read_out(feed_root, "shokai", "SHOKAI_20260601.csv")
    assert inquiry["inquiry_no"] == "20260601000001"
    reply = dict(inquiry_no="20260601000001", integrated_no=number(KID), municipality_code="011002")
    reply |= dict(vaccine_code="01", phase="11", dose_no="1", dose_date="2025-03-12", product_name="製品")
    deliver(feed_root, "KAITO_20260601.csv", kaito_csv([reply]), feed="prior")
    assert dagbag.get_dag("prior_records").test(logical_date=day).state == "success"
    assert dagbag.get_dag("provision_copy").test(logical_date=day).state == "success"
    assert [tuple(r.values()) for r in read_out(feed_root, "fukuhon", "FUKUHON_20260601.csv")] == [
        ("A", number(KID), "01", "2025-03-12", "")
    ]
    assert rows(db_url, "SELECT COUNT(*) FROM history_inquiries WHERE answered_at IS NOT NULL") == [(1,)]
