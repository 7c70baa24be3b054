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
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

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

    def file_date(self, name: str) -> dt.date:
        m = self.file_pattern.fullmatch(name)
        if not m:
            raise FileRejected(f"{name}: file name does not match {self.file_pattern.pattern}")
        try:
            return dt.datetime.strptime(m.group("date"), self.date_format).date()
        except ValueError:
            raise FileRejected(f"{name}: file name carries an invalid date") from None


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

LAYOUTS = {layout.feed: layout for layout in (RESIDENT,)}


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
    kept = {k: v for k, v in row.items() if k not in layout.sensitive and k != "row_no"}
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


def parse_csv(path: Path, layout: Layout) -> ParsedFile:
    """Read a feed file. Raises :class:`FileRejected` for a header that breaks the contract."""
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected(f"{path.name}: empty file")
    utf8, line_nos, rejected = _decode_lines(data, layout.encoding)

    header = next(iter(io.TextIOWrapper(io.BytesIO(utf8), encoding="utf-8", newline="")), "")
    names = [h.strip().strip('"') for h in header.rstrip("\r\n").split(",")]
    missing = [c for c in layout.columns if c not in names]
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
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    table = table.select(list(layout.columns))
    bad_rows = {r[0] for r in rejected}
    n_total = table.num_rows + len(rejected)
    row_nos = [n for n in range(1, n_total + 1) if n not in bad_rows] if bad_rows else range(1, n_total + 1)
    table = table.append_column("row_no", pa.array(row_nos, pa.int32()))
    rejected.sort()
    return ParsedFile(table=table, rejected=rejected)
