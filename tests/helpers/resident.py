"""Resident-feed files for the tests: a generated person's row, the CSV, and delivery with a marker."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from vaxreg.feeds.resident import RESIDENT


def person(atena_no: str, **over: str) -> dict[str, str]:
    """A valid resident-feed row (a generated person) with overrides; seq is added by resident_csv."""
    row = {
        "atena_no": atena_no,
        "kojin_no": "",
        "event_code": "10",
        "event_date": "2026-04-01",
        "notified_date": "2026-04-01",
        "name_kanji": "試験　太郎",
        "name_kana": "シケン　タロウ",
        "name_alpha": "",
        "birth_date": "1990-05-05",
        "sex": "1",
        "household_no": "5000000001",
        "relationship": "世帯主",
        "householder_name": "試験　太郎",
        "address": "東京都港区芝1丁目1番1号",
        "address_date": "2020-01-01",
        "resident_since": "2020-01-01",
        "resident_class": "1",
        "foreign_resident_since": "",
        "removed_date": "",
    }
    row.update(over)
    return row


def resident_csv(rows: list[dict[str, str]], *, bom: bool = False, crlf: bool = False) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(RESIDENT.columns), lineterminator="\r\n" if crlf else "\n")
    w.writeheader()
    for i, r in enumerate(rows, start=1):
        w.writerow({"seq": str(i), **r})  # seq follows the list unless a row sets its own
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def deliver(
    root: Path, name: str, data: bytes, *, marker: str | None = "digest", feed: str = "resident"
) -> Path:
    """Put a file in ``outbox/<feed>/``; marker: "digest", "empty", None (no marker) or literal text."""
    folder = root / "outbox" / feed
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    if marker is not None:
        text = {"digest": hashlib.sha256(data).hexdigest() + "\n", "empty": ""}.get(marker, marker)
        (folder / f"{name}.done").write_text(text)
    return path
