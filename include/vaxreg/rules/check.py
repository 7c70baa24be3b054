"""Schedule error check (予防接種履歴のエラーチェック): the rules are data, this is the engine.

The rules live in ``data/schedule_rules.toml`` (reviewed data with effective dates,
vaccines.md). :func:`judge` checks a batch of doses against each person's whole
history at once, column by column (numpy and pandas merges), never a loop per dose.

Each judged dose gets three ``;``-joined code lists:

* ``invalid``: the record cannot be a routine dose as written (a phase the vaccine
  does not have) — the caller quarantines it;
* ``off_schedule``: a real dose outside the routine schedule (age window, interval,
  dose count, eligibility) — stored, earns no commission fee, listed for review;
* ``flags``: notes that are not errors (an interval shortened by the doctor's judgement).

Counting follows vaccines.md §Counting (:mod:`vaxreg.rules.calendar`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from vaxreg.rules.calendar import add_months, days_between, fiscal_year, school_entry_year
from vaxreg.rules.table import Rules, default_rules

DOSE_COLUMNS = ["atena_no", "vaccine_code", "phase", "dose_no", "dose_date"]


Codes = list[tuple[str, np.ndarray]]  # (code, rows it applies to), joined at the end


def _codes(n: int) -> Codes:
    return []


def _add(target: Codes, mask: np.ndarray, code: str) -> None:
    target.append((code, np.asarray(mask, dtype=bool)))


def _joined(target: Codes, n: int) -> np.ndarray:
    """Each row's codes, sorted and unique, ``;``-joined (``""`` when none), column by column."""
    by_code: dict[str, np.ndarray] = {}
    for code, mask in target:
        by_code[code] = by_code[code] | mask if code in by_code else mask
    out = np.full(n, "", dtype=object)
    for code in sorted(by_code):
        idx = np.flatnonzero(by_code[code])
        if len(idx):
            cur = out[idx]
            out[idx] = np.where(cur == "", code, cur + ";" + code)
    return out


def judge(new: pd.DataFrame, history: pd.DataFrame, rules: Rules | None = None) -> pd.DataFrame:
    """Judge each row of ``new`` against the schedule and the person's whole history.

    ``new``: atena_no, vaccine_code, phase, dose_no (int), dose_date, birth_date (dates),
    sex, and optionally ``disability`` (障害部位 letters of a grade-1 身体 certificate held
    on the dose date; ``""`` none; missing/None: no disability data for the person).
    ``history``: the person's doses already in the registry (DOSE_COLUMNS); the rows of
    ``new`` count as history of each other.

    Returns a frame aligned with ``new``: ``invalid``, ``off_schedule``, ``flags``
    (``;``-joined codes, ``""`` when none) and ``rule_id``.
    """
    rules = rules or default_rules()
    n = len(new)
    out_invalid, out_off, out_flags = _codes(n), _codes(n), _codes(n)
    if n == 0:
        return pd.DataFrame({"invalid": [], "off_schedule": [], "flags": [], "rule_id": []})
    new = new.reset_index(drop=True)
    date = new["dose_date"].to_numpy(dtype="datetime64[D]")
    birth = new["birth_date"].to_numpy(dtype="datetime64[D]")
    dose_no = new["dose_no"].to_numpy(dtype=np.int64)
    vaccine = new["vaccine_code"].astype(str).to_numpy()
    phase = new["phase"].astype(str).to_numpy()
    disability = new["disability"] if "disability" in new.columns else pd.Series([None] * n)

    # Every dose the person has: registry history plus this batch (each new row knows its index).
    hist = history[DOSE_COLUMNS].copy()
    hist["idx"] = -1
    batch = new[DOSE_COLUMNS].copy()
    batch["idx"] = np.arange(n)
    every = pd.concat([hist, batch], ignore_index=True)
    every["dose_date"] = every["dose_date"].to_numpy(dtype="datetime64[D]")
    every["dose_no"] = every["dose_no"].astype(np.int64)

    # Dose 1 of the same vaccine and phase (for HPV's schedule choice, and "ref = 1" intervals).
    dose1 = (
        every.sort_values("dose_date")
        .drop_duplicates(["atena_no", "vaccine_code", "phase"], keep="first")
        .set_index(["atena_no", "vaccine_code", "phase"])["dose_date"]
    )
    key = pd.MultiIndex.from_arrays([new["atena_no"], new["vaccine_code"], new["phase"]])
    first_date = dose1.reindex(key).to_numpy(dtype="datetime64[D]")
    r = rules.rules

    # Choose the rule in force on the dose date (and the variant by the age at dose 1).
    cand = pd.DataFrame({"i": np.arange(n), "vaccine": vaccine, "phase": phase}).merge(
        r, on=["vaccine", "phase"], how="inner"
    )
    ci = cand["i"].to_numpy()
    in_force = (cand["eff_from"].to_numpy(dtype="datetime64[D]") <= date[ci]) & (
        date[ci] <= cand["eff_to"].to_numpy(dtype="datetime64[D]")
    )
    for col, before in (("dose1_before", True), ("dose1_from", False)):
        months = cand[col].to_numpy()
        has = ~np.isnan(months)
        if has.any():
            limit = add_months(birth[ci], np.nan_to_num(months).astype(np.int64))
            before_limit = first_date[ci] < limit
            in_force &= ~has | (before_limit if before else ~before_limit)
    chosen = cand[in_force].drop_duplicates("i", keep="first")
    rule_of = np.full(n, -1, dtype=np.int64)
    rule_of[chosen["i"].to_numpy()] = chosen["rule_id"].to_numpy()
    known = rules.known_phases()
    has_phase = np.array([(v, p) in known for v, p in zip(vaccine, phase, strict=True)], dtype=bool)
    _add(out_invalid, ~has_phase, "phase_not_for_vaccine")
    _add(out_off, has_phase & (rule_of < 0), "no_routine_rule_on_date")

    ok = rule_of >= 0
    rr = r.set_index("rule_id").reindex(rule_of)  # rule parameters aligned with new (NaN when none)

    def param(col: str) -> np.ndarray:
        return rr[col].to_numpy()

    # Sex.
    sex_rule = param("sex")
    _add(
        out_off, ok & pd.notna(sex_rule) & (new["sex"].astype(str).to_numpy() != sex_rule), "sex_not_eligible"
    )

    # Age windows.
    age_days = days_between(birth, date)
    window_ok = np.ones(n, dtype=bool)
    for col, cmp in (("from_days", "ge"), ("to_days", "le")):
        v = param(col).astype("float64")
        has = ~np.isnan(v)
        bad = (age_days < v) if cmp == "ge" else (age_days > v)
        window_ok &= ~(has & bad)
    for col in ("from_months", "before_months"):
        v = param(col).astype("float64")
        has = ~np.isnan(v)
        limit = add_months(birth, np.nan_to_num(v).astype(np.int64))
        bad = (date < limit) if col == "from_months" else (date >= limit)
        window_ok &= ~(has & bad)
    born_from, born_to = rr["born_from"].to_numpy(), rr["born_to"].to_numpy()
    has_born = pd.notna(born_from)
    if has_born.any():
        bf = np.where(has_born, born_from, np.datetime64("1800-01-01")).astype("datetime64[D]")
        bt = np.where(has_born, born_to, np.datetime64("2999-12-31")).astype("datetime64[D]")
        window_ok &= ~(has_born & ((birth < bf) | (birth > bt)))
    s_from, s_to = param("school_from").astype("float64"), param("school_to").astype("float64")
    has_school = ~np.isnan(s_from)
    rel = fiscal_year(date) - school_entry_year(birth)
    window_ok &= ~(has_school & ((rel < s_from) | (rel > s_to)))
    fy = fiscal_year(date)
    fy_ages = rr["fy_of_age"].to_numpy()
    has_fy = np.array([isinstance(a, tuple) and len(a) > 0 for a in fy_ages], dtype=bool)
    if has_fy.any():
        fy_ok = np.zeros(n, dtype=bool)
        for age in sorted({a for t in fy_ages[has_fy] for a in t}):
            applies = np.array([isinstance(t, tuple) and age in t for t in fy_ages], dtype=bool)
            fy_ok |= applies & (fiscal_year(add_months(birth, 12 * age)) == fy)
        window_ok &= ~has_fy | fy_ok

    # B class: 60-64 year-olds with a grade-1 身体 certificate of the listed parts.
    b_parts = param("b_class_60_64")
    has_b = pd.notna(b_parts)
    age60 = (date >= add_months(birth, 720)) & (date < add_months(birth, 780))
    b_candidates = ok & ~window_ok & has_b & age60
    no_data = disability.isna().to_numpy()
    qualifies = np.array(
        [
            isinstance(p, str) and isinstance(d, str) and any(c in p for c in d)
            for p, d in zip(b_parts, disability.to_numpy(), strict=True)
        ],
        dtype=bool,
    )
    _add(out_off, b_candidates & no_data, "b_class_eligibility_unverified")
    window_ok |= b_candidates & qualifies
    _add(out_off, ok & ~window_ok & ~(b_candidates & no_data), "outside_age_window")

    # Dose counts.
    _add(out_off, ok & (dose_no > param("doses").astype("float64")), "dose_count_exceeded")

    # Other doses of the same person and vaccine, for repeats and per-period limits.
    pairs = batch[["atena_no", "vaccine_code", "phase", "dose_no", "dose_date", "idx"]].merge(
        every, on=["atena_no", "vaccine_code"], suffixes=("", "_o")
    )
    pairs = pairs[pairs["idx"] != pairs["idx_o"]]
    pairs = pairs[(pairs["idx_o"] == -1) | (pairs["idx_o"] >= 0)]
    this_date = pairs["dose_date"].to_numpy(dtype="datetime64[D]")
    other_date = pairs["dose_date_o"].to_numpy(dtype="datetime64[D]")
    # "Earlier" = an earlier date, or the same date and an earlier position (history first).
    earlier = (other_date < this_date) | (
        (other_date == this_date) & (pairs["idx_o"].to_numpy() < pairs["idx"].to_numpy())
    )
    pi = pairs["idx"].to_numpy()
    per_fy, per_life = param("per_fiscal_year").astype("float64"), param("per_lifetime").astype("float64")

    def count_by(mask: np.ndarray) -> np.ndarray:
        return np.bincount(pi[mask], minlength=n)

    earlier_same_fy = count_by(earlier & (fiscal_year(other_date) == fiscal_year(this_date)))
    earlier_any = count_by(earlier)
    _add(
        out_off,
        ok & ~np.isnan(per_fy) & (earlier_same_fy >= np.nan_to_num(per_fy)),
        "per_fiscal_year_exceeded",
    )
    _add(
        out_off, ok & ~np.isnan(per_life) & (earlier_any >= np.nan_to_num(per_life)), "per_lifetime_exceeded"
    )
    same_dose = (
        (pairs["phase_o"].to_numpy() == pairs["phase"].to_numpy())
        & (pairs["dose_no_o"].to_numpy() == pairs["dose_no"].to_numpy())
        & earlier
    )
    repeat = count_by(same_dose) > 0
    _add(out_off, ok & np.isnan(per_fy) & repeat, "dose_already_recorded")

    # Minimum intervals.
    if len(rules.intervals):
        iv = pd.DataFrame({"idx": np.arange(n), "rule_id": rule_of, "dose_no": dose_no}).merge(
            rules.intervals, on=["rule_id", "dose_no"]
        )
        if len(iv):
            p = pairs[["idx", "phase_o", "dose_no_o", "dose_date_o"]][earlier & (other_date < this_date)]
            j = iv.merge(p, on="idx")
            j = j[j["phase_o"] == j["ref_phase"]]
            by_number = j["ref"].str.isdigit()
            j = j[~by_number | (j["dose_no_o"].astype(str) == j["ref"])]
            # The reference: the latest earlier dose of ref_phase, or that dose number.
            j = j.sort_values("dose_date_o").drop_duplicates(["idx", "ref", "ref_phase"], keep="last")
            if len(j):
                ji = j["idx"].to_numpy()
                ref_date = j["dose_date_o"].to_numpy(dtype="datetime64[D]")
                gap = days_between(ref_date, date[ji])
                days = j["days"].to_numpy(dtype="float64")
                months = j["months"].to_numpy(dtype="float64")
                judgement = j["judgement_days"].to_numpy(dtype="float64")
                short_days = ~np.isnan(days) & ~(gap > np.nan_to_num(days))
                allowed = short_days & ~np.isnan(judgement) & (gap > np.nan_to_num(judgement))
                short_months = ~np.isnan(months) & (
                    date[ji] < add_months(ref_date, np.nan_to_num(months).astype(np.int64))
                )
                short = np.zeros(n, dtype=bool)
                flag = np.zeros(n, dtype=bool)
                np.logical_or.at(short, ji, (short_days & ~allowed) | short_months)
                np.logical_or.at(flag, ji, allowed)
                _add(out_off, ok & short, "interval_too_short")
                _add(out_flags, ok & flag & ~short, "interval_doctor_judgement")

    # Two different live injectable vaccines: at least 中N日 apart (the same day is allowed).
    live = rules.live_injectable
    new_live = np.isin(vaccine, list(live))
    if new_live.any():
        lv = every[every["vaccine_code"].isin(live)]
        q = batch[new_live].merge(lv, on="atena_no", suffixes=("", "_o"))
        q = q[q["vaccine_code"] != q["vaccine_code_o"]]
        gap = days_between(q["dose_date_o"].to_numpy(), q["dose_date"].to_numpy())
        close = (gap >= 1) & (gap <= rules.live_days)
        hit = np.zeros(n, dtype=bool)
        hit[q["idx"].to_numpy()[close]] = True
        _add(out_off, ok & hit, "live_vaccine_interval")

    return pd.DataFrame(
        {
            "invalid": _joined(out_invalid, n),
            "off_schedule": _joined(out_off, n),
            "flags": _joined(out_flags, n),
            "rule_id": rule_of,
        }
    )


def judge_one(
    vaccine: str,
    phase: str,
    dose_no: int,
    dose_date: dt.date,
    birth: dt.date,
    sex: str = "1",
    history: Iterable[tuple[str, str, int, dt.date]] = (),
    disability: str | None = None,
    rules: Rules | None = None,
) -> dict[str, str]:
    """Scalar convenience over :func:`judge` (tests, operators): one dose, its history."""
    new = pd.DataFrame(
        [
            {
                "atena_no": "0000000001",
                "vaccine_code": vaccine,
                "phase": phase,
                "dose_no": dose_no,
                "dose_date": np.datetime64(dose_date, "D"),
                "birth_date": np.datetime64(birth, "D"),
                "sex": sex,
                "disability": disability,
            }
        ]
    )
    hist = pd.DataFrame(
        [("0000000001", v, p, int(k), np.datetime64(d, "D")) for v, p, k, d in history], columns=DOSE_COLUMNS
    )
    row = judge(new, hist, rules).iloc[0]
    return {k: str(row[k]) for k in ("invalid", "off_schedule", "flags")}
