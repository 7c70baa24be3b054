"""Pre-examination forms (outputs.md §2) on both databases: the exact file (BOM, CRLF, columns),
the infant series at birth registration, lead time, B class in April, never the same form twice,
reissues with a reason, one audit record per person, and a crash that leaves nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from vaxreg.outputs import due, forms

from helpers.db import rows
from helpers.due import CRASHED, Person, actor, crash_at, day, publish, seed_persons

BABY, GONE, DT_JULY, DT_AUG, ELDER = "3000000001", "3000000002", "3000000003", "3000000004", "3000000005"
HEADER = (
    "form_no,atena_no,vaccine_code,phase,dose_no,window_start,window_end,name_kanji,name_kana,"
    "birth_date,sex,guardian_name,address,self_pay_class"
)
INFANT = {  # the offered infant series (Hib and 4種混合 are not offered: 5種混合 replaces them)
    ("02", "11", 1), ("02", "11", 2), ("02", "11", 3), ("02", "12", 1),
    ("03", "00", 1), ("03", "00", 2), ("03", "00", 3),
    ("04", "00", 1), ("04", "00", 2),
    ("05", "00", 1), ("05", "00", 2), ("05", "00", 3),
    ("06", "11", 1), ("06", "11", 2), ("06", "11", 3), ("06", "12", 1),
    ("09", "00", 1),
}  # fmt: skip


def lines(root: Path, name: str) -> list[list[str]]:
    data = (root / "inbox" / "forms" / name).read_bytes()
    assert (
        data.startswith(b"\xef\xbb\xbf")
        and data.endswith(b"\r\n")
        and b"\n" not in data.replace(b"\r\n", b"")
    )
    text = data[3:].decode("utf-8").split("\r\n")[:-1]
    assert text[0] == HEADER
    return [t.split(",") for t in text[1:]]


def test_infant_series_at_birth_exactly_once(root: Path, db_url: str) -> None:
    source = f"file://{root}"
    seed_persons(
        db_url,
        [
            Person(BABY, "2026-05-20", householder="試験　母"),
            Person(GONE, "2026-04-01", status="moved_out", valid_from="2026-05-01", event_code="20"),
        ],
    )
    assert publish("forms", db_url, source, "2026-06-01") == ["YOSHIN_202606.csv"]
    got = lines(root, "YOSHIN_202606.csv")
    assert {(r[2], r[3], int(r[4])) for r in got} == INFANT
    assert [r[0] for r in got] == [f"202606{i:06d}" for i in range(1, len(INFANT) + 1)]
    first = got[0]
    assert first[1] == BABY and first[9:] == ["2026-05-20", "1", "試験　母", "東京都港区芝1丁目1番1号", ""]
    assert rows(db_url, "SELECT COUNT(*), COUNT(DISTINCT form_no) FROM forms_issued") == [(17, 17)]
    export = "SELECT atena_no, detail FROM audit_log WHERE action = 'export' AND table_name = 'forms_issued'"
    assert rows(db_url, export) == [(BABY, "YOSHIN_202606.csv forms=17")]  # one record per person (P4)
    # The same month again: nothing new; the next month: no form twice, so no file.
    assert publish("forms", db_url, source, "2026-06-01") == []
    assert publish("forms", db_url, source, "2026-07-01") == []
    assert not (root / "inbox" / "forms" / "YOSHIN_202607.csv").exists()
    # A reissue: a new number in the next file, with its reason; the history answers both.
    with forms.db.transaction(db_url) as conn:
        forms.request_reissue(conn, actor(), BABY, "06", "11", 1, "lost in the post", "clerk")
    assert publish("forms", db_url, source, "2026-08-01") == ["YOSHIN_202608.csv"]
    assert [r[:5] for r in lines(root, "YOSHIN_202608.csv")] == [["202608000001", BABY, "06", "11", "1"]]
    with forms.db.transaction(db_url) as conn:
        sent = [
            h
            for h in forms.history(conn, BABY)
            if (h["vaccine_code"], h["phase"], h["dose_no"]) == ("06", "11", 1)
        ]
    assert [(h["form_no"], h["reissue_reason"]) for h in sent] == [
        ("202606000013", None),  # the 13th row of June's file
        ("202608000001", "lost in the post"),
    ]
    assert rows(db_url, "SELECT form_no FROM form_reissues") == [("202608000001",)]


def test_lead_time_and_b_class_in_april(root: Path, db_url: str) -> None:
    source = f"file://{root}"
    seed_persons(
        db_url, [Person(DT_JULY, "2015-07-15"), Person(DT_AUG, "2015-08-15"), Person(ELDER, "1950-05-05")]
    )

    def issued(name: str, who: str) -> set[tuple[str, str]]:
        return {(r[2], r[3]) for r in lines(root, name) if r[1] == who}

    assert publish("forms", db_url, source, "2026-04-01") == ["YOSHIN_202604.csv"]
    april = lines(root, "YOSHIN_202604.csv")
    assert issued("YOSHIN_202604.csv", ELDER) == {("21", "00"), ("23", "00")}  # flu and COVID-19, FY2026
    assert {r[13] for r in april if r[1] == ELDER} == {"1"}  # no welfare data: ordinary
    assert {r[13] for r in april if r[1] != ELDER} == {""} and {r[11] for r in april if r[1] == ELDER} == {""}
    assert ("08", "20") not in issued("YOSHIN_202604.csv", DT_JULY)
    # Every open window never issued goes at once (how a move-in gets its forms): JE phase 2 opened
    # at 9 years, long before this registry knew the child.
    assert ("12", "20") in issued("YOSHIN_202604.csv", DT_JULY)
    publish("forms", db_url, source, "2026-06-01")  # DT window opens 15 July: 30 days' lead
    assert ("08", "20") in issued("YOSHIN_202606.csv", DT_JULY)
    assert ("08", "20") not in issued("YOSHIN_202606.csv", DT_AUG)
    publish("forms", db_url, source, "2026-07-01")
    assert issued("YOSHIN_202607.csv", DT_AUG) == {("08", "20")}


def test_crash_mid_publication_then_rerun_publishes_once(root: Path, db_url: str) -> None:
    """Killed after the ledger rows were written, before the commit (every other step of
    publish_once is covered by tests/outputs/test_outbound_crashes.py)."""
    step = "prepare_recorded"
    source = f"file://{root}"
    seed_persons(db_url, [Person(BABY, "2026-05-20")])
    due.refresh(actor(), day("2026-06-01"), db_url=db_url)
    crashed = crash_at(step, "forms", db_url, source, "2026-06-01")
    assert crashed.returncode == CRASHED, crashed.stderr[-2000:]
    inbox = root / "inbox" / "forms"
    # Before the commit: no file, no ledger rows at all.
    assert not inbox.exists() or not [p for p in inbox.iterdir() if not p.name.startswith(".")]
    assert rows(db_url, "SELECT COUNT(*) FROM forms_issued") == [(0,)]
    assert rows(db_url, "SELECT COUNT(*) FROM outbound_files") == [(0,)]
    assert publish("forms", db_url, source, "2026-06-01", refresh=False) == ["YOSHIN_202606.csv"]
    data = (inbox / "YOSHIN_202606.csv").read_bytes()
    assert (inbox / "YOSHIN_202606.csv.done").read_text().strip() == hashlib.sha256(data).hexdigest()
    assert sorted(p.name for p in inbox.iterdir()) == ["YOSHIN_202606.csv", "YOSHIN_202606.csv.done"]
    assert rows(db_url, "SELECT COUNT(*) FROM forms_issued") == [(17,)]
    assert rows(db_url, "SELECT state FROM outbound_files") == [("published",)]
