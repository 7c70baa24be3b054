"""VRS subjects and records (vrs.md) through the real pipeline on SQLite and PostgreSQL: the wide
layout for 1 and 7 dose groups, gaps refused, mixed and 18-digit vouchers, person resolution and
review with doses intact, re-imports and corrections with history, VRS flags (feeds.md §7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaxreg import pipeline

from helpers.db import rows, run
from helpers.resident import deliver, person, resident_csv
from helpers.vrs import HOME, OTHER, dose, records_csv, subjects_csv

P = ("1000000001", "1000000002", "1000000003", "1000000004", "1000000005")
V = ("5000000001", "5000000002", "5000000003", "5000000004", "5000000005", "5000000006")


@pytest.fixture
def vrs_root(feed_root: Path, db_url: str) -> str:
    """Five residents, each holding our voucher V[i] (person 1 also V[5]); returns the source URL."""
    deliver(
        feed_root, "JUKI_DIFF_20260401.csv", resident_csv([person(a, birth_date="1950-01-01") for a in P])
    )
    source = f"file://{feed_root}"
    run("resident", source, db_url)
    subj = [(v, a, "19500101") for v, a in zip(V, P, strict=False)] + [(V[5], P[0], "19500101")]
    deliver(feed_root, "VRS_SUBJECTS_20260401.csv", subjects_csv(subj), feed="vrs")
    return source


def doses_of(db_url: str) -> list[tuple]:
    return rows(
        db_url,
        "SELECT atena_no, vaccine_code, phase, dose_no, CAST(dose_date AS TEXT), product_name, lot_no, "
        "source, version FROM doses ORDER BY atena_no, dose_no",
    )


def test_one_and_seven_dose_groups(feed_root: Path, vrs_root: str, db_url: str) -> None:
    deliver(
        feed_root, "VRS_RECORDS_20260401.csv", records_csv([(P[0], [dose("20210611", V[0])])]), feed="vrs"
    )
    days = ["20210611", "20210709", "20211210", "20220610", "20221201", "20230601", "20231101"]
    seven = [dose(d, V[1], lot=f"L{i}", maker="武田/モデルナ") for i, d in enumerate(days, 1)]
    deliver(feed_root, "VRS_RECORDS_20260402.csv", records_csv([("", seven)]), feed="vrs")
    out = run("vrs", vrs_root, db_url)
    assert [(s["file"], s["rows"], s["accepted"]) for s in out] == [
        ("VRS_SUBJECTS_20260401.csv", 6, 6),
        ("VRS_RECORDS_20260401.csv", 1, 1),
        ("VRS_RECORDS_20260402.csv", 7, 7),
    ]
    got = doses_of(db_url)
    assert got[0] == (P[0], "31", "00", 1, "2021-06-11", "ファイザー", "FA0001", "vrs", 1)
    assert [g[3:7] for g in got[1:]] == [
        (n, f"{d[:4]}-{d[4:6]}-{d[6:]}", "武田/モデルナ", f"L{n}") for n, d in enumerate(days, 1)
    ]
    details = rows(db_url, "SELECT voucher_no, voucher_municipality, venue, version FROM vrs_dose_details")
    assert len(details) == 8 and {d[0] for d in details} == {V[0], V[1]}


def test_gap_in_dose_groups_refuses_the_file(feed_root: Path, vrs_root: str, db_url: str) -> None:
    data = records_csv([(P[0], [dose("20210611", V[0]), [""] * 8, dose("20211210", V[0])])], skip=(2,))
    deliver(feed_root, "VRS_RECORDS_20260401.csv", data, feed="vrs")
    with pytest.raises(pipeline.FeedRefused, match=r"without gaps .*2回目"):
        run("vrs", vrs_root, db_url)
    assert doses_of(db_url) == []
    assert rows(
        db_url, "SELECT file_name, status FROM ingest_manifest WHERE feed = 'vrs' ORDER BY file_name"
    ) == [
        ("VRS_RECORDS_20260401.csv", "refused"),
        ("VRS_SUBJECTS_20260401.csv", "applied"),
    ]


def test_mixed_vouchers_resolution_and_review(feed_root: Path, vrs_root: str, db_url: str) -> None:
    line = lambda v, code=HOME: "11" + code + v  # noqa: E731 - the 18-digit voucher line
    data = records_csv(
        [
            # 1: no atena: another municipality's voucher, then ours (18-digit line) → P[1]
            ("", [dose("20210611", "7000000001", OTHER), dose("20210709", line(V[1]))]),
            # 2: atena given, the voucher is irrelevant → P[2]
            (P[2], [dose("20210611", "7000000002", OTHER)]),
            # 3: two of our vouchers of two persons → review, doses intact
            ("", [dose("20210611", V[3]), dose("20210709", V[4])]),
            # 4: only another municipality's voucher → review
            ("", [dose("20210611", "7000000003", OTHER)]),
            # 5: unknown atena → review
            ("1999999999", [dose("20210611", V[0])]),
            # 6: our voucher unknown to the subjects → review
            ("", [dose("20210611", "5999999999")]),
            # 7: P[0] by both of its vouchers; dose 2's 18-digit line names another municipality
            ("", [dose("20210611", V[0]), dose("20210709", line(V[5], OTHER)), dose("20211001", V[5])]),
            # 8: a dose before the campaign, one with a bad timestamp, one after the file date
            (
                P[3],
                [
                    dose("20210101", V[3]),
                    dose("20210611", V[3], registered="20210631101500"),
                    dose("20260501", V[3]),
                ],
            ),
            # 9: no dose at all
            (P[4], []),
        ],
        groups=3,
    )
    deliver(feed_root, "VRS_RECORDS_20260401.csv", data, feed="vrs")
    [_, s] = run("vrs", vrs_root, db_url)
    assert s["rows"] == 15 == s["accepted"] + s["quarantined"] + s["review"] + s["duplicates"]
    assert (s["accepted"], s["quarantined"], s["review"], s["duplicates"], s["file_rows"]) == (5, 5, 5, 0, 9)
    assert [(d[0], d[3], d[4]) for d in doses_of(db_url)] == [
        (P[0], 1, "2021-06-11"),
        (P[0], 3, "2021-10-01"),
        (P[1], 1, "2021-06-11"),
        (P[1], 2, "2021-07-09"),
        (P[2], 1, "2021-06-11"),
    ]
    review = rows(db_url, "SELECT row_no, reasons, candidates, raw_row FROM review_items ORDER BY row_no")
    assert [r[:3] for r in review] == [
        (3, "vouchers_disagree", f"{P[3]};{P[4]}"),
        (4, "no_atena_no_nor_own_voucher", ""),
        (5, "atena_no_unknown", ""),
        (6, "voucher_unknown", ""),
    ]
    intact = json.loads(review[0][3])["doses"]
    assert [(d["dose_no"], d["voucher"], d["lot_no"]) for d in intact] == [
        (1, V[3], "FA0001"),
        (2, V[4], "FA0001"),
    ]
    assert rows(db_url, "SELECT row_no, reasons FROM quarantine WHERE feed = 'vrs' ORDER BY row_no") == [
        (7, "2回目:voucher_municipality_mismatch"),
        (
            8,
            "1回目:dose_date_before_campaign;2回目:registered_at_invalid;3回目:dose_date_after_file_date,"
            "registered_at_after_file_date",
        ),
        (9, "no_doses"),
    ]

    # The summary (make demo, vaxreg stats) counts VRS doses and reviews under VRS, not under the
    # clinic and other-ward records.
    from vaxreg.outputs import exports
    from vaxreg.registry import db

    with db.transaction(db_url) as conn:
        summary = exports.summary(conn)
    v, w = summary["vaccinations"], summary["vrs_welfare"]
    assert (v["doses"], v["review_open"], v["corrections"]) == (0, 0, 0)  # type: ignore[index]
    assert w["vrs_doses"] > 0 and w["vrs_review_open"] > 0  # type: ignore[index,operator]


def test_reimport_adds_nothing_and_changes_are_corrections(
    feed_root: Path, vrs_root: str, db_url: str
) -> None:
    first = records_csv(
        [(P[0], [dose("20210611", V[0]), dose("20210709", V[0])]), ("", [dose("20210611", V[1])])]
    )
    deliver(feed_root, "VRS_RECORDS_20260401.csv", first, feed="vrs")
    run("vrs", vrs_root, db_url)
    before = doses_of(db_url)
    # The same bytes under a later name: a duplicate file, nothing changes.
    deliver(feed_root, "VRS_RECORDS_20260402.csv", first, feed="vrs")
    [s] = run("vrs", vrs_root, db_url)
    assert (s["status"], s["duplicates"], s["rows"]) == ("duplicate", 3, 3)
    # A later export repeating the doses, with dose 2's lot and date corrected, and dose 3 new.
    later = records_csv(
        [
            (P[0], [dose("20210611", V[0]), dose("20210710", V[0], lot="FA9999"), dose("20211201", V[0])]),
            ("", [dose("20210611", V[1])]),
        ]
    )
    deliver(feed_root, "VRS_RECORDS_20260501.csv", later, feed="vrs")
    [s] = run("vrs", vrs_root, db_url)
    assert (s["accepted"], s["duplicates"], s["rows"]) == (2, 2, 4)
    after = doses_of(db_url)
    assert after[1] == (P[0], "31", "00", 2, "2021-07-10", "ファイザー", "FA9999", "vrs", 2)
    assert len(after) == len(before) + 1
    assert rows(
        db_url, "SELECT atena_no, dose_no, CAST(dose_date AS TEXT), lot_no, version FROM dose_history"
    ) == [(P[0], 2, "2021-07-09", "FA0001", 1)]
    assert (
        rows(db_url, "SELECT COUNT(*) FROM vrs_dose_details")[0][0] == 5
    )  # 3 + the correction + the new dose
    # Once more: nothing new.
    deliver(feed_root, "VRS_RECORDS_20260502.csv", later + b"\r\n", feed="vrs")
    [s] = run("vrs", vrs_root, db_url)
    assert (s["accepted"], s["duplicates"]) == (0, 4)
    assert doses_of(db_url) == after


def test_subjects_vouchers_and_corrections(feed_root: Path, vrs_root: str, db_url: str) -> None:
    run("vrs", vrs_root, db_url)
    data = subjects_csv(
        [
            (V[0], P[0], "19500101"),  # duplicate
            ("11" + HOME + V[1], P[2], "19500101"),  # 18-digit line, now held by P[2]: a correction
            ("11" + OTHER + "5000000099", P[0], "19500101"),  # the line names another municipality
            # unknown person: matched like a record without 宛名番号; all five fit → review
            ("5000000098", "1999999999", "19500101"),
            ("500000009", P[0], "19500101"),  # 9 digits
        ]
    )
    deliver(feed_root, "VRS_SUBJECTS_20260501.csv", data, feed="vrs")
    [s] = run("vrs", vrs_root, db_url)
    assert (s["rows"], s["accepted"], s["quarantined"], s["review"], s["duplicates"]) == (5, 1, 2, 1, 1)
    assert rows(db_url, f"SELECT atena_no, version FROM vrs_subjects WHERE voucher_no = '{V[1]}'") == [
        (P[2], 2)
    ]
    assert rows(db_url, "SELECT voucher_no, atena_no, version FROM vrs_subject_history") == [(V[1], P[1], 1)]
    assert rows(db_url, "SELECT row_no, reasons FROM quarantine WHERE feed = 'vrs' ORDER BY row_no") == [
        (3, "voucher_format"),
        (5, "voucher_format"),
    ]
    [(row_no, reasons, candidates)] = rows(db_url, "SELECT row_no, reasons, candidates FROM review_items")
    assert (row_no, reasons) == (4, "atena_no_unknown;ambiguous") and set(candidates.split(";")) == set(P)


def test_vrs_flags_once_per_event_and_not_after_cancellation(
    feed_root: Path, vrs_root: str, db_url: str
) -> None:
    run("vrs", vrs_root, db_url)
    gone = [
        person(
            P[0], event_code="20", event_date="2026-04-10", removed_date="2026-04-10", birth_date="1950-01-01"
        ),
        person(
            P[1], event_code="21", event_date="2026-04-11", removed_date="2026-04-11", birth_date="1950-01-01"
        ),
        person(
            P[2], event_code="20", event_date="2026-04-12", removed_date="2026-04-12", birth_date="1950-01-01"
        ),
        person(P[2], event_code="40", event_date="2026-04-13", birth_date="1950-01-01"),
    ]
    deliver(feed_root, "JUKI_DIFF_20260413.csv", resident_csv(gone))
    run("resident", vrs_root, db_url)
    run("vrs", vrs_root, db_url, date="2026-04-14")
    inbox = feed_root / "inbox" / "vrs"
    text = (inbox / "VRS_FLAGS_20260414.csv").read_text()
    assert text.splitlines() == [
        "voucher_no,municipality_code,flag,date",
        f"{V[0]},{HOME},MOVED_OUT,2026-04-10",
        f"{V[1]},{HOME},DECEASED,2026-04-11",
        f"{V[5]},{HOME},MOVED_OUT,2026-04-10",
    ]
    assert (inbox / "VRS_FLAGS_20260414.csv.done").exists()
    # Again, the same day and the next: nothing new, no file.
    run("vrs", vrs_root, db_url, date="2026-04-14")
    run("vrs", vrs_root, db_url, date="2026-04-15")
    assert sorted(p.name for p in inbox.iterdir()) == [
        "VRS_FLAGS_20260414.csv",
        "VRS_FLAGS_20260414.csv.done",
    ]
    # A later move-out: only that one.
    deliver(
        feed_root,
        "JUKI_DIFF_20260420.csv",
        resident_csv(
            [
                person(
                    P[3],
                    event_code="23",
                    event_date="2026-04-20",
                    removed_date="2026-04-20",
                    birth_date="1950-01-01",
                )
            ]
        ),
    )
    run("resident", vrs_root, db_url)
    run("vrs", vrs_root, db_url, date="2026-04-21")
    assert (inbox / "VRS_FLAGS_20260421.csv").read_text().splitlines()[1:] == [
        f"{V[3]},{HOME},MOVED_OUT,2026-04-20"
    ]
    assert rows(db_url, "SELECT COUNT(*), COUNT(DISTINCT file_name) FROM vrs_flags") == [(4, 2)]


def test_shared_samples(feed_root: Path, db_url: str) -> None:
    import csv
    import io
    import shutil

    from helpers.paths import SAMPLES

    subj = list(
        csv.DictReader(io.StringIO((SAMPLES / "vrs" / "VRS_SUBJECTS_20260401.csv").read_text("utf-8-sig")))
    )
    people = [
        person(
            r["宛名番号"],
            name_kana=r["カナ氏名"],
            birth_date=f"{r['生年月日'][:4]}-{r['生年月日'][4:6]}-{r['生年月日'][6:]}",
            sex=r["性別"],
        )
        for r in subj
    ]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(people))
    source = f"file://{feed_root}"
    run("resident", source, db_url)
    shutil.copytree(SAMPLES / "vrs", feed_root / "outbox" / "vrs")
    out = run("vrs", source, db_url)
    assert [(s["file"], s["rows"], s["accepted"], s.get("file_rows")) for s in out] == [
        ("VRS_SUBJECTS_20260401.csv", 12, 12, 12),
        ("VRS_RECORDS_20260401.csv", 38, 38, 12),
    ]
    # Rows with another municipality's voucher follow the row's person (atena_no, or our vouchers).
    other = (
        "SELECT atena_no, dose_no FROM doses d JOIN vrs_dose_details v ON v.dose_id = d.id "
        "WHERE v.voucher_municipality <> '131032' ORDER BY atena_no"
    )
    assert rows(db_url, other) == [("0447712922", 1), ("0447713146", 1)]


def test_generated_files_match_their_truth(tmp_path: Path, feed_root: Path, db_url: str) -> None:
    """The generator's VRS and welfare files end exactly as its truth says."""
    from vaxreg_devtools.synth import synthesize

    synthesize(feed_root, persons=1500, seed=11, vrs_welfare=True)
    truth = json.loads((feed_root / "truth" / "vrs_welfare.json").read_text())
    source = f"file://{feed_root}"
    for _ in range(7):
        run("resident", source, db_url)
    got = {s["file"]: s for feed in ("welfare", "vrs") for s in run(feed, source, db_url)}
    for t in truth["vrs"] + truth["welfare"]:
        s = got[t["file"]]
        assert {k: s[k] for k in t} == t, t["file"]
    assert rows(db_url, "SELECT COUNT(*) FROM doses WHERE source = 'vrs'") == [(truth["vrs"][1]["accepted"],)]


# --------------------------------------------------------------------------- subjects matching

A = ("2000000001", "2000000002", "2000000003", "2000000004")
W = ("6000000001", "6000000002", "6000000003", "6000000004", "6000000005", "6000000006")


def test_subjects_are_matched_to_their_holders(feed_root: Path, db_url: str) -> None:
    """privacy.md §Matching on the subjects file: a 宛名番号 is taken only when the name (up to a
    typo), birth date and sex agree; otherwise the row is matched like one without it."""
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv(
            [
                person(A[0], name_kana="サイトウ　ヨウコ", birth_date="1975-07-26", sex="2"),
                person(A[1], name_kana="ヤマダ　ハナコ", birth_date="1980-01-05", sex="2"),
                person(A[2], name_kana="タカハシ　レン", birth_date="1957-01-31", sex="1"),
                person(A[3], name_kana="イトウ　サクラ", birth_date="1962-02-02", sex="2"),
            ]
        ),
    )
    source = f"file://{feed_root}"
    run("resident", source, db_url)
    data = subjects_csv(
        [
            # 1: A[0]'s 宛名番号, someone else's name and birth date, no one fits → review
            (W[0], A[0], "19900303", "ナカムラ　ミキ", "2"),
            # 2: half-width kana, birth and sex agree → A[2] (deterministic)
            (W[1], A[2], "19570131", "ﾀｶﾊｼ ﾚﾝ", "1"),
            # 3: one kana off, birth and sex agree → A[3] (deterministic)
            (W[2], A[3], "19620202", "イトウ　サクナ", "2"),
            # 4: A[0]'s 宛名番号 but exactly A[1]'s demographics → A[1] (probabilistic)
            (W[3], A[0], "19800105", "ヤマダ　ハナコ", "2"),
            # 5: one kana off and day digits swapped: not taken at once; matched, the 宛名番号
            # counting as evidence → A[3] (probabilistic)
            (W[4], A[3], "19620220", "イトウ　サクナ", "2"),
            # 6: a 宛名番号 of no one, and no one like this → review
            (W[5], "2999999999", "20010101", "モリ　ケンタ", "1"),
        ]
    )
    deliver(feed_root, "VRS_SUBJECTS_20260401.csv", data, feed="vrs")
    [s] = run("vrs", source, db_url)
    assert s["rows"] == 6 == s["accepted"] + s["quarantined"] + s["review"] + s["duplicates"]
    assert (s["accepted"], s["quarantined"], s["review"], s["duplicates"]) == (4, 0, 2, 0)
    held = rows(
        db_url,
        "SELECT voucher_no, atena_no, name_kana, CAST(birth_date AS TEXT), decided_by FROM vrs_subjects "
        "ORDER BY voucher_no",
    )
    assert [h[:4] for h in held] == [
        (W[1], A[2], "ﾀｶﾊｼ ﾚﾝ", "1957-01-31"),  # the received name is stored as received
        (W[2], A[3], "イトウ　サクナ", "1962-02-02"),
        (W[3], A[1], "ヤマダ　ハナコ", "1980-01-05"),
        (W[4], A[3], "イトウ　サクナ", "1962-02-20"),
    ]
    assert held[0][4].endswith("(deterministic)") and held[1][4].endswith("(deterministic)")
    assert "(match weight " in held[2][4] and "(match weight " in held[3][4]
    audit = rows(
        db_url,
        "SELECT atena_no, detail FROM audit_log WHERE table_name = 'vrs_subjects' ORDER BY atena_no",
    )
    assert [a[0] for a in audit] == [A[1], A[2], A[3], A[3]]
    assert audit[0][1].startswith("VRS_SUBJECTS_20260401.csv#row=4 match=match weight ")
    assert audit[0][1].endswith(f" given={A[0]}")  # the 宛名番号 received, not the person's
    assert audit[1][1] == "VRS_SUBJECTS_20260401.csv#row=2 match=deterministic"
    review = rows(
        db_url, "SELECT row_no, reasons, candidates, scores, raw_row FROM review_items ORDER BY row_no"
    )
    assert [r[:2] for r in review] == [
        (1, "atena_no_disagrees;below_threshold"),
        (6, "atena_no_unknown;no_candidate"),
    ]
    assert review[0][2].split(";")[0] == A[0] and json.loads(review[0][3])[0]["atena_no"] == A[0]
    assert json.loads(review[0][4]) == {
        "municipality_code": HOME,
        "voucher": W[0],
        "atena_no": A[0],
        "name_kana": "ナカムラ　ミキ",
        "birth_date": "19900303",
        "sex": "2",
    }
    # Records by voucher follow the holders placed; a voucher in review holds no one yet.
    records = records_csv([("", [dose("20210611", W[3])]), ("", [dose("20210611", W[0])])])
    deliver(feed_root, "VRS_RECORDS_20260401.csv", records, feed="vrs")
    [r] = run("vrs", source, db_url)
    assert (r["accepted"], r["review"]) == (1, 1)
    assert rows(db_url, "SELECT atena_no, dose_no FROM doses") == [(A[1], 1)]
    # The same rows again (other bytes): nothing new, the rows in review go to review again.
    deliver(feed_root, "VRS_SUBJECTS_20260402.csv", data + b"\r\n", feed="vrs")
    [s] = run("vrs", source, db_url)
    assert (s["accepted"], s["review"], s["duplicates"]) == (0, 2, 4)
