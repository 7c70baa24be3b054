"""Clinic and other-ward records (feeds.md §4, §5) through the real pipeline, on SQLite and PostgreSQL:
CP932 with per-row `encoding` quarantine, wareki, reconciliation to review, duplicates, corrections
with history, the schedule outcome, fees and their outbound statement, exactly-once."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from vaxreg import cli, pipeline

from helpers.clinic import CLINIC, HEADER, A, clinic_csv, rec, registry
from helpers.db import rows, run
from helpers.paths import SAMPLES
from helpers.resident import deliver, person, resident_csv


@pytest.fixture
def residents(feed_root: Path, db_url: str) -> str:
    """Three residents in the registry; returns the source URL."""
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv(
            [
                person("0000000001", name_kana="タカハシ　レン", birth_date="2026-01-05", sex="1"),
                person("0000000002", name_kana="サイトウ　ヨウコ", birth_date="2025-07-26", sex="2"),
                person("0000000003", name_kana="ハヤシ　レン", birth_date="1957-01-31", sex="1"),
            ]
        ),
    )
    source = f"file://{feed_root}"
    run("resident", source, db_url)
    return source


def test_clinic_file_end_to_end(feed_root: Path, residents: str, db_url: str) -> None:
    good = [
        rec(*A, "06", "11", "1", "R080313"),  # 1 on schedule
        rec(*A, "02", "11", "1", "R080313"),  # 2 on schedule
        rec(*A, "06", "11", "1", "R080313"),  # 3 exact duplicate of row 1
        rec(*A, "03", "00", "1", "R080313"),  # 4 (bytes broken below)
        rec(*A, "04", "00", "1", "R050230"),  # 5 not a calendar date
        # 6 the 宛名番号 of another person, and demographics no one in the registry has
        rec("0000000002", "ﾔﾏﾀﾞ ﾊﾅｺ", "R080105", "2", "01", "11", "1", "R080313"),
        rec("", "ﾀｶﾊｼ ﾚﾝ", "H200105", "1", "04", "00", "1", "R080301"),  # 7 no atena_no, birth far off
        rec(*A, "01", "11", "1", "R080313", 予診のみ="1", ロット番号=""),  # 8 予診のみ
        rec(*A, "01", "11", "2", "R080314"),  # 9 off schedule: 10 days after dose 1 (row 11)
        rec("0000000001", "ﾀｶﾊｼ ﾚﾝ", "H310501", "1", "01", "11", "1", "R080313"),  # 10 outside the era
        rec(*A, "01", "11", "1", "R080304"),  # 11 the day before 2 months: off schedule
        rec(*A, "99", "11", "1", "R080313"),  # 12 unknown vaccine code
        rec(
            "0000000003", "ﾊﾔｼ ﾚﾝ", "S320131", "1", "21", "00", "1", "R080318", 自己負担区分="1"
        ),  # 13 B class
        rec(*A, "09", "00", "1", "R080501"),  # 14 after the file month
    ]
    data = clinic_csv(good)
    lines = data.split(b"\r\n")
    lines[4] = lines[4].replace("ﾀｶﾊｼ".encode("cp932"), b"\x82\xff\xfd")  # row 4: undecodable bytes
    deliver(feed_root, "ISHIKAI_202603.csv", b"\r\n".join(lines), feed="clinic")

    [s] = run("clinic", residents, db_url)
    assert s["rows"] == 14 == s["accepted"] + s["quarantined"] + s["review"] + s["duplicates"]
    assert (s["accepted"], s["quarantined"], s["review"], s["duplicates"]) == (6, 5, 2, 1)
    reg = registry(db_url)
    assert reg["quarantine"] == [
        ("ISHIKAI_202603.csv", 10, "birth_date_invalid"),
        ("ISHIKAI_202603.csv", 12, "vaccine_code_unknown"),
        ("ISHIKAI_202603.csv", 14, "dose_date_after_file_month"),
        ("ISHIKAI_202603.csv", 4, "encoding"),
        ("ISHIKAI_202603.csv", 5, "dose_date_invalid"),
    ]
    assert reg["review"] == [
        ("ISHIKAI_202603.csv", 6, "atena_no_disagrees;below_threshold", "0000000002;0000000001"),
        ("ISHIKAI_202603.csv", 7, "atena_no_missing;below_threshold", "0000000001"),
    ]
    doses = {(d[1], d[2], d[3], d[4]): d[6] for d in reg["doses"]}
    assert doses == {
        ("06", "11", 1, "2026-03-13"): None,
        ("02", "11", 1, "2026-03-13"): None,
        ("01", "11", 2, "2026-03-14"): "interval_too_short",  # 10 days after row 11's dose 1
        ("01", "11", 1, "2026-03-04"): "outside_age_window",
        ("21", "00", 1, "2026-03-18"): None,
    }
    assert reg["prelim"] == [("0000000001", "01", "2026-03-13")]
    fees = {r[1]: (r[2], r[3]) for r in reg["fees"]}
    assert fees[11] == ("dose", 0)  # off schedule: nothing until resolved
    assert fees[8][0] == "preliminary" and fees[8][1] > 0
    assert fees[13][1] > 0 and set(fees) == {1, 2, 8, 9, 11, 13}

    # FEES_202604.csv (payment month after the file month) and its detail, with markers.
    inbox = feed_root / "inbox" / "fees"
    summary = list(csv.DictReader((inbox / "FEES_202604.csv").open(encoding="utf-8")))
    assert [r["institution_code"] for r in summary] == [CLINIC]
    assert fees[9] == ("dose", 0)
    assert int(summary[0]["count"]) == 4
    assert int(summary[0]["amount"]) == sum(v[1] for v in fees.values())
    assert (inbox / "FEES_202604.csv.done").exists() and (inbox / "FEES_202604_DETAIL.csv.done").exists()
    detail = (inbox / "FEES_202604_DETAIL.csv").read_text(encoding="utf-8")
    assert "ﾀｶﾊｼ" not in detail and "0000000001" not in detail  # no names, no atena_no out

    # Exactly once: the same file again, and the same bytes under another name, change nothing.
    assert run("clinic", residents, db_url) == []
    shutil.copy(
        feed_root / "outbox/clinic/ISHIKAI_202603.csv", feed_root / "outbox/clinic/ISHIKAI_202604.csv"
    )
    shutil.copy(
        feed_root / "outbox/clinic/ISHIKAI_202603.csv.done",
        feed_root / "outbox/clinic/ISHIKAI_202604.csv.done",
    )
    [again] = run("clinic", residents, db_url)
    assert (again["status"], again["duplicates"], again["rows"]) == ("duplicate", 14, 14)
    after = registry(db_url)
    assert {k: v for k, v in after.items() if k != "manifest"} == {
        k: v for k, v in reg.items() if k != "manifest"
    }


def test_duplicates_and_corrections_across_files(feed_root: Path, residents: str, db_url: str) -> None:
    deliver(feed_root, "ISHIKAI_202603.csv", clinic_csv([rec(*A, "06", "11", "1", "R080313")]), feed="clinic")
    run("clinic", residents, db_url)
    # April: the same dose again (duplicate), the same dose with another lot (correction), a new dose.
    deliver(
        feed_root,
        "ISHIKAI_202604.csv",
        clinic_csv(
            [
                rec(*A, "06", "11", "1", "R080313"),
                rec(*A, "06", "11", "1", "R080313", ロット番号="L2"),
                rec(*A, "06", "11", "2", "R080410"),
            ]
        ),
        feed="clinic",
    )
    [s] = run("clinic", residents, db_url)
    # Rows 1 and 2 are two versions of one dose in one file: both quarantined, nothing guessed.
    assert (s["accepted"], s["quarantined"], s["duplicates"]) == (1, 2, 0)
    deliver(
        feed_root,
        "ISHIKAI_202605.csv",
        clinic_csv(
            [rec(*A, "06", "11", "1", "R080313"), rec(*A, "06", "11", "2", "R080410", ロット番号="L9")]
        ),
        feed="clinic",
    )
    [s] = run("clinic", residents, db_url)
    assert (s["accepted"], s["quarantined"], s["duplicates"]) == (1, 0, 1)
    reg = registry(db_url)
    assert [(d[3], d[5], d[7]) for d in sorted(reg["doses"], key=lambda d: d[3])] == [
        (1, "L1", 1),
        (2, "L9", 2),
    ]
    assert reg["history"] == [("0000000001", "06", "L1", 1)]
    # A correction is not paid twice.
    assert [f for f in reg["fees"] if f[0] == "ISHIKAI_202605.csv"] == []
    audit = rows(
        db_url, "SELECT action, fields_changed FROM audit_log WHERE table_name = 'doses' ORDER BY id"
    )
    assert audit[-1] == ("update", "lot_no")


def test_refused_files_change_nothing(feed_root: Path, residents: str, db_url: str) -> None:
    before = registry(db_url)
    bad_header = clinic_csv([rec(*A, "06", "11", "1", "R080313")]).replace("接種日".encode("cp932"), b"date")
    deliver(feed_root, "ISHIKAI_202603.csv", bad_header, feed="clinic")
    with pytest.raises(pipeline.FeedRefused, match="missing column"):
        run("clinic", residents, db_url)
    ow = [rec("", *A[1:], "21", "00", "1", "R080318", 接種地コード="131075")]
    deliver(feed_root, "TAKU_202603_131032.csv", clinic_csv(ow), feed="otherward")  # our own code
    with pytest.raises(pipeline.FeedRefused, match="our own municipality"):
        run("otherward", residents, db_url)
    after = registry(db_url)
    assert {k: v for k, v in after.items() if k != "manifest"} == {
        k: v for k, v in before.items() if k != "manifest"
    }
    assert {r[2] for r in after["manifest"]} == {"refused"}


def test_otherward_ward_code_and_address(feed_root: Path, residents: str, db_url: str) -> None:
    header = [*HEADER, "住所"]
    ow = [
        rec(
            "",
            "ﾊﾔｼ ﾚﾝ",
            "S320131",
            "1",
            "21",
            "00",
            "1",
            "R080318",
            接種地コード="131075",
            住所="東京都港区芝1丁目1番1号",
        ),
        rec("", "ｲﾄｳ ｺｳｼﾞ", "S350117", "1", "21", "00", "1", "R080303", 接種地コード="131083", 住所=""),
        rec(
            "0000000003", "ﾊﾔｼ ﾚﾝ", "S320131", "1", "22", "00", "1", "R080303", 接種地コード="131075", 住所=""
        ),
    ]
    deliver(feed_root, "TAKU_202603_131075.csv", clinic_csv(ow, header), feed="otherward")
    [s] = run("otherward", residents, db_url)
    assert (s["rows"], s["accepted"], s["quarantined"], s["review"]) == (3, 2, 1, 0)
    reg = registry(db_url)
    assert reg["quarantine"] == [("TAKU_202603_131075.csv", 2, "place_code_not_file_ward")]
    assert reg["review"] == []
    # Row 1 has no 宛名番号: the matcher found the one person with that name, birth date and sex,
    # and says so in the dose's provenance and the audit log (privacy.md P5).
    [(person, decided_by)] = rows(db_url, "SELECT atena_no, decided_by FROM doses WHERE row_no = 1")
    assert person == "0000000003" and decided_by.endswith("(match weight " + decided_by.split()[-1])
    [(atena, detail)] = rows(
        db_url,
        "SELECT atena_no, detail FROM audit_log WHERE table_name = 'doses' AND detail LIKE '%%row=1 %%'",
    )
    assert atena == "0000000003" and " match=match weight " in detail


def test_shared_samples_add_up(feed_root: Path, db_url: str) -> None:
    """The real CP932 sample bytes: every file applies and its counts add up."""
    shutil.rmtree(feed_root / "outbox")
    shutil.copytree(SAMPLES, feed_root / "outbox")
    source = f"file://{feed_root}"
    run("resident", source, db_url)
    got = run("clinic", source, db_url) + run("otherward", source, db_url)
    assert len(got) == 34  # 33 monthly clinic files and one other-ward file
    for s in got:
        assert s["status"] == "applied"
        assert s["rows"] == s["accepted"] + s["quarantined"] + s["review"] + s["duplicates"], s
    assert sum(s["accepted"] for s in got) > 50


def test_cli_run_and_exports(
    feed_root: Path, residents: str, db_url: str, capsys: pytest.CaptureFixture
) -> None:
    deliver(
        feed_root,
        "ISHIKAI_202603.csv",
        clinic_csv(
            [rec(*A, "06", "11", "1", "R080313"), rec("", A[1], "H200105", "1", "02", "11", "1", "R080313")]
        ),
        feed="clinic",
    )
    assert cli.main(["--database-url", db_url, "run", "clinic", "--source", residents]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert {k: line[k] for k in ("file", "rows", "accepted", "quarantined", "review", "duplicates")} == {
        "file": "ISHIKAI_202603.csv",
        "rows": 2,
        "accepted": 1,
        "quarantined": 0,
        "review": 1,
        "duplicates": 0,
    }
    assert cli.main(["--database-url", db_url, "export", "doses"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "atena_no,vaccine_code,phase,dose_no,dose_date,source,off_schedule",
        "0000000001,06,11,1,2026-03-13,clinic,",
    ]
    assert cli.main(["--database-url", db_url, "export", "review"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "item_id,feed,file,row_no,candidates"
    assert out[1].split(",")[1:] == ["clinic", "ISHIKAI_202603.csv", "2", "0000000001"]
    (feed_root / "outbox" / "otherward").mkdir()  # the feed's folder, empty: nothing to do, exit 0
    assert cli.main(["--database-url", db_url, "run", "otherward", "--source", residents]) == 0
    assert capsys.readouterr().out == ""
    exports = rows(db_url, "SELECT table_name FROM audit_log WHERE action = 'export'")
    assert ("doses",) in exports and ("review",) in exports
