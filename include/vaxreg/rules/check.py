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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vaxreg.rules.calendar import add_months, days_between, fiscal_year, school_entry_year
from vaxreg.rules.table import Rules, default_rules

DOSE_COLUMNS = ["atena_no", "vaccine_code", "phase", "dose_no", "dose_date"]


Codes = list[tuple[str, np.ndarray]]  # (code, rows it applies to), joined at the end


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
    if n == 0:
        return pd.DataFrame({"invalid": [], "off_schedule": [], "flags": [], "rule_id": []})
    b = _batch(new, history)
    rule = _choose_rule(b, rules)
    invalid, off = _check_rule(b, rule, rules)
    off += _check_eligibility(b, rule, _in_age_window(b, rule))
    off += _check_dose_count(b, rule)
    pairs = _other_doses(b)
    off += _check_repeats(b, rule, pairs)
    interval_off, flags = _check_intervals(b, rule, rules, pairs)
    off += interval_off
    off += _check_live_vaccines(b, rule, rules)
    return pd.DataFrame(
        {
            "invalid": _joined(invalid, n),
            "off_schedule": _joined(off, n),
            "flags": _joined(flags, n),
            "rule_id": rule.rule_of,
        }
    )


@dataclass(frozen=True)
class _Batch:
    """The doses judged, as columns (index ``0..n-1``), and every dose of their persons: the
    registry history (``idx`` -1) and this batch (``idx`` its position)."""

    n: int
    new: pd.DataFrame
    date: np.ndarray
    birth: np.ndarray
    dose_no: np.ndarray
    vaccine: np.ndarray
    phase: np.ndarray
    disability: pd.Series
    batch: pd.DataFrame  # DOSE_COLUMNS + idx of the doses judged
    every: pd.DataFrame  # DOSE_COLUMNS + idx of history and batch


def _batch(new: pd.DataFrame, history: pd.DataFrame) -> _Batch:
    """The batch as columns, and every dose the persons have (registry history plus this batch)."""
    n = len(new)
    new = new.reset_index(drop=True)
    hist = history[DOSE_COLUMNS].copy()
    hist["idx"] = -1
    batch = new[DOSE_COLUMNS].copy()
    batch["idx"] = np.arange(n)
    every = pd.concat([hist, batch], ignore_index=True)
    every["dose_date"] = every["dose_date"].to_numpy(dtype="datetime64[D]")
    every["dose_no"] = every["dose_no"].astype(np.int64)
    return _Batch(
        n=n,
        new=new,
        date=new["dose_date"].to_numpy(dtype="datetime64[D]"),
        birth=new["birth_date"].to_numpy(dtype="datetime64[D]"),
        dose_no=new["dose_no"].to_numpy(dtype=np.int64),
        vaccine=new["vaccine_code"].astype(str).to_numpy(),
        phase=new["phase"].astype(str).to_numpy(),
        disability=new["disability"] if "disability" in new.columns else pd.Series([None] * n),
        batch=batch,
        every=every,
    )


@dataclass(frozen=True)
class _Rule:
    """The rule in force chosen for each dose (``rule_of``, -1 none) and its parameters aligned
    with the batch (NaN where none)."""

    rule_of: np.ndarray
    params: pd.DataFrame

    @property
    def ok(self) -> np.ndarray:
        return self.rule_of >= 0

    def param(self, col: str) -> np.ndarray:
        return self.params[col].to_numpy()


def _choose_rule(b: _Batch, rules: Rules) -> _Rule:
    """The rule in force on the dose date for the vaccine and phase; where the rules differ by
    the age at dose 1 (HPV's schedules), the variant of the person's dose 1 of that vaccine and
    phase. The first rule of the table that fits is taken."""
    dose1 = (
        b.every.sort_values("dose_date")
        .drop_duplicates(["atena_no", "vaccine_code", "phase"], keep="first")
        .set_index(["atena_no", "vaccine_code", "phase"])["dose_date"]
    )
    key = pd.MultiIndex.from_arrays([b.new["atena_no"], b.new["vaccine_code"], b.new["phase"]])
    first_date = dose1.reindex(key).to_numpy(dtype="datetime64[D]")
    r = rules.rules
    cand = pd.DataFrame({"i": np.arange(b.n), "vaccine": b.vaccine, "phase": b.phase}).merge(
        r, on=["vaccine", "phase"], how="inner"
    )
    ci = cand["i"].to_numpy()
    in_force = (cand["eff_from"].to_numpy(dtype="datetime64[D]") <= b.date[ci]) & (
        b.date[ci] <= cand["eff_to"].to_numpy(dtype="datetime64[D]")
    )
    for col, before in (("dose1_before", True), ("dose1_from", False)):
        months = cand[col].to_numpy()
        has = ~np.isnan(months)
        if has.any():
            limit = add_months(b.birth[ci], np.nan_to_num(months).astype(np.int64))
            before_limit = first_date[ci] < limit
            in_force &= ~has | (before_limit if before else ~before_limit)
    chosen = cand[in_force].drop_duplicates("i", keep="first")
    rule_of = np.full(b.n, -1, dtype=np.int64)
    rule_of[chosen["i"].to_numpy()] = chosen["rule_id"].to_numpy()
    return _Rule(rule_of=rule_of, params=r.set_index("rule_id").reindex(rule_of))


def _check_rule(b: _Batch, rule: _Rule, rules: Rules) -> tuple[Codes, Codes]:
    """(invalid, off schedule): a phase the vaccine does not have is invalid
    (``phase_not_for_vaccine``); a real phase with no rule in force on the date is off schedule
    (``no_routine_rule_on_date``)."""
    known = rules.known_phases()
    has_phase = np.array([(v, p) in known for v, p in zip(b.vaccine, b.phase, strict=True)], dtype=bool)
    invalid: Codes = []
    off: Codes = []
    _add(invalid, ~has_phase, "phase_not_for_vaccine")
    _add(off, has_phase & (rule.rule_of < 0), "no_routine_rule_on_date")
    return invalid, off


def _in_age_window(b: _Batch, rule: _Rule) -> np.ndarray:
    """Per dose: within the rule's age window, every bound the rule has: age in days, age in
    months (from, before), birth date range, school years, fiscal years of an age."""
    birth, date = b.birth, b.date
    age_days = days_between(birth, date)
    window_ok = np.ones(b.n, dtype=bool)
    for col, cmp in (("from_days", "ge"), ("to_days", "le")):
        v = rule.param(col).astype("float64")
        has = ~np.isnan(v)
        bad = (age_days < v) if cmp == "ge" else (age_days > v)
        window_ok &= ~(has & bad)
    for col in ("from_months", "before_months"):
        v = rule.param(col).astype("float64")
        has = ~np.isnan(v)
        limit = add_months(birth, np.nan_to_num(v).astype(np.int64))
        bad = (date < limit) if col == "from_months" else (date >= limit)
        window_ok &= ~(has & bad)
    born_from, born_to = rule.param("born_from"), rule.param("born_to")
    has_born = pd.notna(born_from)
    if has_born.any():
        bf = np.where(has_born, born_from, np.datetime64("1800-01-01")).astype("datetime64[D]")
        bt = np.where(has_born, born_to, np.datetime64("2999-12-31")).astype("datetime64[D]")
        window_ok &= ~(has_born & ((birth < bf) | (birth > bt)))
    s_from, s_to = rule.param("school_from").astype("float64"), rule.param("school_to").astype("float64")
    has_school = ~np.isnan(s_from)
    rel = fiscal_year(date) - school_entry_year(birth)
    window_ok &= ~(has_school & ((rel < s_from) | (rel > s_to)))
    fy = fiscal_year(date)
    fy_ages = rule.param("fy_of_age")
    has_fy = np.array([isinstance(a, tuple) and len(a) > 0 for a in fy_ages], dtype=bool)
    if has_fy.any():
        fy_ok = np.zeros(b.n, dtype=bool)
        for age in sorted({a for t in fy_ages[has_fy] for a in t}):
            applies = np.array([isinstance(t, tuple) and age in t for t in fy_ages], dtype=bool)
            fy_ok |= applies & (fiscal_year(add_months(birth, 12 * age)) == fy)
        window_ok &= ~has_fy | fy_ok
    return window_ok


def _check_eligibility(b: _Batch, rule: _Rule, window_ok: np.ndarray) -> Codes:
    """Who the rule is for: the sex it names (``sex_not_eligible``); the age window, except for
    B class 60–64 year-olds with a grade-1 身体 certificate of the listed parts, who qualify
    (``b_class_eligibility_unverified`` when the person has no disability data) — else
    ``outside_age_window``."""
    ok = rule.ok
    off: Codes = []
    sex_rule = rule.param("sex")
    _add(off, ok & pd.notna(sex_rule) & (b.new["sex"].astype(str).to_numpy() != sex_rule), "sex_not_eligible")
    b_parts = rule.param("b_class_60_64")
    has_b = pd.notna(b_parts)
    age60 = (b.date >= add_months(b.birth, 720)) & (b.date < add_months(b.birth, 780))
    b_candidates = ok & ~window_ok & has_b & age60
    no_data = b.disability.isna().to_numpy()
    qualifies = np.array(
        [
            isinstance(p, str) and isinstance(d, str) and any(c in p for c in d)
            for p, d in zip(b_parts, b.disability.to_numpy(), strict=True)
        ],
        dtype=bool,
    )
    _add(off, b_candidates & no_data, "b_class_eligibility_unverified")
    window_ok = window_ok | (b_candidates & qualifies)
    _add(off, ok & ~window_ok & ~(b_candidates & no_data), "outside_age_window")
    return off


def _check_dose_count(b: _Batch, rule: _Rule) -> Codes:
    """A dose number beyond the rule's doses (``dose_count_exceeded``)."""
    off: Codes = []
    _add(off, rule.ok & (b.dose_no > rule.param("doses").astype("float64")), "dose_count_exceeded")
    return off


@dataclass(frozen=True)
class _Pairs:
    """Each dose judged beside every other dose of the same person and vaccine (``*_o``), and
    whether that other one is earlier: an earlier date, or the same date and an earlier
    position (history first)."""

    pairs: pd.DataFrame
    earlier: np.ndarray
    this_date: np.ndarray
    other_date: np.ndarray


def _other_doses(b: _Batch) -> _Pairs:
    """The other doses of the same person and vaccine, for repeats, per-period limits and intervals."""
    pairs = b.batch[["atena_no", "vaccine_code", "phase", "dose_no", "dose_date", "idx"]].merge(
        b.every, on=["atena_no", "vaccine_code"], suffixes=("", "_o")
    )
    pairs = pairs[pairs["idx"] != pairs["idx_o"]]
    pairs = pairs[(pairs["idx_o"] == -1) | (pairs["idx_o"] >= 0)]
    this_date = pairs["dose_date"].to_numpy(dtype="datetime64[D]")
    other_date = pairs["dose_date_o"].to_numpy(dtype="datetime64[D]")
    earlier = (other_date < this_date) | (
        (other_date == this_date) & (pairs["idx_o"].to_numpy() < pairs["idx"].to_numpy())
    )
    return _Pairs(pairs=pairs, earlier=earlier, this_date=this_date, other_date=other_date)


def _check_repeats(b: _Batch, rule: _Rule, p: _Pairs) -> Codes:
    """Limits per fiscal year and per lifetime (``per_fiscal_year_exceeded``,
    ``per_lifetime_exceeded``), and the same phase and dose number again where no yearly dose
    is allowed (``dose_already_recorded``)."""
    ok, earlier = rule.ok, p.earlier
    pi = p.pairs["idx"].to_numpy()
    per_fy, per_life = (
        rule.param("per_fiscal_year").astype("float64"),
        rule.param("per_lifetime").astype("float64"),
    )

    def count_by(mask: np.ndarray) -> np.ndarray:
        return np.bincount(pi[mask], minlength=b.n)

    earlier_same_fy = count_by(earlier & (fiscal_year(p.other_date) == fiscal_year(p.this_date)))
    earlier_any = count_by(earlier)
    off: Codes = []
    _add(off, ok & ~np.isnan(per_fy) & (earlier_same_fy >= np.nan_to_num(per_fy)), "per_fiscal_year_exceeded")
    _add(off, ok & ~np.isnan(per_life) & (earlier_any >= np.nan_to_num(per_life)), "per_lifetime_exceeded")
    same_dose = (
        (p.pairs["phase_o"].to_numpy() == p.pairs["phase"].to_numpy())
        & (p.pairs["dose_no_o"].to_numpy() == p.pairs["dose_no"].to_numpy())
        & earlier
    )
    repeat = count_by(same_dose) > 0
    _add(off, ok & np.isnan(per_fy) & repeat, "dose_already_recorded")
    return off


def _check_intervals(b: _Batch, rule: _Rule, rules: Rules, p: _Pairs) -> tuple[Codes, Codes]:
    """(off schedule, flags): the minimum interval since the reference dose (the latest earlier
    dose of the reference phase, or that dose number) — too short (``interval_too_short``), or
    shortened within what the doctor may judge (flag ``interval_doctor_judgement``)."""
    off: Codes = []
    flags: Codes = []
    if not len(rules.intervals):
        return off, flags
    iv = pd.DataFrame({"idx": np.arange(b.n), "rule_id": rule.rule_of, "dose_no": b.dose_no}).merge(
        rules.intervals, on=["rule_id", "dose_no"]
    )
    if not len(iv):
        return off, flags
    pairs = p.pairs[["idx", "phase_o", "dose_no_o", "dose_date_o"]][p.earlier & (p.other_date < p.this_date)]
    j = iv.merge(pairs, on="idx")
    j = j[j["phase_o"] == j["ref_phase"]]
    by_number = j["ref"].str.isdigit()
    j = j[~by_number | (j["dose_no_o"].astype(str) == j["ref"])]
    # The reference: the latest earlier dose of ref_phase, or that dose number.
    j = j.sort_values("dose_date_o").drop_duplicates(["idx", "ref", "ref_phase"], keep="last")
    if not len(j):
        return off, flags
    ji = j["idx"].to_numpy()
    ref_date = j["dose_date_o"].to_numpy(dtype="datetime64[D]")
    gap = days_between(ref_date, b.date[ji])
    days = j["days"].to_numpy(dtype="float64")
    months = j["months"].to_numpy(dtype="float64")
    judgement = j["judgement_days"].to_numpy(dtype="float64")
    short_days = ~np.isnan(days) & ~(gap > np.nan_to_num(days))
    allowed = short_days & ~np.isnan(judgement) & (gap > np.nan_to_num(judgement))
    short_months = ~np.isnan(months) & (
        b.date[ji] < add_months(ref_date, np.nan_to_num(months).astype(np.int64))
    )
    short = np.zeros(b.n, dtype=bool)
    flag = np.zeros(b.n, dtype=bool)
    np.logical_or.at(short, ji, (short_days & ~allowed) | short_months)
    np.logical_or.at(flag, ji, allowed)
    _add(off, rule.ok & short, "interval_too_short")
    _add(flags, rule.ok & flag & ~short, "interval_doctor_judgement")
    return off, flags


def _check_live_vaccines(b: _Batch, rule: _Rule, rules: Rules) -> Codes:
    """Two different live injectable vaccines at least 中N日 apart; the same day is allowed
    (``live_vaccine_interval``)."""
    off: Codes = []
    live = rules.live_injectable
    new_live = np.isin(b.vaccine, list(live))
    if new_live.any():
        lv = b.every[b.every["vaccine_code"].isin(live)]
        q = b.batch[new_live].merge(lv, on="atena_no", suffixes=("", "_o"))
        q = q[q["vaccine_code"] != q["vaccine_code_o"]]
        gap = days_between(q["dose_date_o"].to_numpy(), q["dose_date"].to_numpy())
        close = (gap >= 1) & (gap <= rules.live_days)
        hit = np.zeros(b.n, dtype=bool)
        hit[q["idx"].to_numpy()[close]] = True
        _add(off, rule.ok & hit, "live_vaccine_interval")
    return off


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
