"""Generated VRS files (subjects + records) and welfare snapshots (SEIHO/TECHO) for a generated
municipality, with the expected outcome of every file (``truth/vrs_welfare.json``).

Built from ``truth/persons.csv`` (the registry the resident feed leaves). Own RNG stream, so
the other generated files stay byte-identical. VRS: vouchers for a third of the persons
born before 2009, records with 1–7 dose groups, 個別宛名番号 mostly blank, some first doses on
another municipality's voucher, some vouchers as the 18-digit line, a few rows whose vouchers
name two persons and a few with no way to resolve (review). Welfare: three monthly snapshots;
some recipients leave each month, a few certificates change grade.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaxreg.feeds.vrs_records import VRS_ATENA, VRS_GROUP
from vaxreg.identity.dates import to_wareki

HOME = "131032"
OTHER = ("131016", "131024", "131113", "011011")
MAKERS = ("ファイザー", "武田/モデルナ", "第一三共")
CAMPAIGN = [
    np.datetime64(d, "D")
    for d in (
        "2021-05-10",
        "2021-06-20",
        "2021-12-10",
        "2022-06-01",
        "2022-11-15",
        "2023-06-01",
        "2023-11-01",
    )
]


def _write(path: Path, text: str, encoding: str, bom: bool = False) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
    path.write_bytes(data)
    (path.parent / (path.name + ".done")).write_text(hashlib.sha256(data).hexdigest() + "\n")


def _csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def synthesize_vrs(
    out_dir: Path, persons: pd.DataFrame, rng: np.random.Generator, day: dt.date
) -> list[dict[str, Any]]:
    folder = out_dir / "outbox" / "vrs"
    folder.mkdir(parents=True, exist_ok=True)
    born = pd.to_datetime(persons["birth_date"]).to_numpy(dtype="datetime64[D]")
    pool = np.flatnonzero(born < np.datetime64("2009-01-01"))
    holders = np.sort(rng.choice(pool, size=max(6, len(pool) // 3), replace=False))
    vouchers = np.char.zfill(
        (rng.choice(9 * 10**9, size=len(holders), replace=False) + 10**9).astype(str), 10
    )
    col = {c: persons[c].astype(str).tolist() for c in ("atena_no", "name_kana", "birth_date", "sex")}
    subjects = [
        [HOME, ("11" + HOME + v) if i % 10 == 0 else v, col["atena_no"][p], col["name_kana"][p],
         col["birth_date"][p].replace("-", ""), col["sex"][p]]
        for i, (p, v) in enumerate(zip(holders, vouchers, strict=True))
    ]  # fmt: skip
    stamp = day.strftime("%Y%m%d")
    _write(
        folder / f"VRS_SUBJECTS_{stamp}.csv",
        _csv(["自治体コード", "券番号", "宛名番号", "カナ氏名", "生年月日", "性別"], subjects),
        "utf-8",
        bom=True,
    )
    truth_s = {"file": f"VRS_SUBJECTS_{stamp}.csv", "rows": len(subjects), "accepted": len(subjects)}

    atena = col["atena_no"]
    n_doses = rng.integers(1, 8, len(holders))
    accepted = review = 0
    rows: list[list[str]] = []
    for i, (p, v, k) in enumerate(zip(holders, vouchers, n_doses, strict=True)):
        other_first = i % 7 == 3 and k >= 2  # a row is resolvable through its own later doses
        cells = [atena[p] if i % 4 == 0 else ""]
        for n in range(k):
            d = CAMPAIGN[n] + np.timedelta64(int(rng.integers(0, 30)), "D")
            ymd = str(d).replace("-", "")
            code, voucher = (
                (OTHER[i % len(OTHER)], str(9 * 10**9 + i)) if (n == 0 and other_first) else (HOME, v)
            )
            if code == HOME and i % 5 == 1:
                voucher = "11" + HOME + voucher
            cells += [
                ymd + "101500",
                ymd,
                voucher,
                code,
                "港区集団接種会場",
                "医師",
                MAKERS[int(rng.integers(0, 3))],
                f"FA{rng.integers(1000, 9999)}",
            ]
        rows.append(cells)
        accepted += int(k)
    # Review: vouchers of two persons in one row, and rows with only another municipality's voucher.
    for j in range(max(1, len(holders) // 500)):
        a, b = vouchers[2 * j], vouchers[2 * j + 1]
        rows.append(
            [
                "",
                "20210601101500",
                "20210601",
                a,
                HOME,
                "会場",
                "医師",
                MAKERS[0],
                "FA1",
                "20210701101500",
                "20210701",
                b,
                HOME,
                "会場",
                "医師",
                MAKERS[0],
                "FA2",
            ]
        )
        rows.append(
            ["", "20210601101500", "20210601", str(8 * 10**9 + j), OTHER[0], "会場", "医師", MAKERS[0], "FA3"]
        )
        review += 3
    groups = max(int(n_doses.max()), 2)
    rows = [r + [""] * (1 + 8 * groups - len(r)) for r in rows]
    header = [VRS_ATENA] + [f"{n}回目{s}" for n in range(1, groups + 1) for s in VRS_GROUP]
    _write(folder / f"VRS_RECORDS_{stamp}.csv", _csv(header, rows), "utf-8", bom=True)
    truth_r = {
        "file": f"VRS_RECORDS_{stamp}.csv",
        "rows": accepted + review,
        "accepted": accepted,
        "review": review,
        "file_rows": len(rows),
    }
    return [truth_s, truth_r]


def synthesize_welfare(
    out_dir: Path, persons: pd.DataFrame, rng: np.random.Generator, months: list[dt.date]
) -> list[dict[str, Any]]:
    folder = out_dir / "outbox" / "welfare"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(persons)
    atena = persons["atena_no"].astype(str).tolist()
    seiho = list(rng.choice(n, size=max(4, n // 50), replace=False))
    adults = np.flatnonzero(
        pd.to_datetime(persons["birth_date"]).to_numpy(dtype="datetime64[D]") < np.datetime64("1990-01-01")
    )
    techo = list(rng.choice(adults, size=max(4, len(adults) // 40), replace=False))
    parts = np.array(["H", "K", "R", "I", "O"])
    t_grade = {int(p): str(rng.integers(1, 4)) for p in techo}
    t_part = {int(p): str(parts[rng.integers(0, 5)]) for p in techo}
    truth = []
    for k, month in enumerate(months):
        if k:  # a few leave, a few arrive, a few certificates change grade
            seiho = seiho[max(1, len(seiho) // 20) :] + list(
                rng.choice(n, size=max(1, len(seiho) // 25), replace=False)
            )
            for p in techo[k : k + max(1, len(techo) // 30)]:
                t_grade[int(p)] = "1"
            techo = techo[1:]  # a certificate holder leaves each month
        ym = month.strftime("%Y%m")
        s_rows = [
            [
                atena[p],
                f"K{int(p):06d}",
                to_wareki(dt.date(2020, 4, 1) + dt.timedelta(days=int(p) % 900)),
                "",
            ]
            for p in sorted(set(map(int, seiho)))
        ]
        t_rows = [
            [
                atena[p],
                "1",
                t_grade[int(p)],
                t_part[int(p)],
                to_wareki(dt.date(2015, 1, 1) + dt.timedelta(days=int(p) % 3000)),
                "",
            ]
            for p in sorted(map(int, techo))
        ]
        _write(
            folder / f"SEIHO_{ym}.csv", _csv(["宛名番号", "ケース番号", "開始日", "廃止日"], s_rows), "cp932"
        )
        _write(
            folder / f"TECHO_{ym}.csv",
            _csv(["宛名番号", "手帳種別", "等級", "障害部位", "交付日", "有効期限"], t_rows),
            "cp932",
        )
        truth += [
            {"file": f"SEIHO_{ym}.csv", "rows": len(s_rows), "accepted": len(s_rows)},
            {"file": f"TECHO_{ym}.csv", "rows": len(t_rows), "accepted": len(t_rows)},
        ]
    return truth


def synthesize_vrs_welfare(out_dir: Path, seed: int, start: dt.date) -> dict[str, Any]:
    """VRS files dated ``start`` and welfare snapshots of the three months up to ``start``'s month."""
    out_dir = Path(out_dir)
    persons = pd.read_csv(out_dir / "truth" / "persons.csv", dtype=str, keep_default_na=False)
    residents = persons[persons["status"] == "resident"].reset_index(drop=True)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    months: list[dt.date] = []
    m = start.replace(day=1)
    for _ in range(3):
        months.insert(0, m)
        m = (m - dt.timedelta(days=1)).replace(day=1)
    # Vouchers were issued in 2021: holders who have since moved out or died are in VRS too
    # (the VRS flags tell VRS about them).
    summary = {
        "vrs": synthesize_vrs(out_dir, persons.reset_index(drop=True), rng, start),
        "welfare": synthesize_welfare(out_dir, residents, rng, months),
    }
    (out_dir / "truth" / "vrs_welfare.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return summary
