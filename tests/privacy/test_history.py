"""P5: a correction (33 職権修正) keeps the prior values and records who/what decided it and why."""

from __future__ import annotations

from pathlib import Path

from vaxreg import feeds, pipeline
from vaxreg.registry import db

from helpers.resident import deliver, person, resident_csv


def test_correction_keeps_prior_values_and_who_decided(feed_root: Path, db_url: str) -> None:
    first = pipeline.make_actor("resident", dag_id="resident_diff", run_id="run-1", task_id="apply")
    second = pipeline.make_actor("resident", dag_id="resident_diff", run_id="run-2", task_id="apply")
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person("0000000001")]))
    pipeline.report(pipeline.run_feed("resident", first, source_url=f"file://{feed_root}", db_url=db_url))
    correction = person(
        "0000000001",
        event_code="33",
        event_date="2026-04-02",
        name_kana="シケン　タロー",
        birth_date="1990-05-06",
    )
    deliver(feed_root, "JUKI_DIFF_20260402.csv", resident_csv([correction]))
    pipeline.report(pipeline.run_feed("resident", second, source_url=f"file://{feed_root}", db_url=db_url))

    with db.transaction(db_url) as conn:
        hist = conn.exec_driver_sql(
            "SELECT version, name_kana, CAST(birth_date AS TEXT), event_code, decided_by, "
            "CAST(valid_to AS TEXT) FROM person_history WHERE atena_no = '0000000001'"
        ).fetchall()
        cur = conn.exec_driver_sql(
            "SELECT version, name_kana, CAST(birth_date AS TEXT), event_code, decided_by, "
            "CAST(valid_from AS TEXT) FROM persons WHERE atena_no = '0000000001'"
        ).fetchall()
        audit = conn.exec_driver_sql(
            "SELECT dag_id, run_id, task_id, purpose, fields_changed, detail FROM audit_log "
            "WHERE atena_no = '0000000001' ORDER BY id"
        ).fetchall()
    # The prior values are kept, with who decided them; the correction says who decided it and when.
    assert [tuple(r) for r in hist] == [
        (1, "シケン　タロウ", "1990-05-05", "10", "resident_diff/run-1/apply", "2026-04-02")
    ]
    assert [tuple(r) for r in cur] == [
        (2, "シケン　タロー", "1990-05-06", "33", "resident_diff/run-2/apply", "2026-04-02")
    ]
    # The audit record of the correction: the actor, the purpose, which fields, and why (file, row, event).
    dag_id, run_id, task_id, purpose, fields, detail = audit[-1]
    assert (dag_id, run_id, task_id) == ("resident_diff", "run-2", "apply")
    assert purpose == feeds.get("resident").purpose
    assert fields == "name_kana,birth_date"
    assert detail == "JUKI_DIFF_20260402.csv#seq=1 event=33"
