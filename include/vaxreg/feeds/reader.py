"""The CSV reader shared by every feed (feeds.md §1).

Reading is columnar (pyarrow): every column is read as text, exactly as received,
with the empty string as "no value". A row whose bytes do not decode, or whose
field count is wrong, is cut out with its row number and a reason code so that it
can be quarantined while the rest of the file goes on. A file whose header is not
the contract's is refused as a whole (:class:`~vaxreg.feeds.layout.FileRejected`).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from vaxreg.feeds.layout import FileRejected, Layout
from vaxreg.identity.validators import kojin_no_status

# 12-digit runs are scrubbed from any raw text that is kept (privacy.md P3).
_TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
# C0 control characters and DEL: never part of a received value (NUL cannot even be stored on
# PostgreSQL); a value holding one quarantines its row as ``control_character``.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_PATTERN = "[\\x00-\\x1f\\x7f]"  # the same, for pyarrow's RE2
# Longest raw text kept for a row cut out (an over-long field is not stored whole).
_RAW_MAX = 2000


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


@dataclass
class ParsedFile:
    """Rows as text columns plus ``row_no`` (data rows counted from 1), and the rows cut out."""

    table: pa.Table
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (row_no, reason, scrubbed raw)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.rejected)


def scrub(text: str) -> str:
    """Raw text safe to keep: any 12-digit run (a possible My Number) is masked and control
    characters become U+FFFD (JSON escapes its own)."""
    return _TWELVE_DIGITS.sub("<removed>", _CONTROL.sub("\ufffd", text.rstrip("\r\n")))


def _cut(text: str, limit: int = _RAW_MAX) -> str:
    """At most ``limit`` characters of a raw text kept for a row cut out."""
    return text[:limit] + "…" if len(text) > limit else text


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
            bad.append((no - 1, "encoding", _cut(scrub(line.decode(encoding, errors="replace")))))
    if bad and not any(not line.isascii() for line in good[1:]):
        # Not one row with non-ASCII text decodes: the whole file is in another encoding.
        raise FileRejected(
            f"file is not {encoding}: {len(bad)} row(s) do not decode and none with non-ASCII text does"
        )
    return b"\n".join(good), line_nos, bad


def _physical_records(utf8: bytes) -> int:
    """Non-empty lines after the header: the records a well-formed file holds (feeds.md §1)."""
    if b"\n\n" not in utf8 and b"\n\r\n" not in utf8:
        stripped = utf8.rstrip(b"\r\n")
        return stripped.count(b"\n") if stripped else 0
    lines = [line for line in utf8.split(b"\n") if line.rstrip(b"\r")]
    return max(len(lines) - 1, 0)


def _check_records(table: pa.Table, utf8: bytes, malformed: int) -> None:
    """Refuse a file that does not parse into exactly its physical records (an unclosed quote
    runs a value over the line ends and swallows the rows after it)."""
    expected = _physical_records(utf8)
    if table.num_rows + malformed != expected:
        raise FileRejected(
            f"{expected} record line(s) but {table.num_rows + malformed} parsed row(s): "
            'an unbalanced quote (") runs over line ends'
        )
    for name in table.column_names:
        if pc.any(pc.match_substring_regex(table.column(name), "[\r\n]")).as_py():
            raise FileRejected(
                f'column {name} holds a line break: an unbalanced quote (") runs over line ends'
            )


def _cut_bad_values(table: pa.Table, layout: Layout, rejected: list[tuple[int, str, str]]) -> pa.Table:
    """Rows with a control character or a value over its column's limit are cut out with
    ``control_character`` / ``field_too_long`` (decisions: limits of received values)."""
    n = table.num_rows
    control = np.zeros(n, dtype=bool)
    too_long = np.zeros(n, dtype=bool)
    header_of = {f: c for c, f in zip(layout.columns, layout.fields, strict=True)}
    for name in table.column_names:
        if name == "row_no" or name not in header_of:
            continue
        col = table.column(name)
        control |= pc.fill_null(pc.match_substring_regex(col, _CONTROL_PATTERN), False).to_numpy(
            zero_copy_only=False
        )
        too_long |= pc.fill_null(
            pc.greater(pc.utf8_length(col), layout.limit(header_of[name])), False
        ).to_numpy(zero_copy_only=False)
    bad = control | too_long
    if not bad.any():
        return table
    hidden = {*layout.sensitive, *(layout.rename.get(c, c) for c in layout.sensitive)}
    for i in np.flatnonzero(bad):
        row = table.slice(int(i), 1).to_pylist()[0]
        reasons = ";".join(
            r for r, m in (("control_character", control), ("field_too_long", too_long)) if m[i]
        )
        kept = {
            k: (_cut(v, 200) if isinstance(v, str) else v)
            for k, v in row.items()
            if k not in hidden and k != "row_no"
        }
        rejected.append((row["row_no"], reasons, _cut(scrub(json.dumps(kept, ensure_ascii=False)))))
    return table.filter(pa.array(~bad))


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
        rejected.append((line - 1, "malformed_row", _cut(scrub(row.text))))
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
    _check_records(table, utf8, sum(r[1] == "malformed_row" for r in rejected))
    for c in wanted:
        if c not in table.column_names:  # an optional column the sender left out
            table = table.append_column(c, pa.nulls(table.num_rows, pa.string()))
    field_of = dict(zip(layout.columns, layout.fields, strict=True))
    table = table.select(wanted).rename_columns([field_of[c] for c in wanted])
    bad_rows = {r[0] for r in rejected}
    n_total = table.num_rows + len(rejected)
    row_nos = [n for n in range(1, n_total + 1) if n not in bad_rows] if bad_rows else range(1, n_total + 1)
    table = table.append_column("row_no", pa.array(row_nos, pa.int32()))
    table = _cut_bad_values(table, layout, rejected)
    rejected.sort()
    return ParsedFile(table=table, rejected=rejected)


def duplicated(table: pa.Table) -> np.ndarray:
    """``DataFrame.duplicated(keep="first")`` of a table of text columns, columnar (nulls equal)."""
    n = table.num_rows
    if n == 0 or table.num_columns == 0:
        return np.zeros(n, dtype=bool)
    idx = table.append_column("__i", pa.array(np.arange(n)))
    firsts = idx.group_by(table.column_names, use_threads=False).aggregate([("__i", "min")])
    dup = np.ones(n, dtype=bool)
    dup[firsts.column("__i_min").to_numpy()] = False
    return dup


def checked_my_numbers(landing: Path, layout: Layout, rows: pa.Array) -> pd.DataFrame:
    """(row_no, kojin_no) of the given rows whose My Number passed its check, from the landing copy.

    My Number never goes to staging; the apply step reads it back from the raw file it came in.
    """
    t = parse_csv(landing, layout, only=("kojin_no",)).table
    t = t.filter(pc.is_in(t.column("row_no"), rows))
    t = t.filter(pc.equal(kojin_no_status(t.column("kojin_no")), "valid"))
    return t.to_pandas()
