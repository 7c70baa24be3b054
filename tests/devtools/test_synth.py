"""Tests of the synthetic resident-registry feed (`vaxreg_devtools.synth`).

The replay below re-implements the registry state machine independently of the generator: it reads
the written CSV files, judges every row itself and checks that its verdicts and the final registry
agree with the truth files.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest
from vaxreg_devtools.synth import FEED_HEADER, REASONS, synthesize

from vaxreg.identity.validators import is_valid_my_number, my_number_valid_mask

HEADER = (
    "seq,atena_no,kojin_no,event_code,event_date,notified_date,name_kanji,name_kana,name_alpha,"
    "birth_date,sex,household_no,relationship,householder_name,address,address_date,resident_since,"
    "resident_class,foreign_resident_since,removed_date"
)
COLS = HEADER.split(",")
KNOWN_CODES = {10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33, 40}
IN_WARD = {10, 11, 12, 13, 30, 31, 32, 33, 40}
KANA_WORD = "[\u30a1-\u30fa\u30fc\u30fb\uff65-\uff9f]+"
KATAKANA = re.compile(f"^{KANA_WORD}[\u3000 ]{KANA_WORD}$")
TOWNS = (
    "芝",
    "芝浦",
    "海岸",
    "三田",
    "高輪",
    "白金",
    "白金台",
    "南麻布",
    "元麻布",
    "西麻布",
    "六本木",
    "赤坂",
    "南青山",
    "北青山",
    "虎ノ門",
    "新橋",
    "台場",
    "港南",
)
ADDRESS = re.compile(
    r"^東京都港区("
    + "|".join(sorted(TOWNS, key=len, reverse=True))
    + r")[1-9]丁目[0-9]+番[0-9]+号(　\S+[0-9]+号室)?$"
)
OLD_FORMS = set("髙﨑邊邉齋齊濵德澤𠮷")
SMALL = 2_000
MEDIUM = 20_000
NIGHTS = 6


@dataclass
class Feed:
    name: str
    date: dt.date
    raw: bytes
    rows: list[dict[str, str]]
    lines: list[list[str]]  # the raw cells, for the duplicate check


@dataclass
class Run:
    root: Path
    summary: dict[str, object]
    feeds: list[Feed]
    truth: dict[tuple[str, int], dict[str, str]]
    persons: list[dict[str, str]]
    truth_lines: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def _load(root: Path, summary: dict[str, object]) -> Run:
    feeds = []
    for path in sorted((root / "outbox" / "resident").glob("JUKI_DIFF_*.csv")):
        raw = path.read_bytes()
        lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
        assert lines[0] == COLS
        rows = [dict(zip(COLS, line, strict=True)) for line in lines[1:]]
        date = dt.datetime.strptime(path.stem[-8:], "%Y%m%d").date()
        feeds.append(Feed(path.name, date, raw, rows, lines[1:]))
    with (root / "truth" / "resident_rows.csv").open(encoding="utf-8", newline="") as fh:
        truth_rows = list(csv.DictReader(fh))
    truth = {(t["file"], int(t["seq"])): t for t in truth_rows}
    with (root / "truth" / "persons.csv").open(encoding="utf-8", newline="") as fh:
        persons = list(csv.DictReader(fh))
    return Run(root, summary, feeds, truth, persons, len(truth_rows))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("small")
    return _load(root, synthesize(root, persons=SMALL, nights=NIGHTS))


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("medium")
    return _load(root, synthesize(root, persons=MEDIUM, nights=NIGHTS))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- layout


def test_deterministic(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    synthesize(a, persons=SMALL, nights=3)
    synthesize(b, persons=SMALL, nights=3)
    synthesize(c, persons=SMALL, nights=3, seed=7)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa == fb
    assert fa.keys() == fc.keys()
    assert all(fa[k] != fc[k] for k in fa if k.endswith(".csv"))


def test_files_header_and_markers(small: Run) -> None:
    assert FEED_HEADER == HEADER
    assert len(small.feeds) == 1 + NIGHTS
    start = dt.date(2026, 4, 1)
    assert [f.date for f in small.feeds] == [start + dt.timedelta(days=k) for k in range(1 + NIGHTS)]
    styles = set()
    for feed in small.feeds:
        first = feed.raw.split(b"\n", 1)[0]
        bom = first.startswith(b"\xef\xbb\xbf")
        crlf = first.endswith(b"\r")
        assert first.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r") == HEADER.encode()
        assert feed.raw.endswith(b"\r\n" if crlf else b"\n")
        styles.add((bom, crlf))
        marker = (small.root / "outbox" / "resident" / (feed.name + ".done")).read_bytes()
        assert marker == (hashlib.sha256(feed.raw).hexdigest() + "\n").encode()
        assert [int(r["seq"]) for r in feed.rows] == list(range(1, len(feed.rows) + 1))
    assert small.feeds[0].raw.startswith(b"\xef\xbb\xbf")
    assert len(styles) >= 2
    assert any(b',"' in f.raw for f in small.feeds)  # some files quote their text fields


def test_truth_rows_cover_every_data_row(small: Run) -> None:
    total = sum(len(f.rows) for f in small.feeds)
    assert small.truth_lines == total == small.summary["rows"]
    for feed in small.feeds:
        for row in feed.rows:
            t = small.truth[(feed.name, int(row["seq"]))]
            assert t["atena_no"] == row["atena_no"]
            assert t["outcome"] in ("accepted", "quarantined", "duplicate")
            assert (t["reason"] != "") == (t["outcome"] == "quarantined")
    summary = json.loads((small.root / "truth" / "summary.json").read_text(encoding="utf-8"))
    for f, feed in zip(summary["files"], small.feeds, strict=True):
        outcomes = Counter(small.truth[(feed.name, int(r["seq"]))]["outcome"] for r in feed.rows)
        assert (f["rows"], f["accepted"], f["quarantined"], f["duplicates"]) == (
            len(feed.rows),
            outcomes["accepted"],
            outcomes["quarantined"],
            outcomes["duplicate"],
        )
    no_kojin = (small.root / "truth").glob("*")
    kojin = {r["kojin_no"] for f in small.feeds for r in f.rows if r["kojin_no"]}
    for path in no_kojin:
        text = path.read_text(encoding="utf-8")
        assert not any(k in text for k in list(kojin)[:500])


def test_persons_unique_and_sorted(small: Run) -> None:
    atena = [p["atena_no"] for p in small.persons]
    assert len(atena) == len(set(atena)) == small.summary["registry_persons"]
    assert atena == sorted(atena)
    assert {p["status"] for p in small.persons} <= {"resident", "moved_out", "deceased", "removed"}


# --------------------------------------------------------------------------- clean rows


def _date(value: str) -> dt.date | None:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _accepted(run: Run) -> list[tuple[Feed, dict[str, str]]]:
    return [
        (f, r)
        for f in run.feeds
        for r in f.rows
        if run.truth[(f.name, int(r["seq"]))]["outcome"] == "accepted"
    ]


def test_clean_rows_are_valid(small: Run) -> None:
    rows = _accepted(small)
    kojin = [r["kojin_no"] for _f, r in rows if r["kojin_no"]]
    assert all(is_valid_my_number(k) for k in kojin)
    assert my_number_valid_mask(pa.array(kojin)).all()
    assert 0.6 < len(kojin) / len(rows) < 0.8
    for feed, r in rows:
        code = int(r["event_code"])
        ev, birth = _date(r["event_date"]), _date(r["birth_date"])
        assert ev is not None and birth is not None
        assert birth <= ev <= feed.date
        notified = _date(r["notified_date"])
        assert notified is not None and ev <= notified <= feed.date
        assert re.fullmatch(r"[0-9]{10}", r["atena_no"]) and re.fullmatch(r"[0-9]{10}", r["household_no"])
        assert r["sex"] in ("1", "2")
        assert KATAKANA.match(r["name_kana"]), r["name_kana"]
        assert "　" in r["name_kanji"] and "　" in r["householder_name"]
        assert r["relationship"] in ("世帯主", "妻", "夫", "子", "父", "母")
        assert ADDRESS.match(r["address"]), r["address"]
        for col in ("address_date", "resident_since"):
            d = _date(r[col])
            assert d is not None and birth <= d <= ev
        if r["resident_class"] == "2":
            assert re.fullmatch(r"[A-Z' ]+ [A-Z' ]+", r["name_alpha"]) and _date(r["foreign_resident_since"])
        else:
            assert r["resident_class"] == "1" and r["name_alpha"] == r["foreign_resident_since"] == ""
        if 20 <= code <= 23:
            assert r["removed_date"] == r["event_date"]
        else:
            assert r["removed_date"] == ""
    initial = {int(r["event_code"]) for f, r in rows if f is small.feeds[0]}
    assert initial == {10, 11, 12}
    for feed in small.feeds[1:]:
        assert sum(1 for f, _r in rows if f is feed) == small.summary["events_per_night"]


def test_realistic_mix(medium: Run) -> None:
    rows = _accepted(medium)
    nightly = [(f, r) for f, r in rows if f is not medium.feeds[0]]
    codes = Counter(int(r["event_code"]) for _f, r in nightly)
    assert set(codes) == {10, 11, 13, 20, 21, 22, 23, 30, 31, 32, 33, 40}
    assert codes[30] > codes[20] > codes[22]
    surnames = Counter(r["name_kanji"].split("　")[0] for _f, r in rows)
    top = [s for s, _n in surnames.most_common(4)]
    assert "佐藤" in top and "鈴木" in top
    old = sum(n for s, n in surnames.items() if OLD_FORMS & set(s)) / len(rows)
    assert 0.01 < old < 0.035
    half = sum(1 for _f, r in rows if re.search("[\uff65-\uff9f]", r["name_kana"])) / len(rows)
    assert 0.004 < half < 0.02
    foreign = sum(1 for _f, r in rows if r["resident_class"] == "2") / len(rows)
    assert 0.015 < foreign < 0.05
    per_person_night = Counter((f.name, r["atena_no"]) for f, r in nightly)
    assert max(per_person_night.values()) >= 2


def test_dirt_present_in_each_category(medium: Run) -> None:
    outcomes = Counter(t["reason"] or t["outcome"] for t in medium.truth.values())
    for reason in (*REASONS, "duplicate"):
        assert outcomes[reason] > 0, reason
    initial = medium.feeds[0]
    dirty0 = sum(
        1 for r in initial.rows if medium.truth[(initial.name, int(r["seq"]))]["outcome"] != "accepted"
    )
    assert 0.003 < dirty0 / len(initial.rows) < 0.008
    nightly = [(f, r) for f in medium.feeds[1:] for r in f.rows]
    dirty = sum(1 for f, r in nightly if medium.truth[(f.name, int(r["seq"]))]["outcome"] != "accepted")
    assert 0.008 < dirty / len(nightly) < 0.03


def test_no_dirt_gives_same_registry(tmp_path: Path, small: Run) -> None:
    summary = synthesize(tmp_path, persons=SMALL, nights=NIGHTS, dirt=False)
    assert summary["dirt"] == {}
    persons = (tmp_path / "truth" / "persons.csv").read_bytes()
    assert persons == (small.root / "truth" / "persons.csv").read_bytes()


# --------------------------------------------------------------------------- independent replay


def _field_faults(row: dict[str, str], file_date: dt.date) -> list[str]:
    faults = []
    if not re.fullmatch(r"[0-9]{10}", row["atena_no"]):
        faults.append("atena_no_format")
    code = row["event_code"]
    if not (code.isascii() and code.isdigit()) or int(code) not in KNOWN_CODES:
        faults.append("event_code_unknown")
    if row["kojin_no"] and not is_valid_my_number(row["kojin_no"]):
        faults.append("kojin_no_check_digit")
    ev, birth = _date(row["event_date"]), _date(row["birth_date"])
    if ev is None:
        faults.append("event_date_invalid")
    elif ev > file_date:
        faults.append("event_date_after_file_date")
    if birth is None:
        faults.append("birth_date_invalid")
    elif ev is not None and birth > ev:
        faults.append("birth_date_after_event")
    if row["sex"] not in ("1", "2"):
        faults.append("sex_invalid")
    if not KATAKANA.match(row["name_kana"]):
        faults.append("name_kana_not_katakana")
    if row["event_code"].isdigit() and int(row["event_code"]) in IN_WARD and not row["address"]:
        faults.append("address_missing")
    return faults


def _state_fault(code: int, status: str | None) -> str | None:
    if status is None:
        return None if code in (10, 11, 12, 13) else "unknown_person"
    if status == "deceased":
        return None if code == 33 else "person_deceased"
    if code in (20, 21, 22, 23, 30, 31, 32) and status != "resident":
        return "person_not_resident"
    if code == 40 and status != "moved_out":
        return "not_moved_out"
    return None


_AFTER = {
    10: "resident",
    11: "resident",
    12: "resident",
    13: "resident",
    40: "resident",
    20: "moved_out",
    23: "moved_out",
    21: "deceased",
    22: "removed",
}


def _replay(run: Run) -> None:
    registry: dict[str, dict[str, str]] = {}
    address_at_move_out: dict[str, str] = {}
    for feed in run.feeds:
        seen: set[tuple[str, ...]] = set()
        for row, cells in zip(feed.rows, feed.lines, strict=True):
            truth = run.truth[(feed.name, int(row["seq"]))]
            key = tuple(cells[1:])
            faults = _field_faults(row, feed.date)
            if "atena_no_format" not in faults and "event_code_unknown" not in faults:
                prior = registry.get(row["atena_no"])
                state = _state_fault(int(row["event_code"]), prior["status"] if prior else None)
                if state:
                    faults.append(state)
            elif "atena_no_format" not in faults:
                # An unknown code has no state rule of its own, but the person must be known and alive.
                prior = registry.get(row["atena_no"])
                if prior is None or prior["status"] == "deceased":
                    faults.append("unknown_person" if prior is None else "person_deceased")
            where = f"{feed.name} seq {row['seq']}: {faults} vs {truth}"
            if truth["outcome"] == "duplicate":
                assert key in seen, where
                continue
            seen.add(key)
            if truth["outcome"] == "quarantined":
                assert faults == [truth["reason"]], where
                continue
            assert truth["outcome"] == "accepted" and faults == [], where
            code = int(row["event_code"])
            person = registry.setdefault(row["atena_no"], {"status": "", "removed_date": ""})
            if code == 40:
                assert row["address"] == address_at_move_out[row["atena_no"]], where
            if code == 20:
                address_at_move_out[row["atena_no"]] = row["address"]
            if code in _AFTER:
                person["status"] = _AFTER[code]
            if 20 <= code <= 23:
                person["removed_date"] = row["removed_date"]
            elif code in (10, 11, 12, 40):
                person["removed_date"] = ""
            person.update(name_kana=row["name_kana"], birth_date=row["birth_date"], sex=row["sex"])
    fields = ("status", "name_kana", "birth_date", "sex", "removed_date")
    expected = [{"atena_no": a, **{k: p[k] for k in fields}} for a, p in sorted(registry.items())]
    assert run.persons == expected


def test_replay_small(small: Run) -> None:
    _replay(small)


def test_replay_medium(medium: Run) -> None:
    _replay(medium)


def test_new_atena_numbers_never_reused(medium: Run) -> None:
    registered: set[str] = set()
    for feed in medium.feeds:
        for row in feed.rows:
            t = medium.truth[(feed.name, int(row["seq"]))]
            if t["outcome"] != "accepted":
                continue
            if row["event_code"] in ("10", "11", "12") and feed is not medium.feeds[0]:
                assert row["atena_no"] not in registered
            registered.add(row["atena_no"])
    unknown = {t["atena_no"] for t in medium.truth.values() if t["reason"] == "unknown_person"}
    assert unknown and not unknown & registered
