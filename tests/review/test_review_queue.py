"""The review queue end to end on SQLite and PostgreSQL (privacy.md §Matching, P4, P5; cli.md):
rows land in review, an operator lists, shows, accepts and rejects them with `vaxreg review`, the
feed's next run applies the accepted ones (one manifest per original file, counts that add up),
a third run changes nothing; errors are exit 1 with one line; VRS rows the same way."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from vaxreg import cli, feeds, pipeline
from vaxreg.registry import db
from vaxreg.review import queue as review
from vaxreg.review import resolutions

from helpers.clinic import clinic_csv, rec
from helpers.resident import deliver, person, resident_csv
from helpers.vrs import dose, records_csv, subjects_csv

P1, P2, P3, P4 = "0000000001", "0000000002", "0000000003", "0000000004"


def rows(db_url: str, sql: str) -> list[tuple]:
    with db.transaction(db_url) as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


def vaxreg(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> tuple[int, str, str]:
    """The command in this process (cli.main, as the console script calls it): (exit, stdout, stderr)."""
    capsys.readouterr()
    try:
        code = cli.main(["--database-url", db_url, *args])
    except SystemExit as exc:  # argparse: wrong usage
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run(capsys: pytest.CaptureFixture[str], db_url: str, feed: str, source: str) -> list[dict]:
    code, out, err = vaxreg(capsys, db_url, "run", feed, "--source", source, "--date", "2026-06-01")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def item_ids(db_url: str, feed: str) -> dict[int, int]:
    """row_no -> review item id."""
    return dict(rows(db_url, f"SELECT row_no, id FROM review_items WHERE feed = '{feed}' ORDER BY id"))


@pytest.fixture
def clinic_root(feed_root: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Four residents and one clinic file whose rows 1–3 go to review; returns the source URL."""
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv(
            [
                person(P1, name_kana="タカハシ　レン", birth_date="2026-01-05", sex="1"),
                person(P2, name_kana="サイトウ　ヨウコ", birth_date="2025-07-26", sex="2"),
                person(P3, name_kana="ハヤシ　レン", birth_date="1957-01-31", sex="1"),
                person(P4, name_kana="イトウ　サクラ", birth_date="2024-02-02", sex="2"),
            ]
        ),
    )
    source = f"file://{feed_root}"
    run(capsys, db_url, "resident", source)
    data = clinic_csv(
        [
            # 1: another person's 宛名番号 with demographics that are not theirs → review
            rec(P2, "ﾔﾏﾀﾞ ﾊﾅｺ", "R080105", "2", "06", "11", "1", "R080313"),
            # 2: no 宛名番号, birth date far off → review
            rec("", "ﾀｶﾊｼ ﾚﾝ", "H200105", "1", "04", "00", "1", "R080301"),
            # 3: no 宛名番号, no one like this → review
            rec("", "ｽｽﾞｷ ｲﾁﾛｳ", "S450101", "1", "21", "00", "1", "R080318"),
            # 4: attached at once
            rec(P3, "ﾊﾔｼ ﾚﾝ", "S320131", "1", "21", "00", "1", "R080318"),
        ]
    )
    deliver(feed_root, "ISHIKAI_202603.csv", data, feed="clinic")
    return source


def test_clinic_review_accept_reject_apply_on_next_run(
    clinic_root: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    [first] = run(capsys, db_url, "clinic", clinic_root)
    assert (first["rows"], first["accepted"], first["review"]) == (4, 1, 3)
    ids = item_ids(db_url, "clinic")
    assert sorted(ids) == [1, 2, 3]

    # list: a table by default, CSV on request; no names.
    code, out, _ = vaxreg(capsys, db_url, "review", "list", "--format", "csv", "--feed", "clinic")
    assert code == 0
    listed = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["row_no"]) for r in listed] == [1, 2, 3]
    assert set(listed[0]) == {
        "item_id",
        "feed",
        "file",
        "row_no",
        "reasons",
        "candidates",
        "recorded_at",
        "status",
    }
    assert {r["status"] for r in listed} == {"open"} and listed[0]["file"] == "ISHIKAI_202603.csv"
    code, table, _ = vaxreg(capsys, db_url, "review", "list")
    assert code == 0 and table.splitlines()[0].split()[:3] == ["item_id", "feed", "file"]
    for text in (out, table):
        assert "ﾔﾏﾀﾞ" not in text and "ヤマダ" not in text and "スズキ" not in text

    # show: the received row and the candidates' demographics (what a person resolving needs).
    code, out, _ = vaxreg(capsys, db_url, "review", "show", str(ids[1]), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["received"]["name_kana"] == "ﾔﾏﾀﾞ ﾊﾅｺ" and shown["status"] == "open"
    cands = {c["atena_no"]: c for c in shown["candidates"]}
    assert P2 in cands and cands[P2]["name_kana"] == "サイトウ　ヨウコ" and cands[P2]["in_registry"]
    code, out, _ = vaxreg(capsys, db_url, "review", "show", str(ids[1]))
    assert code == 0 and "candidate 0000000002" in out

    # accept row 1 for P4 (not among the candidates: the reviewer found her), reject row 2.
    code, out, err = vaxreg(
        capsys,
        db_url,
        "review",
        "accept",
        str(ids[1]),
        "--atena-no",
        P4,
        "--by",
        "tanaka",
        "--note",
        "phoned the clinic: wrong 宛名番号 on the form",
    )
    assert code == 0, err
    assert out.strip() == f"review item {ids[1]} accepted by tanaka; applied on the next run of clinic"
    code, _, err = vaxreg(
        capsys, db_url, "review", "reject", str(ids[2]), "--by", "suzuki", "--note", "not ours"
    )
    assert code == 0, err

    # Errors: exit 1, one line, no traceback, no personal data.
    for args, expected in (
        (("accept", str(ids[1]), "--atena-no", P1), f"vaxreg: review item {ids[1]} is accepted, not open"),
        (("reject", str(ids[2])), f"vaxreg: review item {ids[2]} is rejected, not open"),
        (("accept", "999999", "--atena-no", P1), "vaxreg: no review item 999999"),
        (("show", "999999"), "vaxreg: no review item 999999"),
        (
            ("accept", str(ids[3]), "--atena-no", "0999999999"),
            "vaxreg: the given atena_no names no person in the registry",
        ),
        (("accept", str(ids[3]), "--atena-no", "12"), "vaxreg: atena_no must be 10 digits"),
    ):
        code, out, err = vaxreg(capsys, db_url, "review", *args)
        assert (code, err.strip().splitlines()) == (1, [expected]), (args, err)
        assert "Traceback" not in err and "ｽｽﾞｷ" not in err
    for args in (("accept", "x", "--atena-no", P1), ("accept", str(ids[3])), ("frobnicate",)):
        assert vaxreg(capsys, db_url, "review", *args)[0] == 2

    # Audit (P4): who, why, which person; nothing else changed by a failed attempt.
    audit = rows(
        db_url,
        "SELECT dag_id, task_id, host, purpose, atena_no, fields_changed, detail FROM audit_log "
        "WHERE table_name = 'review_items' AND action = 'update' ORDER BY id",
    )
    assert [(a[1], a[4]) for a in audit] == [("review accept", P4), ("review reject", None)]
    acc, rej = (json.loads(a[6]) for a in audit)
    assert (acc["by"], acc["decision"], acc["item"], acc["note"]) == (
        "tanaka",
        "accepted",
        ids[1],
        "phoned the clinic: wrong 宛名番号 on the form",
    )
    assert (rej["by"], rej["decision"], rej["note"]) == ("suzuki", "rejected", "not ours")
    assert all(a[0] == "cli" and a[2] and a[3] == review.PURPOSE for a in audit)
    assert "resolved_by" in audit[0][5]
    state = rows(
        db_url,
        "SELECT row_no, status, resolved_by, resolved_atena_no, resolution_note, applied_manifest_id "
        "FROM review_items ORDER BY row_no",
    )
    assert [s[:4] for s in state] == [
        (1, "accepted", "tanaka", P4),
        (2, "rejected", "suzuki", None),
        (3, "open", None, None),
    ]
    assert rows(db_url, f"SELECT COUNT(*) FROM doses WHERE atena_no = '{P4}'") == [(0,)]

    # The next run, no new file: the accepted item becomes P4's dose.
    [s] = run(capsys, db_url, "clinic", clinic_root)
    assert s["file"].startswith("review-resolutions/cli__2026-06-01__") and s["file"].endswith(
        "/ISHIKAI_202603.csv"
    )
    assert (s["status"], s["rows"], s["accepted"], s["quarantined"], s["review"], s["duplicates"]) == (
        "applied",
        1,
        1,
        0,
        0,
        0,
    )
    [(atena, vaccine, row_no, decided_by, mid)] = rows(
        db_url,
        f"SELECT atena_no, vaccine_code, row_no, decided_by, manifest_id FROM doses WHERE atena_no = '{P4}'",
    )
    assert (atena, vaccine, row_no) == (P4, "06", 1)
    assert f"review_item={ids[1]} resolved_by=tanaka" in decided_by and "review decision" in decided_by
    manifest = rows(
        db_url,
        "SELECT feed, file_name, status, rows_read, accepted, quarantined, review, duplicates "
        f"FROM ingest_manifest WHERE id = {mid}",
    )
    assert manifest == [("clinic", s["file"], "applied", 1, 1, 0, 0, 0)]
    state = rows(
        db_url,
        "SELECT row_no, status, applied_manifest_id, applied_at IS NOT NULL FROM review_items "
        "ORDER BY row_no",
    )
    assert state == [(1, "applied", mid, True), (2, "rejected", None, False), (3, "open", None, False)]
    fee = rows(
        db_url, f"SELECT file_name, row_no, kind, payment_month FROM fee_details WHERE manifest_id = {mid}"
    )
    # FEES_202604 (ISHIKAI_202603's statement) is out: the late fee waits for the next statement,
    # which is published with the next regular file, not on its own.
    assert fee == [(s["file"], 1, "dose", "202605")]
    assert rows(db_url, "SELECT payment_month FROM fee_statements") == [("202604",)]
    applied_audit = rows(
        db_url,
        "SELECT atena_no, fields_changed FROM audit_log WHERE table_name = 'review_items' "
        "AND fields_changed LIKE 'status,applied%%'",
    )
    assert applied_audit == [(P4, "status,applied_at,applied_manifest_id")]

    # A third run changes nothing; an applied item cannot be resolved again.
    before = rows(db_url, "SELECT COUNT(*) FROM doses"), rows(db_url, "SELECT COUNT(*) FROM ingest_manifest")
    assert run(capsys, db_url, "clinic", clinic_root) == []
    assert (
        rows(db_url, "SELECT COUNT(*) FROM doses"),
        rows(db_url, "SELECT COUNT(*) FROM ingest_manifest"),
    ) == before
    code, _, err = vaxreg(capsys, db_url, "review", "accept", str(ids[1]), "--atena-no", P1)
    assert (code, err.strip()) == (1, f"vaxreg: review item {ids[1]} is applied, not open")

    # The next regular file's statement (FEES_202605) carries the late fee beside its own.
    flu = rec(P3, "ﾊﾔｼ ﾚﾝ", "S320131", "1", "21", "00", "1", "R080418")
    deliver(Path(clinic_root.removeprefix("file://")), "ISHIKAI_202604.csv", clinic_csv([flu]), feed="clinic")
    run(capsys, db_url, "clinic", clinic_root)
    assert rows(db_url, "SELECT payment_month, records FROM fee_statements ORDER BY payment_month") == [
        ("202604", 1),  # row 4 of ISHIKAI_202603
        ("202605", 2),  # the late fee of row 1 and ISHIKAI_202604's flu shot
    ]

    # `vaxreg export review` (cli.md) still lists the open items only; the audit chain holds.
    code, out, _ = vaxreg(capsys, db_url, "export", "review")
    assert out.splitlines()[0] == "item_id,feed,file,row_no,candidates"
    assert [line.split(",")[3] for line in out.splitlines()[1:]] == ["3"]
    code, out, err = vaxreg(capsys, db_url, "audit", "verify")
    assert code == 0, err


def test_accepted_record_can_still_be_quarantined(
    clinic_root: str, feed_root: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A decision names the person; the person's state still rules: a dose after death is quarantined."""
    run(capsys, db_url, "clinic", clinic_root)
    ids = item_ids(db_url, "clinic")
    deliver(
        feed_root,
        "JUKI_DIFF_20260402.csv",
        resident_csv(
            [
                person(
                    P3,
                    name_kana="ハヤシ　レン",
                    birth_date="1957-01-31",
                    event_code="21",
                    event_date="2026-03-01",
                    removed_date="2026-03-01",
                )
            ]
        ),
    )
    run(capsys, db_url, "resident", clinic_root)
    assert rows(db_url, f"SELECT status FROM persons WHERE atena_no = '{P3}'") == [("deceased",)]
    assert vaxreg(capsys, db_url, "review", "accept", str(ids[3]), "--atena-no", P3, "--by", "ito")[0] == 0
    [s] = run(capsys, db_url, "clinic", clinic_root)
    assert (s["rows"], s["accepted"], s["quarantined"]) == (1, 0, 1)
    assert rows(db_url, f"SELECT row_no, reasons FROM quarantine WHERE file_name = '{s['file']}'") == [
        (3, "dose_after_death")
    ]
    assert rows(db_url, f"SELECT status FROM review_items WHERE id = {ids[3]}") == [("applied",)]


def test_vrs_row_in_review_accepted_attaches_its_doses(
    feed_root: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    p = ("1000000001", "1000000002")
    v = ("5000000001", "5000000002")
    deliver(
        feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person(a, birth_date="1950-01-01") for a in p])
    )
    source = f"file://{feed_root}"
    run(capsys, db_url, "resident", source)
    deliver(
        feed_root,
        "VRS_SUBJECTS_20260401.csv",
        subjects_csv([(x, a, "19500101") for x, a in zip(v, p, strict=True)]),
        feed="vrs",
    )
    data = records_csv(
        [
            ("", [dose("20210611", v[0]), dose("20210709", v[1], lot="FB0002")]),  # vouchers of two persons
            (p[0], [dose("20210611", v[0])]),  # attached at once
            ("", [dose("20210611", v[0]), dose("20200101", v[1])]),  # two persons; dose 2 before the campaign
        ]
    )
    deliver(feed_root, "VRS_RECORDS_20260401.csv", data, feed="vrs")
    out = run(capsys, db_url, "vrs", source)
    assert [(s["file"], s["accepted"], s["review"]) for s in out] == [
        ("VRS_SUBJECTS_20260401.csv", 2, 0),
        ("VRS_RECORDS_20260401.csv", 1, 4),
    ]
    ids = item_ids(db_url, "vrs")
    assert rows(db_url, f"SELECT reasons, candidates FROM review_items WHERE id = {ids[1]}") == [
        ("vouchers_disagree", f"{p[0]};{p[1]}")
    ]
    assert vaxreg(capsys, db_url, "review", "accept", str(ids[1]), "--atena-no", p[1], "--by", "sato")[0] == 0
    assert vaxreg(capsys, db_url, "review", "accept", str(ids[3]), "--atena-no", p[1], "--by", "sato")[0] == 0

    [s] = run(capsys, db_url, "vrs", source)
    assert s["file"].endswith("/VRS_RECORDS_20260401.csv")
    # Doses are the unit: item 1's two, item 3's two (its dose 1 repeats item 1's; dose 2 is invalid).
    assert (s["rows"], s["accepted"], s["quarantined"], s["review"], s["duplicates"]) == (4, 2, 1, 0, 1)
    doses = rows(
        db_url,
        "SELECT dose_no, CAST(dose_date AS TEXT), lot_no, row_no, decided_by FROM doses "
        f"WHERE atena_no = '{p[1]}' ORDER BY dose_no",
    )
    assert [d[:4] for d in doses] == [(1, "2021-06-11", "FA0001", 1), (2, "2021-07-09", "FB0002", 1)]
    assert f"review_item={ids[1]} resolved_by=sato" in doses[0][4]
    details = rows(
        db_url, f"SELECT COUNT(*) FROM vrs_dose_details WHERE manifest_id = {int(_mid(db_url, s))}"
    )
    assert details == [(2,)]
    assert rows(db_url, "SELECT status FROM review_items WHERE feed = 'vrs' ORDER BY row_no") == [
        ("applied",),
        ("applied",),
    ]
    assert rows(db_url, f"SELECT row_no, reasons FROM quarantine WHERE file_name = '{s['file']}'") == [
        (3, "2回目:dose_date_before_campaign")
    ]
    assert run(capsys, db_url, "vrs", source) == []  # idempotent


def _mid(db_url: str, summary: dict) -> int:
    [(mid,)] = rows(db_url, f"SELECT id FROM ingest_manifest WHERE file_name = '{summary['file']}'")
    return int(mid)


def test_resolutions_are_applied_once_when_runs_race(
    clinic_root: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second application of the same accepted items (a run that read them before another applied
    them) claims fewer items than it read and rolls back whole."""
    run(capsys, db_url, "clinic", clinic_root)
    ids = item_ids(db_url, "clinic")
    assert vaxreg(capsys, db_url, "review", "accept", str(ids[1]), "--atena-no", P4, "--by", "t")[0] == 0
    actor = pipeline.make_actor("clinic", run_id="race-a")
    with db.transaction(db_url) as conn:
        stale = conn.exec_driver_sql("SELECT id FROM review_items WHERE status = 'accepted'").fetchall()
        [done] = resolutions.apply_resolutions(conn, "clinic", actor)
    assert done.items == [ids[1]] and len(stale) == 1
    # Put the item back to 'accepted' in a transaction that also holds the stale reader's view.
    with pytest.raises(review.ReviewConflict), db.transaction(db_url) as conn:
        conn.exec_driver_sql(f"UPDATE review_items SET status = 'accepted' WHERE id = {ids[2]}")
        conn.exec_driver_sql(f"UPDATE review_items SET resolved_atena_no = '{P1}' WHERE id = {ids[2]}")
        resolutions._apply_group(  # the group as the stale run read it: item 1 (already applied) and item 2
            conn,
            "clinic",
            "ISHIKAI_202603.csv",
            _group(conn, [ids[1], ids[2]]),
            pipeline.make_actor("clinic", run_id="race-b"),
        )
    assert rows(db_url, "SELECT COUNT(*) FROM ingest_manifest WHERE run_id = 'race-b'") == [(0,)]
    assert rows(db_url, f"SELECT COUNT(*) FROM doses WHERE atena_no = '{P4}'") == [(1,)]


def _group(conn, ids: list[int]):  # type: ignore[no-untyped-def]
    import pandas as pd

    cols = ["id", "file_name", "manifest_id", "row_no", "raw_row", "resolved_atena_no", "resolved_by"]
    got = conn.exec_driver_sql(
        f"SELECT {', '.join(cols)} FROM review_items WHERE id IN ({', '.join(map(str, ids))}) ORDER BY row_no"
    ).fetchall()
    return pd.DataFrame([tuple(r) for r in got], columns=cols)


@pytest.mark.airflow
def test_dag_load_task_applies_resolutions_without_a_new_file(
    monkeypatch: pytest.MonkeyPatch,
    feed_root: Path,
    sftp_server,  # type: ignore[no-untyped-def]
    db_url: str,
    airflow_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The DAG's load task calls what `vaxreg run` calls: a run with no new file applies the
    accepted items, over the real SFTP server."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    from helpers.paths import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).get_dag("clinic_records")
    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_SOURCE_URL", sftp_server.url(feed_root))
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv([person(P4, name_kana="イトウ　サクラ", birth_date="2024-02-02", sex="2")]),
    )
    actor = pipeline.make_actor("resident", run_id="dag-test")
    pipeline.report(pipeline.run_feed("resident", actor, source_url=f"file://{feed_root}", db_url=db_url))
    deliver(
        feed_root,
        "ISHIKAI_202603.csv",
        clinic_csv([rec("", "ｽｽﾞｷ ｲﾁﾛｳ", "S450101", "1", "21", "00", "1", "R080318")]),
        feed="clinic",
    )
    day = pendulum.parse("2026-04-05T03:00", tz="Asia/Tokyo")
    assert dag.test(logical_date=day).state == "success"
    [item] = item_ids(db_url, "clinic").values()
    assert vaxreg(capsys, db_url, "review", "accept", str(item), "--atena-no", P4, "--by", "kato")[0] == 0
    assert dag.test(logical_date=day.add(days=1)).state == "success"
    assert rows(db_url, f"SELECT status FROM review_items WHERE id = {item}") == [("applied",)]
    [(decided_by,)] = rows(db_url, f"SELECT decided_by FROM doses WHERE atena_no = '{P4}'")
    assert decided_by.startswith("clinic_records/") and f"review_item={item} resolved_by=kato" in decided_by
    [(name, run_id)] = rows(
        db_url, "SELECT file_name, run_id FROM ingest_manifest WHERE file_name LIKE 'review-resolutions/%%'"
    )
    assert name == f"review-resolutions/{run_id}/ISHIKAI_202603.csv"


def test_vrs_subject_in_review_accepted_attaches_the_voucher(
    feed_root: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A subjects row whose 宛名番号 names someone else goes to review; accepted, the next run
    attaches the voucher (subjects resolutions before records ones), and records by that voucher
    then resolve to the person decided."""
    q = ("1100000001", "1100000002")
    w = "5100000001"
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv(
            [
                person(q[0], name_kana="サイトウ　ヨウコ", birth_date="1975-07-26", sex="2"),
                person(q[1], name_kana="ヤマダ　ハナコ", birth_date="1980-01-05", sex="2"),
            ]
        ),
    )
    source = f"file://{feed_root}"
    run(capsys, db_url, "resident", source)
    # Run 1: a record by voucher w, which no subject holds yet → review (voucher_unknown).
    deliver(feed_root, "VRS_RECORDS_20260401.csv", records_csv([("", [dose("20210611", w)])]), feed="vrs")
    [r1] = run(capsys, db_url, "vrs", source)
    assert (r1["rows"], r1["review"]) == (1, 1)
    # Run 2: the subject of w: q[0]'s 宛名番号, a name and birth date that are not hers → review.
    subjects = subjects_csv([(w, q[0], "19900303", "ナカムラ　ミキ", "2")])
    deliver(feed_root, "VRS_SUBJECTS_20260402.csv", subjects, feed="vrs")
    [s2] = run(capsys, db_url, "vrs", source)
    assert (s2["rows"], s2["accepted"], s2["quarantined"], s2["review"], s2["duplicates"]) == (1, 0, 0, 1, 0)
    assert rows(db_url, "SELECT COUNT(*) FROM vrs_subjects") == [(0,)]
    [(subject_item, reasons, candidates)] = rows(
        db_url,
        "SELECT id, reasons, candidates FROM review_items WHERE file_name = 'VRS_SUBJECTS_20260402.csv'",
    )
    assert reasons.startswith("atena_no_disagrees;") and q[0] in candidates.split(";")
    code, out, _ = vaxreg(capsys, db_url, "review", "show", str(subject_item), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["received"]["name_kana"] == "ナカムラ　ミキ"
    assert shown["candidates"][0]["atena_no"] == q[0] and shown["candidates"][0]["weight"] is not None
    # The reviewer finds the holder is q[1] (registered under a former name); the record item too.
    [(record_item,)] = rows(
        db_url, "SELECT id FROM review_items WHERE file_name = 'VRS_RECORDS_20260401.csv'"
    )
    for item in (subject_item, record_item):
        assert (
            vaxreg(capsys, db_url, "review", "accept", str(item), "--atena-no", q[1], "--by", "sato")[0] == 0
        )

    # Run 3: the resolutions (subjects first), then a new records file using voucher w.
    deliver(
        feed_root,
        "VRS_RECORDS_20260403.csv",
        records_csv([("", [dose("20210611", w), dose("20210709", w)])]),
        feed="vrs",
    )
    out3 = run(capsys, db_url, "vrs", source)
    assert [(o["file"].rsplit("/", 1)[-1], o["rows"], o["accepted"], o["duplicates"]) for o in out3] == [
        ("VRS_SUBJECTS_20260402.csv", 1, 1, 0),
        ("VRS_RECORDS_20260401.csv", 1, 1, 0),
        ("VRS_RECORDS_20260403.csv", 2, 1, 1),  # dose 1 is the one just applied from review
    ]
    for o in out3:
        assert o["rows"] == o["accepted"] + o["quarantined"] + o["review"] + o["duplicates"]
    [(holder, kana, decided_by, version)] = rows(
        db_url, f"SELECT atena_no, name_kana, decided_by, version FROM vrs_subjects WHERE voucher_no = '{w}'"
    )
    assert (holder, kana, version) == (q[1], "ナカムラ　ミキ", 1)
    assert "(review decision)" in decided_by and f"review_item={subject_item} resolved_by=sato" in decided_by
    assert rows(db_url, "SELECT atena_no, dose_no, CAST(dose_date AS TEXT) FROM doses ORDER BY dose_no") == [
        (q[1], 1, "2021-06-11"),
        (q[1], 2, "2021-07-09"),
    ]
    assert rows(db_url, "SELECT status FROM review_items ORDER BY id") == [("applied",), ("applied",)]
    # Run 4: nothing to apply. The same subject sent again: the decision stands (a duplicate).
    assert run(capsys, db_url, "vrs", source) == []
    deliver(feed_root, "VRS_SUBJECTS_20260404.csv", subjects + b"\r\n", feed="vrs")
    [s5] = run(capsys, db_url, "vrs", source)
    assert (s5["rows"], s5["accepted"], s5["review"], s5["duplicates"]) == (1, 0, 0, 1)
    assert rows(db_url, "SELECT COUNT(*) FROM review_items") == [(2,)]
    code, _, err = vaxreg(capsys, db_url, "audit", "verify")
    assert code == 0, err


def test_subject_decided_for_a_purged_person_is_quarantined(
    feed_root: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A decision names a person who is no longer in the registry when applied: quarantined."""
    from vaxreg.feeds import vrs_subjects
    from vaxreg.registry import ledger

    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person(P1, birth_date="1950-01-01")]))
    run(capsys, db_url, "resident", f"file://{feed_root}")
    staged, decided = resolutions.restage(
        feeds.get("vrs").kind_for("VRS_SUBJECTS_20260401.csv"),
        "VRS_SUBJECTS_20260401.csv",
        pd.DataFrame(
            {
                "raw_row": [
                    json.dumps(
                        {
                            "municipality_code": "131032",
                            "voucher": v,
                            "atena_no": P1,
                            "name_kana": "ベツジン　ハナコ",
                            "birth_date": "19800101",
                            "sex": "2",
                        }
                    )
                    for v in ("5200000001", "5200000002")
                ],
                "row_no": [1, 2],
                "resolved_atena_no": [P1, P2],  # P2 is not in the registry
            }
        ),
    )
    actor = pipeline.make_actor("vrs", run_id="purged")
    with db.transaction(db_url) as conn:
        mid = ledger.record_file(
            conn, feed="vrs", file_name="x/VRS_SUBJECTS_20260401.csv", sha256="0" * 64, size=0,
            status="applied", actor=actor,
        )  # fmt: skip
        out = vrs_subjects.apply_subjects(
            conn, staged, manifest_id=mid, file_name="x", rejected=[], actor=actor, decided_atena=decided
        )
    assert (out.rows_read, out.accepted, out.quarantined, out.review) == (2, 1, 1, 0)
    assert rows(db_url, "SELECT voucher_no, atena_no FROM vrs_subjects") == [("5200000001", P1)]
    assert rows(db_url, "SELECT row_no, reasons FROM quarantine") == [(2, "decided_person_unknown")]
