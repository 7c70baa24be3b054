"""Outbound files (feeds.md §7, outputs.md): exactly the specified columns, nothing else (P7).

Every outbound file is described here once, and :func:`publish` is the only way
one is written: it refuses a table whose columns are not exactly the layout's,
writes the CSV to a local work file, and hands it to the transport, which
publishes it atomically under ``inbox/<target>/`` with a ``.done`` marker
holding its SHA-256.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from vaxreg.transport import Source


class OutboundError(Exception):
    """An outbound file that would break its specification. One line, no personal data."""


@dataclass(frozen=True)
class OutboundLayout:
    target: str  # folder under inbox/
    name_pattern: str  # str.format pattern, e.g. "VRS_FLAGS_{date}.csv"
    columns: tuple[str, ...]


LAYOUTS: dict[str, OutboundLayout] = {}  # kind -> layout; each output module registers its own


def register(kind: str, layout: OutboundLayout) -> None:
    """Add a layout (each concern registers its own files, once, at import)."""
    if kind in LAYOUTS and LAYOUTS[kind] != layout:
        raise OutboundError(f"outbound layout {kind!r} is already defined differently")
    LAYOUTS[kind] = layout


def to_csv_bytes(table: pa.Table) -> bytes:
    """UTF-8 CSV with a header, LF line ends, quotes only around values that need them."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(table.column_names)
    columns = [c.to_pylist() for c in table.columns]
    writer.writerows(zip(*columns, strict=True))
    return buf.getvalue().encode("utf-8")


def publish(source: Source, kind: str, table: pa.Table, **name_parts: str) -> tuple[str, str]:
    """Write ``table`` as the outbound file ``kind``; returns (file name, sha256)."""
    layout = LAYOUTS[kind]
    if tuple(table.column_names) != layout.columns:
        raise OutboundError(
            f"{kind}: columns {list(table.column_names)} are not exactly the specified {list(layout.columns)}"
        )
    name = layout.name_pattern.format(**name_parts)
    with tempfile.TemporaryDirectory(prefix="vaxreg-outbound-") as tmp:
        work = Path(tmp) / name
        work.write_bytes(to_csv_bytes(table))
        digest = source.write_outbound(layout.target, name, work)
    return name, digest
