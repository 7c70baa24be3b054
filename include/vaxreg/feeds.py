"""Feed layouts (feeds.md) and the CSV reader shared by every feed.

Reading is columnar (pyarrow): every column is read as text, exactly as received,
with the empty string as "no value". A row whose bytes do not decode, or whose
field count is wrong, is cut out with its row number and a reason code so that it
can be quarantined while the rest of the file goes on. A file whose header is not
the contract's is refused as a whole (:class:`FileRejected`).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from vaxreg.identity.validators import municipality_check_digit

# 12-digit runs are scrubbed from any raw text that is kept (privacy.md P3).
_TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


class FileRejected(Exception):
    """A file-level error: the file is refused whole. The message is one line, no personal data."""


@dataclass(frozen=True)
class Layout:
    feed: str
    file_pattern: re.Pattern[str]
    columns: tuple[str, ...]
    encoding: str
    date_format: str = "%Y%m%d"
    sensitive: tuple[str, ...] = ()  # read, but never written to staging, logs or quarantine
    # Received header name -> internal column name (CP932 feeds have Japanese headers).
    rename: dict[str, str] = field(default_factory=dict)
    optional: tuple[str, ...] = ()  # header names that may be absent (their column is then blank)
    monthly: bool = False  # the file name carries YYYYMM: the file date is the month's last day
    kind: str = ""  # which file of a feed with several layouts (welfare, vrs); "" = the feed itself

    @property
    def fields(self) -> tuple[str, ...]:
        """Internal column names, in layout order."""
        return tuple(self.rename.get(c, c) for c in self.columns)

    def file_date(self, name: str) -> dt.date:
        m = self.file_pattern.fullmatch(name)
        if not m:
            raise FileRejected(f"{name}: file name does not match {self.file_pattern.pattern}")
        try:
            day = dt.datetime.strptime(m.group("date"), self.date_format).date()
        except ValueError:
            raise FileRejected(f"{name}: file name carries an invalid date") from None
        if self.monthly:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        return day

    def name_part(self, name: str, part: str) -> str:
        m = self.file_pattern.fullmatch(name)
        if not m:
            raise FileRejected(f"{name}: file name does not match {self.file_pattern.pattern}")
        return m.group(part)


RESIDENT = Layout(
    feed="resident",
    file_pattern=re.compile(r"JUKI_DIFF_(?P<date>[0-9]{8})\.csv"),
    columns=(
        "seq",
        "atena_no",
        "kojin_no",
        "event_code",
        "event_date",
        "notified_date",
        "name_kanji",
        "name_kana",
        "name_alpha",
        "birth_date",
        "sex",
        "household_no",
        "relationship",
        "householder_name",
        "address",
        "address_date",
        "resident_since",
        "resident_class",
        "foreign_resident_since",
        "removed_date",
    ),
    encoding="utf-8",
    sensitive=("kojin_no",),
)

# 医師会 接種記録 (feeds.md §4) and 他区接種分 (§5): same columns, Japanese headers, CP932.
VACCINATION_COLUMNS = {
    "宛名番号": "atena_no",
    "カナ氏名": "name_kana",
    "生年月日": "birth_date",
    "性別": "sex",
    "予防接種種別コード": "vaccine_code",
    "接種期": "phase",
    "接種回数": "dose_no",
    "接種日": "dose_date",
    "予診のみ": "preliminary_only",
    "ワクチン名称": "product_name",
    "ロット番号": "lot_no",
    "医療機関コード": "institution_code",
    "接種地コード": "place_code",
    "自己負担区分": "self_pay_declared",
}
CLINIC = Layout(
    feed="clinic",
    file_pattern=re.compile(r"ISHIKAI_(?P<date>[0-9]{6})\.csv"),
    columns=tuple(VACCINATION_COLUMNS),
    encoding="cp932",
    date_format="%Y%m",
    rename=dict(VACCINATION_COLUMNS),
    monthly=True,
)
OTHERWARD = Layout(
    feed="otherward",
    file_pattern=re.compile(r"TAKU_(?P<date>[0-9]{6})_(?P<ward>[0-9]{6})\.csv"),
    columns=(*VACCINATION_COLUMNS, "住所"),
    encoding="cp932",
    date_format="%Y%m",
    rename=VACCINATION_COLUMNS | {"住所": "address"},
    optional=("住所",),
    monthly=True,
)

# 生活保護・障害者手帳 (feeds.md §3): monthly full snapshots, CP932, wareki dates.
SEIHO = Layout(
    feed="welfare",
    kind="welfare_seiho",
    file_pattern=re.compile(r"SEIHO_(?P<date>[0-9]{6})\.csv"),
    columns=("宛名番号", "ケース番号", "開始日", "廃止日"),
    encoding="cp932",
    date_format="%Y%m",
    rename={"宛名番号": "atena_no", "ケース番号": "case_no", "開始日": "start_date", "廃止日": "end_date"},
    monthly=True,
)
TECHO = Layout(
    feed="welfare",
    kind="welfare_techo",
    file_pattern=re.compile(r"TECHO_(?P<date>[0-9]{6})\.csv"),
    columns=("宛名番号", "手帳種別", "等級", "障害部位", "交付日", "有効期限"),
    encoding="cp932",
    date_format="%Y%m",
    rename={
        "宛名番号": "atena_no",
        "手帳種別": "techo_type",
        "等級": "grade",
        "障害部位": "part",
        "交付日": "issued_date",
        "有効期限": "expiry_date",
    },
    monthly=True,
)
# The welfare feed as fetch sees it: either file name, the snapshot month in the name.
WELFARE = Layout(
    feed="welfare",
    file_pattern=re.compile(r"(?:SEIHO|TECHO)_(?P<date>[0-9]{6})\.csv"),
    columns=(),
    encoding="cp932",
    date_format="%Y%m",
    monthly=True,
)

# VRS (vrs.md): UTF-8 with BOM, Japanese headers, YYYYMMDD dates.
VRS_SUBJECTS = Layout(
    feed="vrs",
    kind="vrs_subjects",
    file_pattern=re.compile(r"VRS_SUBJECTS_(?P<date>[0-9]{8})\.csv"),
    columns=("自治体コード", "券番号", "宛名番号", "カナ氏名", "生年月日", "性別"),
    encoding="utf-8",
    rename={
        "自治体コード": "municipality_code",
        "券番号": "voucher",
        "宛名番号": "atena_no",
        "カナ氏名": "name_kana",
        "生年月日": "birth_date",
        "性別": "sex",
    },
)
VRS_ATENA = "個別宛名番号"
# One group of eight columns per dose n = 1, 2, … (vrs.md): header suffix -> internal name.
VRS_GROUP = {
    "接種履歴登録日時": "registered_at",
    "接種日": "dose_date",
    "券番号": "voucher",
    "接種自治体コード": "voucher_municipality",
    "接種会場名": "venue",
    "接種医師名": "doctor",
    "ワクチンメーカー": "maker",
    "ワクチンロット番号": "lot_no",
}
VRS_RECORDS_PATTERN = re.compile(r"VRS_RECORDS_(?P<date>[0-9]{8})\.csv")
VRS = Layout(
    feed="vrs",
    file_pattern=re.compile(r"VRS_(?:SUBJECTS|RECORDS)_(?P<date>[0-9]{8})\.csv"),
    columns=(),
    encoding="utf-8",
)


def vrs_records_layout(groups: int) -> Layout:
    """The records layout (予防接種台帳向け出力) with ``groups`` dose groups, numbered 1..groups."""
    columns = [VRS_ATENA] + [f"{n}回目{suffix}" for n in range(1, groups + 1) for suffix in VRS_GROUP]
    rename = {VRS_ATENA: "atena_given"} | {
        f"{n}回目{suffix}": f"d{n}_{name}" for n in range(1, groups + 1) for suffix, name in VRS_GROUP.items()
    }
    return Layout(
        feed="vrs",
        kind="vrs_records",
        file_pattern=VRS_RECORDS_PATTERN,
        columns=tuple(columns),
        encoding="utf-8",
        rename=rename,
    )


_GROUP_HEADER = re.compile(r"([0-9]+)回目(.+)")


def vrs_dose_groups(header: Sequence[str], name: str = "") -> int:
    """How many dose groups a records header holds. Refuses (``FileRejected``) a header whose
    groups are not numbered 1..N without gaps, each with exactly its eight columns."""
    seen: dict[int, set[str]] = {}
    unknown = []
    for h in header:
        if h == VRS_ATENA:
            continue
        m = _GROUP_HEADER.fullmatch(h)
        if not m or m.group(2) not in VRS_GROUP or m.group(1).startswith("0"):
            unknown.append(h)
            continue
        seen.setdefault(int(m.group(1)), set()).add(m.group(2))
    prefix = f"{name}: " if name else ""
    if unknown:
        raise FileRejected(prefix + "unknown column(s) " + ", ".join(unknown))
    if VRS_ATENA not in header:
        raise FileRejected(prefix + f"missing column(s) {VRS_ATENA}")
    if not seen:
        raise FileRejected(prefix + "no dose group (1回目…) in the header")
    groups = max(seen)
    gaps = [n for n in range(1, groups + 1) if n not in seen]
    if gaps:
        raise FileRejected(
            prefix
            + "dose groups are not numbered without gaps (missing "
            + ", ".join(f"{n}回目" for n in gaps)
            + ")"
        )
    partial = [n for n, cols in sorted(seen.items()) if len(cols) != len(VRS_GROUP)]
    if partial:
        raise FileRejected(
            prefix
            + "incomplete dose group(s) "
            + ", ".join(f"{n}回目" for n in partial)
            + " (8 columns each)"
        )
    return groups


def read_header(path: Path, encoding: str) -> list[str]:
    """The header names of a CSV file (BOM removed)."""
    with path.open("rb") as f:
        first = f.readline()
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    try:
        text = first.decode(encoding)
    except UnicodeDecodeError:
        raise FileRejected(f"{path.name}: header is not valid {encoding}") from None
    return [h.strip().strip('"') for h in text.rstrip("\r\n").split(",")]


LAYOUTS = {layout.feed: layout for layout in (RESIDENT, CLINIC, OTHERWARD, WELFARE, VRS)}
# Feeds with several files: (layout, order within a date). Subjects before records (vrs.md).
_FILES: dict[str, tuple[tuple[re.Pattern[str], int, Layout | None], ...]] = {
    "welfare": ((SEIHO.file_pattern, 0, SEIHO), (TECHO.file_pattern, 1, TECHO)),
    "vrs": ((VRS_SUBJECTS.file_pattern, 0, VRS_SUBJECTS), (VRS_RECORDS_PATTERN, 1, None)),
}


def layout_for(feed: str, name: str, path: Path | None = None) -> Layout:
    """The layout of one file of ``feed``. The VRS records layout depends on the header
    (any number of dose groups): ``path`` is read for it."""
    for pattern, _, layout in _FILES.get(feed, ()):
        if pattern.fullmatch(name):
            if layout is not None:
                return layout
            if path is None:
                return vrs_records_layout(1)
            return vrs_records_layout(vrs_dose_groups(read_header(path, "utf-8"), name))
    if feed in _FILES:
        raise FileRejected(f"{name}: file name does not match {LAYOUTS[feed].file_pattern.pattern}")
    return LAYOUTS[feed]


def order_key(feed: str, name: str) -> tuple[str, int, str]:
    """Processing order: name order, except that a feed's files of one date go in their
    contract order (VRS subjects before records of the same date; SEIHO before TECHO)."""
    layout = LAYOUTS.get(feed)
    m = layout.file_pattern.fullmatch(name) if layout else None
    if feed not in _FILES or not m:
        return ("", 0, name)
    rank = next((r for p, r, _ in _FILES[feed] if p.fullmatch(name)), 9)
    return (m.group("date"), rank, name)


# Tokyo's 23 special wards (特別区): 131016 … 131237 (feeds.md §1).
TOKYO_WARDS = frozenset(f"131{n:02d}{municipality_check_digit(f'131{n:02d}')}" for n in range(1, 24))


def home_municipality() -> str:
    """Our municipality code (Minato City by default; ``VAXREG_MUNICIPALITY_CODE``)."""
    import os

    return os.environ.get("VAXREG_MUNICIPALITY_CODE", "131032")


def check_file_name(layout: Layout, name: str) -> None:
    """File-level checks of the name beyond its pattern: the other ward's code (feeds.md §5)."""
    layout.file_date(name)
    if "ward" in layout.file_pattern.groupindex:
        ward = layout.name_part(name, "ward")
        if ward not in TOKYO_WARDS:
            raise FileRejected(f"{name}: ward code {ward} is not a valid code of a Tokyo special ward")
        if ward == home_municipality():
            raise FileRejected(f"{name}: ward code {ward} is our own municipality, not another ward")


@dataclass
class ParsedFile:
    """Rows as text columns plus ``row_no`` (data rows counted from 1), and the rows cut out."""

    table: pa.Table
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (row_no, reason, scrubbed raw)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.rejected)


def scrub(text: str) -> str:
    """Raw text safe to keep: any 12-digit run (a possible My Number) is masked."""
    return _TWELVE_DIGITS.sub("<removed>", text)


def raw_row_json(row: dict[str, object], layout: Layout) -> str:
    """The received row as JSON for the quarantine table, without the sensitive columns."""
    hidden = {*layout.sensitive, *(layout.rename.get(c, c) for c in layout.sensitive)}
    kept = {k: v for k, v in row.items() if k not in hidden and k != "row_no"}
    return scrub(json.dumps(kept, ensure_ascii=False, default=str))


def received_json(record: dict[str, object]) -> str:
    """A received row (NaN as null) as review items and quarantine keep it, 12-digit runs masked."""
    kept = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    return scrub(json.dumps(kept, ensure_ascii=False, default=str))


def _decode_lines(data: bytes, encoding: str) -> tuple[bytes, list[int], list[tuple[int, str, str]]]:
    """UTF-8 bytes of the decodable lines, their original line numbers, and the lines cut out."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        pass
    else:
        utf8 = data if encoding == "utf-8" else text.encode()
        return utf8, list(range(1, utf8.count(b"\n") + 2)), []
    good: list[bytes] = []
    line_nos: list[int] = []
    bad: list[tuple[int, str, str]] = []
    for no, line in enumerate(data.split(b"\n"), start=1):
        try:
            good.append(line.decode(encoding).encode("utf-8"))
            line_nos.append(no)
        except UnicodeDecodeError:
            if no == 1:
                raise FileRejected(f"header is not valid {encoding}") from None
            bad.append((no - 1, "encoding", scrub(line.decode(encoding, errors="replace").rstrip("\r"))))
    return b"\n".join(good), line_nos, bad


def parse_csv(path: Path, layout: Layout, only: Sequence[str] | None = None) -> ParsedFile:
    """Read a feed file. Raises :class:`FileRejected` for a header that breaks the contract.

    ``only`` names the received columns to keep (all by default): the others are
    still checked and tokenised, but never materialised.
    """
    data = path.read_bytes()
    if not data or data.isspace():
        raise FileRejected(f"{path.name}: empty file")
    utf8, line_nos, rejected = _decode_lines(data, layout.encoding)

    header = next(iter(io.TextIOWrapper(io.BytesIO(utf8), encoding="utf-8", newline="")), "")
    names = [h.strip().strip('"') for h in header.rstrip("\r\n").split(",")]
    missing = [c for c in layout.columns if c not in names and c not in layout.optional]
    extra = [c for c in names if c not in layout.columns]
    if missing or extra or len(set(names)) != len(names):
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if extra:
            parts.append("unknown column(s) " + ", ".join(extra))
        if len(set(names)) != len(names):
            parts.append("repeated column name")
        raise FileRejected(f"{path.name}: " + "; ".join(parts))

    wanted = [c for c in layout.columns if only is None or c in only]

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # row.number is the physical line in the decoded buffer (the header is line 1)
        line = line_nos[row.number - 1] if row.number and row.number <= len(line_nos) else 0
        rejected.append((line - 1, "malformed_row", scrub(row.text)))
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(utf8),
        read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in names},
            include_columns=[c for c in wanted if c in names],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    for c in wanted:
        if c not in table.column_names:  # an optional column the sender left out
            table = table.append_column(c, pa.nulls(table.num_rows, pa.string()))
    field_of = dict(zip(layout.columns, layout.fields, strict=True))
    table = table.select(wanted).rename_columns([field_of[c] for c in wanted])
    bad_rows = {r[0] for r in rejected}
    n_total = table.num_rows + len(rejected)
    row_nos = [n for n in range(1, n_total + 1) if n not in bad_rows] if bad_rows else range(1, n_total + 1)
    table = table.append_column("row_no", pa.array(row_nos, pa.int32()))
    rejected.sort()
    return ParsedFile(table=table, rejected=rejected)


VRS_DOSE_FIELDS = tuple(VRS_GROUP.values())


def unpivot_vrs(table: pa.Table) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Wide VRS records (one row per person, ``d{n}_<field>`` per dose) → one row per dose.

    A group whose eight columns are all empty is no dose. Each dose row keeps the file's
    ``row_no``, ``atena_given`` and ``is_duplicate`` and gets ``dose_no`` = n. A file row with
    no dose at all is returned as cut out (``no_doses``). Columnar: one filter per group.
    """
    import pyarrow.compute as pc

    groups = sorted(
        {int(c[1:].split("_", 1)[0]) for c in table.column_names if re.fullmatch(r"d[0-9]+_.+", c)}
    )
    parts = []
    any_dose = pa.array([False] * table.num_rows)
    for n in groups:
        cols = [table.column(f"d{n}_{f}") for f in VRS_DOSE_FIELDS]
        present = pc.is_valid(cols[0])
        for c in cols[1:]:
            present = pc.or_(present, pc.is_valid(c))
        present = present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present
        any_dose = pc.or_(any_dose, present)
        part = pa.table(
            {
                "row_no": table.column("row_no"),
                "dose_no": pa.repeat(pa.scalar(n, pa.int32()), table.num_rows),
                "atena_given": table.column("atena_given"),
                **dict(zip(VRS_DOSE_FIELDS, cols, strict=True)),
                "is_duplicate": table.column("is_duplicate"),
            }
        ).filter(present)
        parts.append(part)
    long = pa.concat_tables(parts) if parts else pa.table({})
    long = long.sort_by([("row_no", "ascending"), ("dose_no", "ascending")])
    empty = table.filter(pc.invert(any_dose))
    rejected = [
        (int(r["row_no"]), "no_doses", raw_row_json({"atena_given": r["atena_given"]}, VRS))
        for r in empty.select(["row_no", "atena_given"]).to_pylist()
    ]
    return long, rejected
