"""Commission fees: the reviewed table with effective dates, self-pay deduction, 予診のみ price,
nothing for unresolved records, and the placeholder marking (vaccines.md §Commission fees)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from vaxreg.rules import fees


def priced(vaccine: str, day: str, kind: str = "dose", cls: str = "1", payable: bool = True) -> pd.Series:
    recs = pd.DataFrame(
        {
            "vaccine_code": [vaccine],
            "service_date": np.array([day], dtype="datetime64[D]"),
            "kind": [kind],
            "self_pay_class": [cls],
            "payable": [payable],
        }
    )
    return fees.price(recs).iloc[0]


def row(vaccine: str) -> pd.Series:
    t = fees.load_fees()
    return t[t["vaccine_code"] == vaccine].iloc[-1]


def test_fee_table_is_marked_as_placeholder() -> None:
    text = fees.FEES_FILE.read_text(encoding="utf-8")
    assert "placeholder = true" in text and "TO BE FILLED BY THE HEALTH CENTRE" in text


def test_a_class_dose_earns_the_unit_price_whatever_the_class() -> None:
    for cls in ("0", "1"):
        assert priced("06", "2026-03-13", cls=cls)["fee"] == row("06")["unit_price"]


def test_b_class_self_pay_is_deducted_for_class_1_only() -> None:
    r = row("21")
    assert priced("21", "2026-11-01", cls="1")["fee"] == r["unit_price"] - r["self_pay"]
    assert priced("21", "2026-11-01", cls="0")["fee"] == r["unit_price"]


def test_preliminary_exam_price() -> None:
    assert priced("21", "2026-11-01", kind="preliminary")["fee"] == row("21")["preliminary_price"]


def test_unresolved_and_out_of_period_records_earn_nothing() -> None:
    assert priced("06", "2026-03-13", payable=False)["fee"] == 0
    out = priced("06", "2024-03-31")  # the day before 5-in-1 became routine: no fee row in force
    assert (out["fee"], bool(out["no_fee_on_date"])) == (0, True)
    assert priced("06", "2024-04-01")["fee"] > 0


def test_payment_month_is_the_month_after_the_file_month() -> None:
    assert fees.payment_month(dt.date(2026, 3, 31)) == "202604"
    assert fees.payment_month(dt.date(2026, 12, 31)) == "202701"


def test_a_new_period_in_the_table_applies_from_its_date(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = fees.FEES_FILE.read_text(encoding="utf-8").replace(
        'vaccine = "21"\nfrom = 2001-11-07', 'vaccine = "21"\nfrom = 2001-11-07\nto = 2026-09-30'
    )
    text += (
        '\n[[fee]]\nvaccine = "21"\nfrom = 2026-10-01\n'
        "unit_price = 6000\npreliminary_price = 2600\nself_pay = 2000\n"
    )
    path = tmp_path / "fees.toml"
    path.write_text(text, encoding="utf-8")
    table = fees.load_fees(path)
    recs = pd.DataFrame(
        {
            "vaccine_code": ["21", "21"],
            "service_date": np.array(["2026-09-30", "2026-10-01"], dtype="datetime64[D]"),
            "kind": ["dose", "dose"],
            "self_pay_class": ["1", "1"],
            "payable": [True, True],
        }
    )
    assert list(fees.price(recs, table)["fee"]) == [row("21")["unit_price"] - row("21")["self_pay"], 4000]
