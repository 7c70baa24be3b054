"""Vaccination-record (clinic, other-ward) files for the tests: CP932 rows with Japanese headers."""

from __future__ import annotations

import csv
import io

from helpers.db import rows

HEADER = [
    "宛名番号",
    "カナ氏名",
    "生年月日",
    "性別",
    "予防接種種別コード",
    "接種期",
    "接種回数",
    "接種日",
    "予診のみ",
    "ワクチン名称",
    "ロット番号",
    "医療機関コード",
    "接種地コード",
    "自己負担区分",
]
CLINIC = "1317576043"


def rec(
    atena: str, kana: str, birth: str, sex: str, vaccine: str, phase: str, dose: str, day: str, **kw: str
) -> dict:
    row = dict(
        zip(
            HEADER,
            [atena, kana, birth, sex, vaccine, phase, dose, day, "0", "製品", "L1", CLINIC, "131032", "1"],
            strict=True,
        )
    )
    row.update({HEADER[HEADER.index(k)] if k in HEADER else k: v for k, v in kw.items()})
    return row


def clinic_csv(rows: list[dict], header: list[str] | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header or HEADER, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("cp932")


def registry(db_url: str) -> dict[str, list[tuple]]:
    q = {
        "doses": "SELECT atena_no, vaccine_code, phase, dose_no, CAST(dose_date AS TEXT), lot_no, "
        "off_schedule, version FROM doses",
        "history": "SELECT atena_no, vaccine_code, lot_no, version FROM dose_history",
        "prelim": "SELECT atena_no, vaccine_code, CAST(exam_date AS TEXT) FROM preliminary_exams",
        "review": "SELECT file_name, row_no, reasons, candidates FROM review_items",
        "quarantine": "SELECT file_name, row_no, reasons FROM quarantine WHERE feed <> 'resident'",
        "fees": "SELECT file_name, row_no, kind, fee FROM fee_details",
        "manifest": "SELECT feed, file_name, status, rows_read, accepted, quarantined, review, duplicates "
        "FROM ingest_manifest WHERE feed <> 'resident'",
    }
    return {k: sorted(rows(db_url, v), key=str) for k, v in q.items()}


A = ("0000000001", "ﾀｶﾊｼ ﾚﾝ", "R080105", "1")  # half-width kana; registry has full-width with a space
