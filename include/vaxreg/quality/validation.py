"""Validating a staged file: its kind's derived columns, then its suite (in slices where the kind
says so), the row verdicts appended as ``reasons``. The pipeline's validate step calls this, and
so does the review queue when it re-validates the received rows of accepted items exactly as
their file was validated."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pyarrow as pa

from vaxreg.feeds.layout import Layout
from vaxreg.quality import datadocs
from vaxreg.quality.suites import Validation, validate_table

if TYPE_CHECKING:
    from vaxreg.feeds import FileKind


def validated_table(kind: FileKind, name: str, table: pa.Table) -> tuple[pa.Table, Validation]:
    """The staged table of file ``name`` with its derived columns and ``reasons`` (the suite's
    row verdicts); raises :class:`~vaxreg.feeds.layout.FileRejected` on a file-level failure."""
    file_date = kind.layout.file_date(name)
    if kind.derive is not None:
        table = kind.derive(table, name)
    if kind.validate_slice:
        result = _validate_in_slices(table, kind.layout, kind.suite, file_date, kind.validate_slice)
    else:
        result = validate_table(table, kind.layout, kind.suite, kind.date_columns, file_date)
    return table.append_column("reasons", pa.array(result.reasons, pa.string())), result


def _validate_in_slices(
    table: pa.Table, layout: Layout, suite: str, file_date: dt.date, rows: int
) -> Validation:
    """The suite of row-level checks run on slices of rows; the verdicts are those of the whole
    table (table-level expectations hold per slice: the columns, at least one row)."""
    out: Validation | None = None
    for start in range(0, max(table.num_rows, 1), rows):
        part = validate_table(table.slice(start, rows), layout, suite, (), file_date)
        if out is None:
            out = part
            continue
        out.reasons += part.reasons
        datadocs.merge(out.gx_results, part.gx_results)
        for total, s in zip(out.summary, part.summary, strict=True):
            total["failed"] += s["failed"]
    assert out is not None
    return out
