"""P6: retention purge with logged deletion. Generated data straddles every cut-off; exactly the
expired set goes, a dry run reports the same figures and deletes nothing, a living resident stays."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import random
from pathlib import Path

import pytest
from sqlalchemy import insert

from vaxreg import cli, pipeline
from vaxreg.identity.validators import my_number_check_digit
from vaxreg.registry import audit, db, ledger, vault
from vaxreg.registry.tables import all_metadata
from vaxreg.retention import policies
from vaxreg.retention import purge as retention

from helpers.db import owner_url, vault_url
from helpers.resident import deliver, person, resident_csv

AS_OF = dt.date(2026, 5, 1)
JST = dt.timezone(dt.timedelta(hours=9))
ACTOR = pipeline.make_actor("resident", run_id="retention-test", task_id="test")


def jst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)


def utc_text(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def my_number(i: int) -> str:
    body = f"{77700000000 + i:011d}"
    return body + str(my_number_check_digit(body))


# Persons: (atena_no, events after the move-in) — person cut-off 20 years: 2006-05-01.
PERSONS = {
    "0000000001": [("21", "2006-04-30")],  # died the day before the cut-off: expired
    "0000000002": [("21", "2006-05-01")],  # died on the cut-off: kept
    "0000000003": [("20", "2006-04-30")],  # moved out before: expired (after removal)
    "0000000004": [("22", "2006-05-01")],  # removed on the cut-off: kept
    "0000000005": [],  # a living resident since 1990: never
    "0000000006": [("20", "2001-01-01"), ("10", "2002-01-01")],  # moved out long ago, came back: resident
}
EXPIRED_PERSONS = {"0000000001", "0000000003"}


def registry_file() -> bytes:
    rows = []
    for i, (atena, events) in enumerate(PERSONS.items(), start=1):
        base = dict(
            kojin_no=my_number(i),
            event_date="1990-04-01",
            notified_date="1990-04-01",
            birth_date="1960-01-01",
            address_date="1990-04-01",
            resident_since="1990-04-01",
            household_no=f"70000000{i:02d}",
            name_kanji=f"保存　{i}郎",
        )
        rows.append(person(atena, **base))
        for code, day in events:
            removed = day if code in ("20", "21", "22") else ""
            rows.append(
                person(
                    atena,
                    **base
                    | {"event_code": code, "event_date": day, "notified_date": day, "removed_date": removed},
                )
            )
    return resident_csv(rows)


def insert_rows(conn, table: str, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """Insert through the metadata, filling required columns the test does not care about."""
    t = all_metadata().tables[table]
    filler = {
        "INTEGER": 1,
        "BIGINT": 1,
        "DATE": dt.date(2000, 1, 1),
        "DATETIME": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        "TIMESTAMP": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    }
    full = []
    for r in rows:
        row = dict(r)
        for c in t.columns:
            if c.name not in row and not c.nullable and not c.primary_key and c.server_default is None:
                kind = str(c.type).split("(")[0].upper()
                row[c.name] = filler.get(kind, "1")
        full.append(row)
    conn.execute(insert(t), full)


def setup_registry(feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    # Audit records around the 7-year cut-off (2019-05-01 00:00 JST), written through the ledger.
    audit_times = [jst(2019, 4, 30, 23, 59, 59, 999999), jst(2019, 5, 1, 0, 0, 0), jst(2020, 1, 1)]
    for at in audit_times:
        with monkeypatch.context() as m, db.transaction(db_url) as conn:
            m.setattr(ledger, "now_text", lambda at=at: utc_text(at))
            ledger.write_audit(
                conn,
                ACTOR,
                action="update",
                table_name="persons",
                atena_no=["0000000099"],
                fields_changed=["*"],
                detail=[f"old record {at.isoformat()}"],
            )
    monkeypatch.setenv("VAXREG_STAGING_DIR", str(feed_root.parent / "staging"))
    monkeypatch.setenv("VAXREG_HOME", str(feed_root.parent / "var"))

    deliver(feed_root, "JUKI_DIFF_20260401.csv", registry_file())
    pipeline.report(pipeline.run_feed("resident", ACTOR, source_url=f"file://{feed_root}", db_url=db_url))

    # Quarantine items recorded around the 2-year cut-off (2024-05-01 00:00 JST), and a recent one:
    # quarantined rows are never resolved, they go 2 years after they were recorded.
    with db.transaction(db_url) as conn:
        q = [
            ("resolved_before", jst(2024, 4, 30, 23, 59, 59)),
            ("resolved_on", jst(2024, 5, 1, 0, 0, 0)),
            ("open", jst(2026, 4, 1)),
        ]
        insert_rows(
            conn,
            "quarantine",
            [
                {
                    "feed": "resident",
                    "file_name": "JUKI_DIFF_20000101.csv",
                    "manifest_id": 999,
                    "row_no": i,
                    "reasons": reason,
                    "raw_row": "{}",
                    "recorded_at": at.astimezone(dt.UTC),
                    "resolved_at": None,
                }
                for i, (reason, at) in enumerate(q, start=1)
            ],
        )
        # Doses of an expired person and of a living resident, all very old.
        if "doses" in all_metadata().tables:
            insert_rows(
                conn,
                "doses",
                [
                    {"atena_no": a, "vaccine_code": "01", "phase": "01", "dose_no": n}
                    | {"dose_date": dt.date(1990, 6, n)}
                    for a in ("0000000001", "0000000005")
                    for n in (1, 2)
                ],
            )

    # Landing and staging folders around the 90-day cut-off (2026-01-31 00:00 JST).
    staging = Path(os.environ["VAXREG_STAGING_DIR"])
    for p in staging.rglob("*"):
        if p.is_file():  # the real files of this run are recent: make them all old but one
            t = jst(2026, 1, 30, 23, 59, 59).timestamp()
            os.utime(p, (t, t))
    for area in ("landing", "work"):
        for name, when in (
            ("aaaaaaaaaaaaaaaa", jst(2026, 1, 30, 23, 59)),
            ("bbbbbbbbbbbbbbbb", jst(2026, 1, 31)),
        ):
            f = staging / area / "resident" / name / "X.csv"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("x")
            os.utime(f, (when.timestamp(), when.timestamp()))
    return {"audit_times": audit_times}


def state(db_url: str) -> dict[str, object]:
    """What the registry and the staging folder hold (keys only)."""
    staging = Path(os.environ["VAXREG_STAGING_DIR"])
    with db.transaction(vault_url(db_url)) as conn:  # the vault login (it reads the vault)
        out: dict[str, object] = {
            "persons": sorted(r[0] for r in conn.exec_driver_sql("SELECT atena_no FROM persons")),
            "history": sorted(
                r[0] for r in conn.exec_driver_sql("SELECT DISTINCT atena_no FROM person_history")
            ),
            "vault": sorted(vault.read_all(conn)),
            "quarantine": sorted(r[0] for r in conn.exec_driver_sql("SELECT reasons FROM quarantine")),
            "audit": [r[0] for r in conn.exec_driver_sql("SELECT detail FROM audit_log ORDER BY id LIMIT 2")],
        }
        if "doses" in all_metadata().tables:
            out["doses"] = sorted(r[0] for r in conn.exec_driver_sql("SELECT atena_no FROM doses"))
    # The Data Docs site holds no personal data and is not under retention (decisions.md §56).
    out["files"] = sorted(
        str(p.relative_to(staging))
        for p in staging.rglob("*")
        if p.is_file() and "data-docs" not in p.relative_to(staging).parts
    )
    return out


def test_manual_runs_default_to_dry_run_scheduled_runs_purge() -> None:
    assert retention.run_is_dry(True, "manual") and retention.run_is_dry("true", "asset_triggered")
    assert not retention.run_is_dry(False, "manual")
    assert not retention.run_is_dry(True, "scheduled")

    class RunType:  # Airflow's DagRunType is a str enum
        value = "scheduled"

    assert not retention.run_is_dry(True, RunType())


def figures(r: retention.RunResult) -> list[tuple]:
    return [(p.policy, p.cutoff, p.deleted, p.counts, p.digest, p.note) for p in r.policies]


def test_purge_deletes_exactly_the_expired_set(
    feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx = setup_registry(feed_root, db_url, monkeypatch)
    before = state(db_url)
    assert before["persons"] == sorted(PERSONS) and len(before["vault"]) == 6  # type: ignore[arg-type]

    dry = retention.purge(AS_OF, dry_run=True, run_id="dry", db_url=owner_url(db_url))
    assert state(db_url) == before  # a dry run deletes nothing ...
    with db.transaction(db_url) as conn:  # ... and writes nothing
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM deletion_log").scalar_one() == 0
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM audit_log WHERE action = 'purge'").scalar_one() == 0

    real = retention.purge(
        AS_OF, dry_run=False, run_id="run-1", db_url=owner_url(db_url), certificate_dir=tmp_path / "cert"
    )
    assert figures(real) == figures(dry)  # the same figures
    by = {p.policy: p for p in real.policies}
    assert {p.policy: p.cutoff for p in real.policies} == {
        "landing_raw_files": "2026-01-31",
        "staging_work_files": "2026-01-31",
        "quarantine_items": "2024-05-01",
        "review_items": "2024-05-01",
        "outbound_files": "2019-05-01",
        "provision_sent": "2019-05-01",
        "forms_issued": "2021-05-01",
        "form_reissues": "2021-05-01",
        "reminders_sent": "2021-05-01",
        "audit_log": "2019-05-01",
        "deceased_persons": "2006-05-01",
        "removed_persons": "2006-05-01",
        "deletion_log": None,
    }

    after = state(db_url)
    kept_persons = sorted(set(PERSONS) - EXPIRED_PERSONS)
    assert after["persons"] == kept_persons
    assert after["vault"] == kept_persons
    assert set(after["history"]).isdisjoint(EXPIRED_PERSONS)  # type: ignore[arg-type]
    assert {"0000000002", "0000000004", "0000000006"} <= set(after["history"])  # type: ignore[arg-type]
    assert after["quarantine"] == ["open", "resolved_on"]
    assert after["audit"][0] == f"old record {ctx['audit_times'][1].isoformat()}"  # type: ignore[index]
    if "doses" in after:
        assert after["doses"] == ["0000000005", "0000000005"]  # the living resident's doses stay
        assert by["deceased_persons"].counts["doses"] == 2
    # Files: exactly the folders older than the cut-off went, in landing and in staging.
    assert "landing/resident/bbbbbbbbbbbbbbbb/X.csv" in after["files"]  # type: ignore[operator]
    assert "work/resident/bbbbbbbbbbbbbbbb/X.csv" in after["files"]  # type: ignore[operator]
    assert all("bbbbbbbbbbbbbbbb" in f for f in after["files"])  # type: ignore[union-attr]
    assert by["landing_raw_files"].counts["folders"] == 2 and by["staging_work_files"].counts["folders"] == 2

    assert by["deceased_persons"].counts["persons"] == 1 and by["removed_persons"].counts["persons"] == 1
    assert by["deceased_persons"].counts["my_number_vault"] == 1
    assert by["audit_log"].counts == {"audit_log": 1}
    assert by["quarantine_items"].counts == {"quarantine": 1}
    with db.transaction(db_url) as conn:  # the digest is over the sorted keys deleted ("table:key")
        kept = conn.exec_driver_sql("SELECT id FROM quarantine WHERE reasons = 'resolved_on'").scalar_one()
    deleted_id = kept - 1  # inserted in order: resolved_before, resolved_on, open
    assert by["quarantine_items"].digest == hashlib.sha256(f"quarantine:{deleted_id}".encode()).hexdigest()

    # The deletion log: one row per policy, no personal data; the audit chain still verifies (anchor).
    with db.transaction(db_url) as conn:
        logs = conn.exec_driver_sql(
            "SELECT policy, CAST(cutoff AS TEXT), deleted, counts, digest, anchor_id "
            "FROM deletion_log ORDER BY id"
        ).fetchall()
        dump = repr(conn.exec_driver_sql("SELECT * FROM deletion_log").fetchall())
        verdict = audit.verify(conn)
    assert [r[0] for r in logs] == [p.policy for p in real.policies]
    assert [(r[2], json.loads(r[3]), r[4]) for r in logs] == [
        (p.deleted, p.counts, p.digest) for p in real.policies
    ]
    for secret in (*PERSONS, *(my_number(i) for i in range(1, 7)), "保存"):
        assert secret not in dump
    assert verdict.ok, verdict.line()

    # The certificate: HTML and CSV, one row per policy.
    html_path, csv_path = (Path(p) for p in real.certificate)
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert [r["policy"] for r in rows] == [p.policy for p in real.policies]
    page = html_path.read_text(encoding="utf-8")
    assert "消去証明書" in page and by["deceased_persons"].digest in page and "audit log OK" in page

    if db_url.startswith("postgresql"):  # VACUUM ran on the tables that lost rows
        assert set(real.vacuumed) >= {"persons", "person_history", "quarantine", "audit_log"}
        with db.engine(db_url).connect() as conn:
            vacuumed = conn.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_vacuum IS NOT NULL"
            ).scalars()
            assert {"persons", "audit_log"} <= set(vacuumed)

    # Again: nothing more is expired; a second run deletes nothing and still logs each policy.
    again = retention.purge(
        AS_OF, dry_run=False, run_id="run-2", db_url=owner_url(db_url), certificate_dir=tmp_path / "c2"
    )
    assert sum(p.deleted for p in again.policies) == 0
    assert state(db_url) == after
    with db.transaction(db_url) as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM deletion_log").scalar_one() == 2 * len(
            real.policies
        )
        assert audit.verify(conn).ok


def test_a_living_resident_is_never_purged(
    feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_registry(feed_root, db_url, monkeypatch)
    # Two hundred years later every policy has expired, yet residents and their doses stay.
    result = retention.purge(dt.date(2226, 5, 1), dry_run=False, run_id="far", db_url=owner_url(db_url))
    after = state(db_url)
    assert after["persons"] == after["vault"] == ["0000000005", "0000000006"]
    if "doses" in after:
        assert after["doses"] == ["0000000005", "0000000005"]
    assert after["quarantine"] == []  # quarantined rows hold names: nothing is kept for ever
    assert [p.deleted for p in result.policies if p.policy == "deletion_log"] == [0]
    with db.transaction(db_url) as conn:
        assert audit.verify(conn).ok  # even with every old record gone, the chain continues from the anchor


def test_cli_purge_dry_run_and_policy_file_checks(
    feed_root: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    setup_registry(feed_root, db_url, monkeypatch)
    assert cli.main(["--database-url", owner_url(db_url), "purge", "--dry-run", "--as-of", "2026-05-01"]) == 0
    out = capsys.readouterr().out
    assert "DRY RUN, nothing deleted" in out and "deceased_persons" in out and "2006-05-01" in out
    with db.transaction(db_url) as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM deletion_log").scalar_one() == 0

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\npolicies:\n  - {name: x, kind: person, basis: after_event, period: 1 years}\n"
    )
    with pytest.raises(policies.PolicyError, match="not supported"):
        policies.load_policies(bad)
    bad.write_text("version: 1\npolicies:\n  - {name: x, kind: rows, basis: after_event, period: soon}\n")
    with pytest.raises(policies.PolicyError, match="period"):
        policies.load_policies(bad)


def test_reviewed_policy_file_states_the_privacy_defaults() -> None:
    loaded, vacuum_mode = policies.load_policies()
    by = {p.name: p for p in loaded}
    assert (by["landing_raw_files"].period, by["staging_work_files"].period) == ("90 days", "90 days")
    assert (by["quarantine_items"].basis, by["quarantine_items"].period) == ("after_event", "2 years")
    assert by["audit_log"].period == "7 years"
    assert by["deletion_log"].period == "never"
    assert {by["deceased_persons"].basis, by["removed_persons"].basis} == {"after_death", "after_removal"}
    assert "doses" in {t[0] for t in by["deceased_persons"].tables}
    assert vacuum_mode in ("plain", "full")


@pytest.fixture(scope="module")
def dagbag(airflow_home: Path):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    from helpers.paths import REPO

    return DagBag(dag_folder=str(REPO / "dags"))


@pytest.mark.airflow
def test_retention_purge_dag_schedule_param_and_dry_run(  # type: ignore[no-untyped-def]
    dagbag, feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pendulum

    dag = dagbag.get_dag("retention_purge")
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 4 1 * *", "Asia/Tokyo")
    assert dag.params["dry_run"] is True  # triggered by hand: a dry run unless unticked
    assert [t.task_id for t in dag.topological_sort()] == ["purge", "certificate"]

    setup_registry(feed_root, db_url, monkeypatch)
    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_MAINTENANCE_DATABASE_URL", owner_url(db_url))  # the purge's login
    before = state(db_url)
    # Airflow's metadata DB outlives the test: a fresh second of that day makes fresh runs.
    logical = pendulum.datetime(2026, 5, 1, 4, tz="Asia/Tokyo").add(seconds=random.randrange(60 * 60 * 18))
    run = dag.test(
        logical_date=logical.add(microseconds=1), run_conf={"dry_run": True}
    )  # another run, same day
    assert run.state == "success"
    assert state(db_url) == before
    with db.transaction(db_url) as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM deletion_log").scalar_one() == 0

    # The cut-offs count back from the logical date, not the clock. (dag.test keeps the previous run's
    # conf in the DAG's params, hence the explicit False.)
    run = dag.test(logical_date=logical, run_conf={"dry_run": False})
    assert run.state == "success"
    assert state(db_url)["persons"] == sorted(set(PERSONS) - EXPIRED_PERSONS)
    with db.transaction(db_url) as conn:
        cutoffs = conn.exec_driver_sql(
            "SELECT policy, CAST(cutoff AS TEXT), run_id FROM deletion_log ORDER BY id"
        ).fetchall()
    assert ("deceased_persons", "2006-05-01", run.run_id) in [tuple(r) for r in cutoffs]
    safe = run.run_id.replace("/", "_").replace(":", "_")
    cert = Path(os.environ["VAXREG_HOME"]) / "retention" / safe / "deletion_certificate.csv"
    assert len(list(csv.DictReader(cert.open(encoding="utf-8")))) == len(cutoffs)
