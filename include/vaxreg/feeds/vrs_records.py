"""VRS records (``VRS_RECORDS_YYYYMMDD.csv``, 予防接種台帳向け出力, vrs.md): one row per person, one
group of eight columns per dose, unpivoted at parse to one row per dose.

This module declares the file kind (:data:`KIND`): its layout (any number of dose groups, read
from the header), the parse-time unpivot, the derived columns its suite checks and how review
items are re-staged. The apply step, which resolves each file row to a person and writes its
doses, is :mod:`vaxreg.feeds.vrs_records_apply`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vaxreg.feeds import FileKind
from vaxreg.feeds.layout import FileRejected, Layout
from vaxreg.feeds.reader import read_header, received_json
from vaxreg.feeds.vrs_records_apply import apply
from vaxreg.identity import dates, validators

CAMPAIGN_START = dt.date(2021, 2, 17)
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


VRS_DOSE_FIELDS = tuple(VRS_GROUP.values())


def unpivot_vrs(table: pa.Table) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Wide VRS records (one row per person, ``d{n}_<field>`` per dose) → one row per dose.

    A group whose eight columns are all empty is no dose. Each dose row keeps the file's
    ``row_no``, ``atena_given`` and ``is_duplicate`` and gets ``dose_no`` = n. A file row with
    no dose at all is returned as cut out (``no_doses``). Columnar: one filter per group.
    """
    groups = sorted(
        {int(c[1:].split("_", 1)[0]) for c in table.column_names if re.fullmatch(r"d[0-9]+_.+", c)}
    )
    parts = []
    any_dose = pa.array([False] * table.num_rows, pa.bool_())
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
        (int(r["row_no"]), "no_doses", received_json({"atena_given": r["atena_given"]}))
        for r in empty.select(["row_no", "atena_given"]).to_pylist()
    ]
    return long, rejected


RESTAGE_KEYS = {"dose_date": "dose_date_raw"}  # the staged column -> the key the review row keeps it as


def restage(raws: list[dict[str, Any]], row_nos: list[int], atena: list[str]) -> tuple[pa.Table, list[str]]:
    """The received rows of accepted review items (one per file row, its doses in ``doses``) as
    staged dose rows, and the decided person of each dose row."""
    data: dict[str, list[Any]] = {c: [] for c in ("row_no", "dose_no", "atena_given", *VRS_DOSE_FIELDS)}
    decided: list[str] = []
    for raw, row_no, a in zip(raws, row_nos, atena, strict=True):
        for d in raw.get("doses", []):
            data["row_no"].append(row_no)
            data["dose_no"].append(int(d["dose_no"]))
            data["atena_given"].append(_text(raw.get(VRS_ATENA)))
            for f in VRS_DOSE_FIELDS:
                data[f].append(_text(d.get(RESTAGE_KEYS.get(f, f))))
            decided.append(a)
    types = {"row_no": pa.int32(), "dose_no": pa.int32()}
    return pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in data.items()}), decided


def _text(v: Any) -> str | None:
    """A received value as the CSV reader gives it: text, empty as null."""
    if v is None:
        return None
    s = str(v)
    return s if s != "" else None


def derived_columns(table: pa.Table, name: str) -> pa.Table:
    """What the records suite checks besides the received text."""
    number, status = validators.voucher_numbers(table.column("voucher"), table.column("voucher_municipality"))
    code = table.column("voucher_municipality").combine_chunks()
    ts = dates.parse_compact_timestamps(table.column("registered_at"))
    return (
        table.append_column("voucher_no", number)
        .append_column("voucher__status", status)
        .append_column("voucher_municipality__check", pa.array(validators.municipality_code_valid_mask(code)))
        .append_column("registered_at__ts", ts)
        .append_column("registered_at__date", pc.floor_temporal(ts, unit="day"))
        .append_column("dose_date__date", dates.parse_compact_dates(table.column("dose_date")))
        .append_column(
            "campaign_start__date",
            pa.repeat(
                pa.scalar(dt.datetime.combine(CAMPAIGN_START, dt.time()), pa.timestamp("s")), table.num_rows
            ),
        )
    )


def header_layout(path: Path, name: str) -> Layout:
    """The records layout of this file's header (any number of dose groups)."""
    return vrs_records_layout(vrs_dose_groups(read_header(path, "utf-8"), name))


VALIDATION_SLICE = 500_000  # rows per GX run of the VRS records: bounded memory
KIND = FileKind(
    layout=vrs_records_layout(1),
    suite="vrs_records",
    apply=apply,
    derive=derived_columns,
    reshape=unpivot_vrs,
    restage=restage,
    header_layout=header_layout,
    validate_slice=VALIDATION_SLICE,
)
