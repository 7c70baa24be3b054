"""Outbound files hold exactly their specified columns (privacy.md P7) and are published whole."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pytest

from vaxreg.outputs import outbound, vrs_flags  # noqa: F401 - registers the VRS flags layout
from vaxreg.transport import LocalSource


def test_publish_writes_exact_columns_and_marker(tmp_path: Path) -> None:
    table = pa.table(
        {
            "voucher_no": ["0000000001"],
            "municipality_code": ["131032"],
            "flag": ["DECEASED"],
            "date": ["2026-04-02"],
        }
    )
    name, digest = outbound.publish(LocalSource(tmp_path), "vrs_flags", table, date="20260402")
    path = tmp_path / "inbox" / "vrs" / name
    assert name == "VRS_FLAGS_20260402.csv"
    assert path.read_text().splitlines() == [
        "voucher_no,municipality_code,flag,date",
        "0000000001,131032,DECEASED,2026-04-02",
    ]
    assert (
        (path.parent / f"{name}.done").read_text().strip()
        == digest
        == hashlib.sha256(path.read_bytes()).hexdigest()
    )


@pytest.mark.parametrize("extra", [{"name_kana": ["シケン"]}, {}])
def test_any_other_column_set_is_refused(tmp_path: Path, extra: dict) -> None:
    cols = {"voucher_no": ["0000000001"], "municipality_code": ["131032"], "flag": ["DECEASED"]} | extra
    with pytest.raises(outbound.OutboundError, match="not exactly the specified"):
        outbound.publish(LocalSource(tmp_path), "vrs_flags", pa.table(cols), date="20260402")
    assert not (tmp_path / "inbox").exists() or not any((tmp_path / "inbox").rglob("*.csv"))
