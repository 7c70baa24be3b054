"""Each validation is kept as a Great Expectations Data Docs page (16.4) under the staging area,
named in the validate step's log and in a refusal; counts only: a failing value (a name) never
reaches a page, and pages load nothing from outside the machine."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from vaxreg.pipeline import FeedRefused

from helpers.db import run
from helpers.resident import deliver, person, resident_csv

NAME = "SECRETNAMEKANA"  # not katakana: fails name_kana_not_katakana, would be an unexpected value


def test_validations_kept_as_data_docs(
    feed_root: Path,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    docs = tmp_path / "docs-site"
    monkeypatch.setenv("VAXREG_DATA_DOCS_DIR", str(docs))
    caplog.set_level(logging.INFO, logger="vaxreg.pipeline")
    deliver(
        feed_root,
        "JUKI_DIFF_20260401.csv",
        resident_csv([person("0000000001", name_kana=NAME), person("0000000002")]),
    )
    [summary] = run("resident", f"file://{feed_root}", db_url)
    assert summary["quarantined"] == 1
    [page] = docs.glob("resident/JUKI_DIFF_20260401.csv.*.html")
    text = page.read_text(encoding="utf-8")
    assert "name_kana" in text and "resident_diff" in text  # the expectation and its suite
    assert NAME not in text and "シケン" not in text  # no failing values, no names (P3)
    assert not re.search(r"(?:src|href)=\"https?://", text)  # closed network: no CDN assets
    assert page.name in (docs / "index.html").read_text(encoding="utf-8")
    assert f"Data Docs vaxreg/data-docs/resident/{page.name}" in caplog.text

    # A file refused by a file-level expectation (seq not unique) gets its page too, named in the refusal.
    rows = [person("0000000003", seq="1"), person("0000000004", seq="1")]
    deliver(feed_root, "JUKI_DIFF_20260402.csv", resident_csv(rows))
    with pytest.raises(
        FeedRefused, match=r"seq_not_unique \(Data Docs: vaxreg/data-docs/resident/JUKI_DIFF_20260402"
    ):
        run("resident", f"file://{feed_root}", db_url)
    [refused] = docs.glob("resident/JUKI_DIFF_20260402.csv.*.html")
    assert "seq" in refused.read_text(encoding="utf-8")


def test_pages_drop_the_failing_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GX renders its sample of failing values when a result carries one: counts_only drops it."""
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from vaxreg.quality import datadocs

    monkeypatch.setenv("VAXREG_DATA_DOCS_DIR", str(tmp_path / "docs"))
    config = ExpectationConfiguration(
        type="expect_column_values_to_match_regex",
        kwargs={"column": "name_kana", "regex": "^[ァ-ヿ]+$"},
        meta={"reason": "name_kana_not_katakana"},
    )
    values = {
        "element_count": 2,
        "unexpected_count": 1,
        "unexpected_percent": 50.0,
        "partial_unexpected_list": [NAME],
        "partial_unexpected_counts": [{"value": NAME, "count": 1}],
        "unexpected_list": [NAME],
        "unexpected_index_list": [0],
    }
    raw = ExpectationValidationResult(success=False, expectation_config=config, result=values)
    leaky = datadocs.write_page("resident", "raw.csv", "0" * 64, "resident_diff", [raw], "manual")
    assert NAME in leaky.read_text(encoding="utf-8")  # what GX would publish unfiltered
    clean = datadocs.counts_only(raw)
    page = datadocs.write_page("resident", "clean.csv", "1" * 64, "resident_diff", [clean], "manual")
    text = page.read_text(encoding="utf-8")
    assert NAME not in text and "name_kana" in text and "50" in text
