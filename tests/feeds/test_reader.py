"""The CSV reader: encodings, BOM, line ends, row numbers, header contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxreg.feeds.layout import FileRejected
from vaxreg.feeds.reader import parse_csv, raw_row_json, scrub
from vaxreg.feeds.resident import RESIDENT

from helpers.paths import SAMPLES
from helpers.resident import person, resident_csv

RESIDENT_SAMPLES = SAMPLES / "resident"


def write(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "JUKI_DIFF_20260401.csv"
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(("bom", "crlf"), [(False, False), (True, False), (False, True), (True, True)])
def test_bom_and_line_ends(tmp_path: Path, bom: bool, crlf: bool) -> None:
    parsed = parse_csv(
        write(tmp_path, resident_csv([person("0000000001")] * 3, bom=bom, crlf=crlf)), RESIDENT
    )
    assert parsed.table.num_rows == 3 and parsed.rejected == []
    assert parsed.table.column("atena_no").to_pylist() == ["0000000001"] * 3
    assert parsed.table.column("row_no").to_pylist() == [1, 2, 3]
    assert parsed.table.column("kojin_no").to_pylist() == [None] * 3  # empty string = no value


def test_column_order_may_differ(tmp_path: Path) -> None:
    data = resident_csv([person("0000000001")]).decode()
    header, row = data.splitlines()
    cols, vals = header.split(","), row.split(",")
    data = ",".join(reversed(cols)) + "\n" + ",".join(reversed(vals)) + "\n"
    parsed = parse_csv(write(tmp_path, data.encode()), RESIDENT)
    assert parsed.table.column_names[: len(RESIDENT.columns)] == list(RESIDENT.columns)
    assert parsed.table.column("atena_no").to_pylist() == ["0000000001"]


def test_undecodable_and_malformed_rows_are_cut_out_with_their_numbers(tmp_path: Path) -> None:
    good = resident_csv([person("0000000001"), person("0000000002"), person("0000000003")])
    lines = good.split(b"\n")
    lines[2] = lines[2].replace("試験".encode(), b"\xff\xfe")  # row 2: invalid UTF-8
    lines.insert(4, b"99,123456789018,onlythree")  # row 4: wrong field count, holds a 12-digit run
    parsed = parse_csv(write(tmp_path, b"\n".join(lines)), RESIDENT)
    assert parsed.table.column("row_no").to_pylist() == [1, 3]
    assert [(r[0], r[1]) for r in parsed.rejected] == [(2, "encoding"), (4, "malformed_row")]
    assert "123456789018" not in parsed.rejected[1][2]
    assert parsed.rows_read == 4


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.replace(b"householder_name,", b""), "missing column(s) householder_name"),
        (lambda d: d.replace(b"removed_date", b"removed_date,extra", 1), "unknown column(s) extra"),
        (lambda d: d.replace(b"householder_name", b"address", 1), "repeated column name"),
        (lambda d: b"", "empty file"),
    ],
)
def test_header_contract(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_csv(write(tmp_path, mutate(resident_csv([person("0000000001")]))), RESIDENT)


def test_file_names() -> None:
    assert str(RESIDENT.file_date("JUKI_DIFF_20260401.csv")) == "2026-04-01"
    for bad in ("JUKI_DIFF_20260231.csv", "juki_diff_20260401.csv", "JUKI_DIFF_20260401.csv.tmp"):
        with pytest.raises(FileRejected):
            RESIDENT.file_date(bad)


def test_sample_files_read_exactly() -> None:
    a = parse_csv(RESIDENT_SAMPLES / "JUKI_DIFF_20260401.csv", RESIDENT)
    b = parse_csv(RESIDENT_SAMPLES / "JUKI_DIFF_20260402.csv", RESIDENT)
    assert (a.table.num_rows, b.table.num_rows, a.rejected, b.rejected) == (60, 3, [], [])
    assert a.table.column("name_kanji").to_pylist()[4] == "濵田　さくら"


def test_raw_row_never_holds_my_number() -> None:
    row = person("0000000001", kojin_no="123456789018", address="番地123456789018")
    text = raw_row_json(row, RESIDENT)
    assert "kojin_no" not in text and "123456789018" not in text
    assert scrub("tel 0312345678 no 123456789018") == "tel 0312345678 no <removed>"
