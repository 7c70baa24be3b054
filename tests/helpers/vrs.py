"""Builders of VRS and welfare files for the tests (exact bytes: UTF-8 with BOM, CP932)."""

from __future__ import annotations

import csv
import io

from vaxreg.feeds.vrs_records import VRS_ATENA, VRS_GROUP

HOME = "131032"
OTHER = "131024"  # Shinjuku... a valid Tokyo ward code other than ours


def subjects_csv(rows: list[tuple[str, ...]], code: str = HOME) -> bytes:
    """rows: (voucher, atena_no, birth YYYYMMDD[, カナ氏名[, 性別]]); the name and sex default to
    those of helpers.resident.person (シケン　タロウ, 1)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["自治体コード", "券番号", "宛名番号", "カナ氏名", "生年月日", "性別"])
    for voucher, atena, birth, *rest in rows:
        kana, sex = [*rest, *("シケン　タロウ", "1")[len(rest) :]]
        w.writerow([code, voucher, atena, kana, birth, sex])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def dose(
    day: str,
    voucher: str,
    code: str = HOME,
    lot: str = "FA0001",
    maker: str = "ファイザー",
    registered: str = "",
) -> list[str]:
    return [registered or day + "101500", day, voucher, code, "港区集団接種会場", "医師", maker, lot]


def records_csv(
    rows: list[tuple[str, list[list[str]]]], groups: int | None = None, skip: tuple[int, ...] = ()
) -> bytes:
    """rows: (個別宛名番号, [dose group values …]); ``groups`` columns groups (default: the most
    doses of a row); ``skip``: group numbers left out of the header (a gap)."""
    groups = groups or max(len(d) for _, d in rows)
    numbers = [n for n in range(1, groups + 1) if n not in skip]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([VRS_ATENA] + [f"{n}回目{s}" for n in numbers for s in VRS_GROUP])
    for atena, doses in rows:
        cells = [atena]
        for n in numbers:
            cells += doses[n - 1] if n - 1 < len(doses) else [""] * 8
        w.writerow(cells)
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def seiho_csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["宛名番号", "ケース番号", "開始日", "廃止日"])
    w.writerows(rows)
    return buf.getvalue().encode("cp932")


def techo_csv(rows: list[tuple[str, str, str, str, str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["宛名番号", "手帳種別", "等級", "障害部位", "交付日", "有効期限"])
    w.writerows(rows)
    return buf.getvalue().encode("cp932")
