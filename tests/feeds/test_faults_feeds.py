"""Fault matrix of the inbound feeds (issue 15), on SQLite and PostgreSQL, through the pipeline.

* A file that does not parse into exactly its physical records (an unclosed quote), or a whole
  file in the wrong encoding, is refused at file level with one reason line; the refusal does not
  consume the file name: the corrected re-delivery under the same name applies.
* A missing optional column is accepted; a header-only file is applied with 0 rows by every feed.
* Control characters and over-long values quarantine their row, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from vaxreg import pipeline

from helpers.clinic import HEADER, clinic_csv, rec
from helpers.db import rows, run
from helpers.paths import SAMPLES
from helpers.resident import deliver, person, resident_csv

RESIDENTS = [person(f"00000000{i:02d}", name_kanji=f"試験　{i}郎") for i in range(1, 22)]
CLINIC_ROWS = [
    rec(f"00000000{i:02d}", "ﾀｶﾊｼ ﾚﾝ", "R080105", "1", "06", "11", "1", "R080313") for i in range(1, 9)
]


def _resident_quote(data: bytes) -> bytes:
    return data.replace("試験　5郎".encode(), '"試験　5郎'.encode(), 1)


def _clinic_quote(data: bytes) -> bytes:
    return data.replace("0000000003,".encode("cp932"), b'0000000003,"', 1)


# feed, file name, the good bytes, how the sender broke them, the expected reason, rows
BROKEN = {
    "resident_unclosed_quote": (
        "resident",
        "JUKI_DIFF_20260401.csv",
        resident_csv(RESIDENTS),
        _resident_quote,
        "unbalanced quote",
        21,
    ),
    "clinic_unclosed_quote": (
        "clinic",
        "ISHIKAI_202603.csv",
        clinic_csv(CLINIC_ROWS),
        _clinic_quote,
        "unbalanced quote",
        8,
    ),
    "resident_cp932": (
        "resident",
        "JUKI_DIFF_20260401.csv",
        resident_csv(RESIDENTS),
        lambda d: d.decode("utf-8").encode("cp932"),
        "file is not utf-8",
        21,
    ),
}


def manifest(db_url: str) -> list[tuple]:
    return rows(db_url, "SELECT file_name, status, rows_read FROM ingest_manifest ORDER BY id")


@pytest.mark.parametrize("case", list(BROKEN))
def test_unparseable_file_is_refused_whole_and_a_corrected_redelivery_applies(
    case: str, feed_root: Path, db_url: str
) -> None:
    feed, name, good, breaks, reason, n = BROKEN[case]
    source = f"file://{feed_root}"
    deliver(feed_root, name, breaks(good), feed=feed)
    with pytest.raises(pipeline.FeedRefused) as err:
        run(feed, source, db_url)
    assert reason in str(err.value) and "\n" not in str(err.value)
    assert [m[:2] for m in manifest(db_url)] == [(name, "refused")]
    assert rows(db_url, "SELECT count(*) FROM quarantine") == [(0,)]
    deliver(feed_root, name, good, feed=feed)  # the sender corrects the file, same name
    [summary] = run(feed, source, db_url)
    assert (summary["status"], summary["rows"]) == ("applied", n)
    assert manifest(db_url)[-1] == (name, "applied", n)


def test_stray_row_in_wrong_encoding_is_still_a_row_fault(tmp_path: Path) -> None:
    """One undecodable row among good ones stays a row-level `encoding` quarantine."""
    from vaxreg.feeds.reader import parse_csv
    from vaxreg.feeds.resident import RESIDENT

    data = resident_csv(RESIDENTS).replace("試験　7郎".encode(), "試験　7郎".encode("cp932"))
    path = tmp_path / "JUKI_DIFF_20260401.csv"
    path.write_bytes(data)
    parsed = parse_csv(path, RESIDENT)
    assert [(r[0], r[1]) for r in parsed.rejected] == [(7, "encoding")] and parsed.table.num_rows == 20


def test_missing_optional_columns_are_accepted(feed_root: Path, db_url: str) -> None:
    lines = resident_csv(RESIDENTS[:3]).decode().splitlines()
    cols = lines[0].split(",")
    keep = [i for i, c in enumerate(cols) if c not in ("kojin_no", "notified_date")]
    data = "\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n"
    deliver(feed_root, "JUKI_DIFF_20260401.csv", data.encode())
    [summary] = run("resident", f"file://{feed_root}", db_url)
    assert (summary["status"], summary["accepted"]) == ("applied", 3)


def _header_only(feed: str, name: str) -> bytes:
    return (SAMPLES / feed / name).read_bytes().splitlines(keepends=True)[0]


HEADER_ONLY = [
    ("resident", "JUKI_DIFF_20260401.csv"),
    ("clinic", "ISHIKAI_202603.csv"),
    ("otherward", "TAKU_202603_131075.csv"),
    ("welfare", "SEIHO_202604.csv"),
    ("welfare", "TECHO_202604.csv"),
    ("vrs", "VRS_SUBJECTS_20260401.csv"),
    ("vrs", "VRS_RECORDS_20260401.csv"),
    ("atena", "TOGO_20260401.csv"),
]


@pytest.mark.parametrize(("feed", "name"), HEADER_ONLY, ids=[n.split("_2")[0] for _, n in HEADER_ONLY])
def test_header_only_file_is_applied_with_no_rows(feed: str, name: str, feed_root: Path, db_url: str) -> None:
    sample = (
        name
        if (SAMPLES / feed / name).exists()
        else sorted(p.name for p in (SAMPLES / feed).glob("*.csv"))[0]
    )
    deliver(feed_root, name, _header_only(feed, sample), feed=feed)
    [summary] = run(feed, f"file://{feed_root}", db_url)
    assert (summary["status"], summary["rows"], summary["accepted"]) == ("applied", 0, 0)


# row -> (column, bad value, reason code); row 1 stays good
BAD_VALUES: dict[int, tuple[str, Callable[[str], str], str]] = {
    2: ("name_kanji", lambda v: v + "\x00", "control_character"),
    3: ("address", lambda v: v + "\x1b[2J", "control_character"),
    4: ("name_kanji", lambda v: "長" * 101, "field_too_long"),
    5: ("address", lambda v: "東" * 201, "field_too_long"),
    6: ("householder_name", lambda v: "\x07" + "世" * 150, "control_character;field_too_long"),
}


def test_control_characters_and_overlong_values_quarantine_the_row(feed_root: Path, db_url: str) -> None:
    people = [dict(p, household_no=f"60000000{i:02d}") for i, p in enumerate(RESIDENTS[:6], start=1)]
    for row_no, (column, spoil, _) in BAD_VALUES.items():
        people[row_no - 1][column] = spoil(people[row_no - 1][column])
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(people))
    [summary] = run("resident", f"file://{feed_root}", db_url)
    assert (summary["accepted"], summary["quarantined"]) == (1, 5)
    quarantined = rows(db_url, "SELECT row_no, reasons, raw_row FROM quarantine ORDER BY row_no")
    assert [(r, reasons) for r, reasons, _ in quarantined] == [(r, v[2]) for r, v in BAD_VALUES.items()]
    for row_no, _, raw in quarantined:
        assert "\x00" not in raw and "\x1b" not in raw and "\x07" not in raw and len(raw) < 3000
        assert json.loads(raw)["atena_no"] == RESIDENTS[row_no - 1]["atena_no"]
    assert rows(db_url, "SELECT atena_no FROM persons") == [(RESIDENTS[0]["atena_no"],)]


def test_control_character_in_a_clinic_row(feed_root: Path, db_url: str) -> None:
    records = [dict(r) for r in CLINIC_ROWS[:3]]
    records[0][HEADER[9]] = "製品\x00"
    deliver(feed_root, "ISHIKAI_202603.csv", clinic_csv(records), feed="clinic")
    [summary] = run("clinic", f"file://{feed_root}", db_url)
    assert summary["quarantined"] >= 1
    assert ("control_character",) in rows(db_url, "SELECT reasons FROM quarantine WHERE row_no = 1")
