"""Commission fees (委託料) as reviewed data with effective dates (``data/fees.toml``) and the
pricing of records.

Fee of one record (vaccines.md §Commission fees): a routine dose earns the unit price,
minus the self-pay amount when the person's self-pay class is 1 (ordinary) on the
vaccination date; a 予診のみ record earns the pre-examination price. Off-schedule,
quarantined and review records earn nothing until resolved. Fees are payable in the
month after the file month (支払月).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from vaxreg import config

FEES_FILE = config.DATA_DIR / "fees.toml"


@cache
def load_fees(path: Path | None = None) -> pd.DataFrame:
    raw = tomllib.loads((path or FEES_FILE).read_text(encoding="utf-8"))
    rows = [
        {
            "vaccine_code": f["vaccine"],
            "eff_from": np.datetime64(f["from"], "D"),
            "eff_to": np.datetime64(f.get("to", dt.date(9999, 12, 31)), "D"),
            "unit_price": int(f["unit_price"]),
            "preliminary_price": int(f["preliminary_price"]),
            "self_pay": int(f.get("self_pay", 0)),
        }
        for f in raw["fee"]
    ]
    table = pd.DataFrame(rows)
    for code, g in table.groupby("vaccine_code"):
        g = g.sort_values("eff_from")
        if (g["eff_from"].to_numpy()[1:] <= g["eff_to"].to_numpy()[:-1]).any():
            raise ValueError(f"fee table periods overlap for vaccine {code}")
    return table


def payment_month(file_month_end: dt.date) -> str:
    nxt = file_month_end + dt.timedelta(days=1)
    return nxt.strftime("%Y%m")


def price(records: pd.DataFrame, fee_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Price records: columns vaccine_code, service_date, kind (dose|preliminary),
    self_pay_class ('0'/'1'), payable (bool: routine and resolved). Adds unit_price,
    self_pay_amount, fee and a ``no_fee_on_date`` flag where the table has no row in force."""
    table = load_fees() if fee_table is None else fee_table
    recs = records.reset_index(drop=True).copy()
    recs["_i"] = np.arange(len(recs))
    m = recs[["_i", "vaccine_code", "service_date"]].merge(table, on="vaccine_code")
    d = m["service_date"].to_numpy(dtype="datetime64[D]")
    m = m[(m["eff_from"].to_numpy() <= d) & (d <= m["eff_to"].to_numpy())].drop_duplicates("_i")
    found = np.zeros(len(recs), dtype=bool)
    found[m["_i"].to_numpy()] = True
    unit = np.zeros(len(recs), dtype=np.int64)
    prelim = np.zeros(len(recs), dtype=np.int64)
    selfpay = np.zeros(len(recs), dtype=np.int64)
    idx = m["_i"].to_numpy()
    unit[idx], prelim[idx], selfpay[idx] = m["unit_price"], m["preliminary_price"], m["self_pay"]
    is_prelim = (recs["kind"] == "preliminary").to_numpy()
    class1 = (recs["self_pay_class"] == "1").to_numpy()
    payable = recs["payable"].to_numpy(dtype=bool)
    recs["unit_price"] = np.where(is_prelim, prelim, unit)
    recs["self_pay_amount"] = np.where(~is_prelim & class1, selfpay, 0)
    recs["fee"] = np.where(payable & found, recs["unit_price"] - recs["self_pay_amount"], 0)
    recs["no_fee_on_date"] = ~found
    return recs.drop(columns="_i")
