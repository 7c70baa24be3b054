"""Row- and file-level validation with Great Expectations suites kept in ``expectations/``.

Each expectation in a suite carries ``meta.reason`` (the quarantine reason code of
the rows it rejects) and ``meta.level`` (``row``, or ``file`` to refuse the whole
file). GX sees a frame prepared here: the received text columns, the dates
parsed (``<col>__date``, null when not a real date) and ``kojin_no__status``
instead of My Number, which never reaches GX, its results or its Data Docs.
Only counts per expectation leave this module, never values.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd
import pyarrow as pa

from vaxreg import config
from vaxreg.feeds.layout import FileRejected, Layout
from vaxreg.identity import dates
from vaxreg.quality import datadocs

log = logging.getLogger(__name__)


@dataclass
class Validation:
    reasons: list[str]  # per row: ';'-joined sorted reason codes, "" when the row passed
    file_errors: list[str] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)  # per expectation: reason, failed rows
    gx_results: list[Any] = field(default_factory=list)  # GX results, counts only (Data Docs)


def load_suite(name: str) -> dict[str, Any]:
    path = config.expectations_dir() / f"{name}.json"
    with path.open(encoding="utf-8") as f:
        suite: dict[str, Any] = json.load(f)
    return suite


def validation_frame(table: pa.Table, date_columns: tuple[str, ...], file_date: dt.date) -> pd.DataFrame:
    """The frame GX validates: received text, parsed dates, and the file date."""
    df = table.to_pandas()
    for col in date_columns:
        df[f"{col}__date"] = dates.parse_iso_dates(table.column(col).combine_chunks()).to_pandas()
    df["file_date__date"] = pd.Timestamp(file_date).as_unit("s")
    return df


@cache
def _gx_context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # GX resets it on import
    # GX labels each in-memory batch with an md5 of the whole frame (half the validation time at
    # 200k rows). The frames here are throwaway, so the label is not needed: turn it off.
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def _referenced_columns(expectation: dict[str, Any], columns: list[str]) -> set[str]:
    kwargs = expectation["kwargs"]
    used = {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
    condition = kwargs.get("row_condition")
    if condition:
        text = condition["pass_through_filter"] if isinstance(condition, dict) else str(condition)
        used |= {c for c in columns if re.search(rf"\b{re.escape(c)}\b", text)}
    return used


def _groups(suite_json: dict[str, Any], columns: list[str]) -> list[tuple[list[str], list[dict[str, Any]]]]:
    """Expectations grouped by row condition, each group with only the columns it reads.

    GX copies the frame it filters for every conditioned expectation; narrow frames
    make that cheap. The verdicts are those of the whole suite on the whole frame.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in suite_json["expectations"]:
        key = (
            "table" if e["type"].startswith("expect_table_") else json.dumps(e["kwargs"].get("row_condition"))
        )
        groups.setdefault(key, []).append(e)
    out = []
    for key, expectations in groups.items():
        cols = (
            columns
            if key == "table"
            else sorted(set().union(*(_referenced_columns(e, columns) for e in expectations)))
        )
        out.append((cols, expectations))
    return out


def run_suite(df: pd.DataFrame, suite_name: str) -> Validation:
    """Validate ``df`` with the named suite; map failing rows to their reason codes."""
    import great_expectations as gx

    ctx = _gx_context()
    df = df.reset_index(drop=True)
    source_name = f"vaxreg_{suite_name}"
    try:
        batch_def = ctx.data_sources.get(source_name).get_asset("frame").get_batch_definition("whole")
    except Exception:
        asset = ctx.data_sources.add_pandas(source_name).add_dataframe_asset("frame")
        batch_def = asset.add_batch_definition_whole_dataframe("whole")

    per_row: dict[int, set[str]] = {}
    out = Validation(reasons=[])
    for i, (cols, expectations) in enumerate(_groups(load_suite(suite_name), list(df.columns))):
        name = f"{suite_name}.{i}"
        try:
            suite = ctx.suites.get(name)
        except Exception:
            suite = ctx.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        batch = batch_def.get_batch(batch_parameters={"dataframe": df[cols]})
        result = batch.validate(
            suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0}
        )
        out.gx_results += [datadocs.counts_only(r) for r in result.results]
        for r in result.results:
            meta = r.expectation_config.meta or {}
            reason, level = meta.get("reason", r.expectation_config.type), meta.get("level", "row")
            if r.exception_info and r.exception_info.get("raised_exception"):
                # A broken expectation is a defect of the suite, never a reason to pass rows.
                raise RuntimeError(f"expectation {r.expectation_config.type} ({reason}) could not run")
            failed = r.result.get("unexpected_index_list") or []
            n_failed = len(failed) if failed else (0 if r.success else 1)
            out.summary.append({"reason": reason, "level": level, "failed": n_failed})
            if r.success:
                continue
            if level == "file":
                out.file_errors.append(reason)
            for row in failed:
                per_row.setdefault(int(row), set()).add(reason)
    out.reasons = [";".join(sorted(per_row[i])) if i in per_row else "" for i in range(len(df))]
    return out


def validate_table(
    table: pa.Table, layout: Layout, suite_name: str, date_columns: tuple[str, ...], file_date: dt.date
) -> Validation:
    """Validate a staged table (sensitive columns already replaced); raise FileRejected on file errors."""
    df = validation_frame(table, date_columns, file_date)
    result = run_suite(df, suite_name)
    if result.file_errors:
        exc = FileRejected("file-level check failed: " + ", ".join(sorted(set(result.file_errors))))
        exc.validation = result
        raise exc
    return result
