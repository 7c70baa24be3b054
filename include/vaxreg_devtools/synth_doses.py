"""Generated clinic (``ISHIKAI_YYYYMM.csv``) and other-ward (``TAKU_YYYYMM_<ward>.csv``) files
for a generated municipality, with realistic dirt and the expected outcome of every row.

Built from the registry state the resident feed leaves (``truth/persons.csv``), so the
records name real generated residents. Clean rows are on schedule by construction
(elderly influenza once per fiscal year, 5-in-1 dose 1 at 70 days, 予診のみ); dirt is
added as extra rows, each with one fault: off schedule (influenza at 60–64 without
disability data, Hib at 5+ years), exact duplicates, a wrong or blank 宛名番号 (review),
wareki dates that do not exist (``H310501``, ``R010430``, ``R050230``) and undecodable bytes.
Half-width kana is the norm, as from the clinics' systems. Same seed, same bytes.
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
import pyarrow as pa

from vaxreg.identity.dates import to_wareki

HEADER = (
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
)
INSTITUTIONS = ("1317576043", "1317718900", "1318753029", "1319842875", "1316091807", "1314672753")
OTHER_WARD = "131075"
HOME = "131032"
PRODUCTS = {"21": "インフルエンザHAワクチン", "06": "ゴービック", "01": "アクトヒブ"}
BAD_DATES = ("H310501", "R010430", "R050230")


def _half(kana: str) -> str:
    from vaxreg_devtools.synth import _halfwidth

    return _halfwidth(kana)


def _days(d: pd.Series) -> np.ndarray:
    return pd.to_datetime(d).to_numpy(dtype="datetime64[D]")


def _month_end(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def records(
    persons: pd.DataFrame, rng: np.random.Generator, month: dt.date, share: float, used: set[str]
) -> pd.DataFrame:
    """Clean records of one month: (atena_no, name_kana, birth, sex, vaccine, phase, dose, date, prelim)."""
    end = _month_end(month)
    first, last = np.datetime64(month, "D"), np.datetime64(end, "D")
    birth = _days(persons["birth_date"])
    age_days = (first - birth).astype(np.int64)
    fresh = ~persons["atena_no"].isin(used).to_numpy()
    elderly = fresh & (age_days > 366 * 66)
    k = max(1, int(len(persons) * share))
    pick = rng.choice(np.flatnonzero(elderly), size=min(k, int(elderly.sum())), replace=False)
    span = (last - first).astype(np.int64) + 1
    flu = persons.iloc[np.sort(pick)].copy()
    flu_days = first + rng.integers(0, span, len(flu)).astype("timedelta64[D]")
    flu = flu.assign(
        vaccine="21",
        phase="00",
        dose="1",
        day=flu_days,
        prelim=np.where(rng.random(len(flu)) < 0.05, "1", "0"),
    )
    # 5-in-1 dose 1 at 70 days of age (two months reached, well before 90 months).
    d70 = birth + np.timedelta64(70, "D")
    infants = persons[fresh & (d70 >= first) & (d70 <= last)].copy()
    infants = infants.assign(vaccine="06", phase="11", dose="1", day=d70[infants.index], prelim="0")
    out = pd.concat([flu, infants], ignore_index=True)
    used.update(out["atena_no"])
    return out


def _rows(recs: pd.DataFrame, rng: np.random.Generator, place: str) -> list[list[str]]:
    rows = []
    r: Any
    for r in recs.itertuples(index=False):
        day = pd.Timestamp(r.day).date()
        rows.append(
            [
                r.atena_no,
                _half(r.name_kana) if rng.random() < 0.8 else r.name_kana,
                to_wareki(dt.date.fromisoformat(r.birth_date)),
                r.sex,
                r.vaccine,
                r.phase,
                r.dose,
                to_wareki(day),
                r.prelim,
                PRODUCTS[r.vaccine],
                "" if r.prelim == "1" else f"L{rng.integers(10000, 99999)}",
                INSTITUTIONS[int(rng.integers(0, len(INSTITUTIONS)))],
                place,
                "1",
            ]
        )
    return rows


def _write(path: Path, header: tuple[str, ...], rows: list[list[str]], broken: set[int]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    lines = buf.getvalue().encode("cp932").split(b"\r\n")
    for i in broken:  # data row i (1-based): undecodable bytes in the kana name
        lines[i] = lines[i].replace(b",", b",\x82\xff", 1)
    data = b"\r\n".join(lines)
    path.write_bytes(data)
    (path.parent / (path.name + ".done")).write_text(hashlib.sha256(data).hexdigest() + "\n")


def _dirty(
    clean: list[list[str]],
    persons: pd.DataFrame,
    rng: np.random.Generator,
    month: dt.date,
    place: str,
    n: int,
    ambiguous: list[list[str]],
) -> tuple[list[list[str]], list[str], set[int]]:
    """Clean rows plus ``n`` faults of each kind; returns rows, outcome per row, broken row numbers."""
    rows = [list(r) for r in clean]
    outcome = ["accepted"] * len(rows)
    broken: set[int] = set()
    birth = _days(persons["birth_date"])
    mid = np.datetime64(month, "D") + np.timedelta64(14, "D")
    age = (mid - birth).astype(np.int64)
    day = to_wareki(month + dt.timedelta(days=14))

    def person_row(i: int, vaccine: str, phase: str) -> list[str]:
        p = persons.iloc[i]
        return [
            p.atena_no, _half(p.name_kana), to_wareki(dt.date.fromisoformat(p.birth_date)), p.sex,
            vaccine, phase, "1", day, "0", PRODUCTS[vaccine], "L1", INSTITUTIONS[0], place, "1",
        ]  # fmt: skip

    sixties = np.flatnonzero((age > 365.25 * 60.2) & (age < 365.25 * 64.8))
    fives = np.flatnonzero((age > 365.25 * 5.2) & (age < 365.25 * 6.5))
    for pool, vaccine, phase in ((sixties, "21", "00"), (fives, "01", "11")):
        for i in rng.choice(pool, size=min(n, len(pool)), replace=False):
            rows.append(person_row(int(i), vaccine, phase))
            outcome.append("off_schedule")
    if not clean:
        return rows, outcome, broken
    src = rng.choice(len(clean), size=min(n * 6, len(clean)), replace=False)
    kinds = ["duplicate", "wrong_atena", "blank_atena", "bad_date", "bad_birth", "encoding"]
    for j, s in enumerate(src):
        kind = kinds[j % len(kinds)]
        r = list(clean[s])
        if kind == "wrong_atena":
            # Another person's 宛名番号 and a birth date off by years: no one can be sure (review).
            other = persons[(persons["birth_date"] != to_iso(r[2]))].iloc[
                int(rng.integers(0, len(persons) - 1))
            ]
            r[0] = other.atena_no
            r[2] = to_wareki(dt.date.fromisoformat(to_iso(r[2])) - dt.timedelta(days=4021))
            outcome.append("review")
        elif kind == "blank_atena":
            # The matcher finds the person when no one else shares the name, birth date and sex;
            # then the row is the clean row's dose again.
            r[0] = ""
            outcome.append("review" if r[1:4] in ambiguous else "duplicate")
        elif kind == "bad_date":
            r[7] = BAD_DATES[j % 3]
            outcome.append("quarantined")
        elif kind == "bad_birth":
            r[2] = "H310501"
            outcome.append("quarantined")
        elif kind == "encoding":
            broken.add(len(rows) + 1)
            r[6] = "9"  # differs from the source row: never an exact duplicate of it
            outcome.append("quarantined")
        else:
            outcome.append("duplicate")
        rows.append(r)
    return rows, outcome, broken


def _ambiguous(persons: pd.DataFrame) -> list[list[str]]:
    """[half-width kana, wareki birth, sex] shared by more than one person: a record carrying
    only these cannot be put on one of them without a human (privacy.md §Matching)."""
    from vaxreg.identity.normalise import normalise_names

    key = pd.DataFrame(
        {
            "kana": normalise_names(pa.array(persons["name_kana"], pa.string())).to_pandas(),
            "birth": persons["birth_date"],
            "sex": persons["sex"],
        }
    )
    shared = persons[key.duplicated(keep=False).to_numpy()]
    return [
        [_half(str(kana)), to_wareki(dt.date.fromisoformat(str(birth))), str(sex)]
        for kana, birth, sex in zip(shared["name_kana"], shared["birth_date"], shared["sex"], strict=True)
    ]


def to_iso(wareki: str) -> str:
    from vaxreg.identity.dates import parse_wareki

    return parse_wareki(wareki).isoformat()


def synthesize_vaccinations(out_dir: Path, seed: int, start: dt.date, months: int = 3) -> dict[str, Any]:
    """Write clinic files for the ``months`` months before ``start`` and one other-ward file,
    from ``truth/persons.csv``; truth per file in ``truth/vaccinations.json``."""
    out_dir = Path(out_dir)
    persons = pd.read_csv(out_dir / "truth" / "persons.csv", dtype=str, keep_default_na=False)
    ambiguous = _ambiguous(persons)  # over the whole registry: everyone is a candidate
    persons = persons[persons["status"] == "resident"].reset_index(drop=True)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    clinic_dir, ward_dir = out_dir / "outbox" / "clinic", out_dir / "outbox" / "otherward"
    clinic_dir.mkdir(parents=True, exist_ok=True)
    ward_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    files = []
    n_dirt = max(2, len(persons) // 4000)
    first = (start.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    month_starts: list[dt.date] = []
    m = first
    for _ in range(months):
        month_starts.insert(0, m)
        m = (m - dt.timedelta(days=1)).replace(day=1)
    for month in month_starts:
        recs = records(persons, rng, month, 0.01, used)
        rows, outcome, broken = _dirty(_rows(recs, rng, HOME), persons, rng, month, HOME, n_dirt, ambiguous)
        name = f"ISHIKAI_{month:%Y%m}.csv"
        _write(clinic_dir / name, HEADER, rows, broken)
        files.append(_truth(name, outcome))
    # Other ward: 宛名番号 usually blank (found by the matcher unless another person shares the
    # name, birth date and sex: then review); a few with it; one wrong ward code.
    month = month_starts[-1]
    recs = records(persons, rng, month, 0.002, used)
    rows = _rows(recs, rng, OTHER_WARD)
    outcome = []
    for i, r in enumerate(rows):
        if i % 4 != 3:
            r[0] = ""
            outcome.append("review" if r[1:4] in ambiguous else "accepted")
        else:
            outcome.append("accepted")
    if rows:
        rows.append([*rows[0][:12], "131083", rows[0][13]])
        outcome.append("quarantined")
    name = f"TAKU_{month:%Y%m}_{OTHER_WARD}.csv"
    _write(ward_dir / name, (*HEADER, "住所"), [[*r, ""] for r in rows], set())
    files.append(_truth(name, outcome))
    summary = {"files": files}
    (out_dir / "truth" / "vaccinations.json").write_text(
        json.dumps(summary, indent=2) + "\n", encoding="utf-8"
    )
    return summary


def _truth(name: str, outcome: list[str]) -> dict[str, Any]:
    c = {k: outcome.count(k) for k in ("accepted", "off_schedule", "quarantined", "review", "duplicate")}
    return {
        "file": name,
        "rows": len(outcome),
        "accepted": c["accepted"] + c["off_schedule"],
        "off_schedule": c["off_schedule"],
        "quarantined": c["quarantined"],
        "review": c["review"],
        "duplicates": c["duplicate"],
    }
