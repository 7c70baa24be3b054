"""Due doses (接種対象者の抽出, outputs.md §1): for every person and routine vaccine, phase and dose,
one state on an explicit as-of date, from the same rule table as the error check
(:mod:`vaxreg.rules.table`; never a second copy of the schedule).

Set-based: one pass of numpy/pandas column arithmetic per rule of the table (a loop per rule and
dose number, never per person). The caller reads the registry (:mod:`vaxreg.outputs.due`); this
module is pure: frames in, frame out.

* Which persons: A class (children) up to the day before their 20th birthday; B class from the
  60th birthday. A person gets a row for every series whose rule is in force on the as-of date
  (``not_eligible`` where sex, birth cohort, welfare/disability class or an alternative series
  excludes them).
* ``window_start``/``window_end``: the routine window of the person (inclusive dates);
  ``earliest_date``: the first day the dose may be given after its predecessor (minimum interval).
* ``cycle``: the fiscal year for the vaccines given once per fiscal year (flu, COVID-19), else 0.
* ``reason``: for ``overdue``, ``CLOSING`` when the window closes within ``[due] closing_days``,
  else ``OVERDUE`` (past the standard age, 標準的な接種期間).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from vaxreg.rules.calendar import add_months, fiscal_year, school_entry_year
from vaxreg.rules.table import Rules, default_rules

STATES = ("done", "not_yet", "due", "overdue", "closed", "not_eligible")
COLUMNS = [
    "atena_no",
    "vaccine_code",
    "phase",
    "dose_no",
    "cycle",
    "state",
    "reason",
    "window_start",
    "window_end",
    "earliest_date",
]
PERSON_COLUMNS = ["atena_no", "birth_date", "sex"]  # + optional "disability" (障害部位 letters)
DOSE_COLUMNS = ["atena_no", "vaccine_code", "phase", "dose_no", "dose_date", "off_schedule"]
CHILD_BEFORE_MONTHS = 240  # A class rows until the day before the 20th birthday
ELDER_FROM_MONTHS = 720  # B class rows from the 60th birthday
FAR = np.datetime64("9999-12-31", "D")
NAT = np.datetime64("NaT", "D")


def _d(values: object) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[D]")


def _fy_start(fy: np.ndarray) -> np.ndarray:
    """1 April of each fiscal year."""
    years = (np.asarray(fy, dtype=np.int64) - 1970).astype("datetime64[Y]")
    return (years.astype("datetime64[M]") + 3).astype("datetime64[D]")


def _fy_end(fy: np.ndarray) -> np.ndarray:
    return _fy_start(np.asarray(fy, dtype=np.int64) + 1) - np.timedelta64(1, "D")


def once_a_year(rules: Rules, as_of: dt.date) -> list[str]:
    """The vaccines given once per fiscal year (flu, COVID-19): only this fiscal year's doses count."""
    r = rules_in_force(rules, as_of)
    return sorted(set(r.loc[r["per_fiscal_year"].notna(), "vaccine"]))


def rules_in_force(rules: Rules, as_of: dt.date) -> pd.DataFrame:
    """The routine rules (class A or B) in force on ``as_of``, in table order."""
    r = rules.rules
    day = np.datetime64(as_of, "D")
    routine = r["vaccine"].map(lambda v: rules.vaccines.get(v, {}).get("class") in ("A", "B"))
    in_force = (r["eff_from"].to_numpy(dtype="datetime64[D]") <= day) & (
        day <= r["eff_to"].to_numpy(dtype="datetime64[D]")
    )
    return r[routine.to_numpy() & in_force]


def compute(
    persons: pd.DataFrame, doses: pd.DataFrame, as_of: dt.date, rules: Rules | None = None
) -> pd.DataFrame:
    """The due doses of ``persons`` on ``as_of`` (columns :data:`COLUMNS`, dates as datetime64).

    ``persons``: atena_no, birth_date, sex, optionally ``disability`` (the 障害部位 letters of the
    grade-1 身体 certificates held on ``as_of``; "" none, None unknown). ``doses``: the registry's
    doses (:data:`DOSE_COLUMNS`; ``off_schedule`` empty or null for a valid dose).
    """
    rules = rules or default_rules()
    day = np.datetime64(as_of, "D")
    p = persons.reset_index(drop=True)
    birth = _d(p["birth_date"].to_numpy())
    valid = _valid_doses(doses, p)
    slots = []
    for _, rule in rules_in_force(rules, as_of).iterrows():
        cls = rules.vaccines[rule["vaccine"]]["class"]
        if cls == "A":
            who = np.flatnonzero((birth <= day) & (day < add_months(birth, CHILD_BEFORE_MONTHS)))
        else:
            who = np.flatnonzero(day >= add_months(birth, ELDER_FROM_MONTHS))
        if len(who) == 0:
            continue
        who = who[_variant_applies(rule, p, birth, who, valid, day)]
        slots.append(_windows(rule, p, birth, who, day))
    if not slots:
        return pd.DataFrame({c: [] for c in COLUMNS})
    s = pd.concat(slots, ignore_index=True)
    s = _expand_doses(s, rules)
    s = _mark_done(s, valid, rules, day)
    s = _predecessors(s, valid, rules)
    out: pd.DataFrame = _states(s, rules, day, p["atena_no"].to_numpy(dtype=object))
    return out


def _key(i: np.ndarray, vp: np.ndarray, n: np.ndarray | int = 0) -> np.ndarray:
    """One int64 per (person index, vaccine*100+phase, dose number): joins on integers, not text."""
    return (np.asarray(i, dtype=np.int64) * 10_000 + np.asarray(vp, dtype=np.int64)) * 16 + n


def _valid_doses(doses: pd.DataFrame, p: pd.DataFrame) -> pd.DataFrame:
    """The valid doses with ``i`` (the person's row in ``p``), ``v`` and ``vp`` (vaccine and
    vaccine*100+phase as integers)."""
    off = doses["off_schedule"].fillna("").astype(str) if "off_schedule" in doses else ""
    v = pd.DataFrame(doses[off == ""][["atena_no", "vaccine_code", "phase", "dose_no", "dose_date"]])
    v["i"] = pd.Index(p["atena_no"]).get_indexer(v["atena_no"])
    v = v[v["i"].to_numpy() >= 0]
    v["dose_no"] = v["dose_no"].astype(np.int64)
    v["dose_date"] = _d(v["dose_date"].to_numpy())
    v["v"] = v["vaccine_code"].astype(np.int64)
    v["vp"] = v["v"] * 100 + v["phase"].astype(np.int64)
    return v


def _variant_applies(
    rule: pd.Series,
    p: pd.DataFrame,
    birth: np.ndarray,
    who: np.ndarray,
    valid: pd.DataFrame,
    day: np.datetime64,
) -> np.ndarray:
    """Where a vaccine's schedule depends on the age at dose 1 (HPV 2 vs 3 doses): whether this
    variant is the person's — by the age at their dose 1, or, without one, the age on ``day``
    (a dose 1 given now)."""
    before, from_ = rule["dose1_before"], rule["dose1_from"]
    if np.isnan(before) and np.isnan(from_):
        return np.ones(len(who), dtype=bool)
    d1 = valid[(valid["vaccine_code"] == rule["vaccine"]) & (valid["phase"] == rule["phase"])]
    d1 = d1[d1["dose_no"] == 1].groupby("i")["dose_date"].min()
    first = _d(d1.reindex(who).to_numpy())
    first = np.where(np.isnat(first), day, first)
    months = before if not np.isnan(before) else from_
    under = first < add_months(birth[who], int(months))
    return under if not np.isnan(before) else ~under


def _windows(
    rule: pd.Series, p: pd.DataFrame, birth: np.ndarray, who: np.ndarray, day: np.datetime64
) -> pd.DataFrame:
    """One row per person of ``who`` for the series of ``rule``: window, eligibility, standard end."""
    b = birth[who]
    n = len(who)
    start: np.ndarray = b.copy()
    end: np.ndarray = np.full(n, FAR)
    if not np.isnan(rule["from_days"]):
        start = b + np.timedelta64(int(rule["from_days"]), "D")
    if not np.isnan(rule["to_days"]):
        end = b + np.timedelta64(int(rule["to_days"]), "D")
    if not np.isnan(rule["from_months"]):
        start = add_months(b, int(rule["from_months"]))
    if not np.isnan(rule["before_months"]):
        end = add_months(b, int(rule["before_months"])) - np.timedelta64(1, "D")
    entry = school_entry_year(b)
    if not np.isnan(rule["school_from"]):
        start = _fy_start(entry + int(rule["school_from"]))
        end = _fy_end(entry + int(rule["school_to"]))
    eligible = np.ones(n, dtype=bool)
    if isinstance(rule["sex"], str):
        eligible &= p["sex"].iloc[who].astype(str).to_numpy() == rule["sex"]
    if rule["born_from"] is not None and not pd.isna(rule["born_from"]):
        eligible &= (b >= _d(rule["born_from"])) & (b <= _d(rule["born_to"]))
    cycle = np.zeros(n, dtype=np.int64)
    if rule["fy_of_age"]:
        start, end = _fy_of_age_window(rule["fy_of_age"], b, day)
    if isinstance(rule["b_class_60_64"], str):
        start = np.where(_b_class_60_64(rule, p, b, who, day), np.minimum(start, add_months(b, 720)), start)
    if not np.isnan(rule["per_fiscal_year"]):  # once per fiscal year: this fiscal year's window
        fy = int(fiscal_year(_d([day]))[0])
        cycle[:] = fy
        start = np.maximum(start, _fy_start(np.array([fy]))[0])
        end = _fy_end(fiscal_year(start))
    std: np.ndarray = np.full(n, FAR)
    if not np.isnan(rule["standard_before_months"]):
        std = add_months(b, int(rule["standard_before_months"]))
    if not np.isnan(rule["standard_school_to"]):
        std = _fy_end(entry + int(rule["standard_school_to"])) + np.timedelta64(1, "D")
    return pd.DataFrame(
        {
            "i": who,
            "rule_id": int(rule["rule_id"]),
            "v": int(rule["vaccine"]),
            "vp": int(rule["vaccine"]) * 100 + int(rule["phase"]),
            "doses": int(rule["doses"]),
            "cycle": cycle,
            "window_start": start,
            "window_end": end,
            "standard_end": std,
            "eligible": eligible,
        }
    )


def _fy_of_age_window(
    ages: tuple[int, ...], b: np.ndarray, day: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    """The fiscal year of turning one of ``ages``: the current or next such year, else the last."""
    fy_now = int(fiscal_year(_d([day]))[0])
    chosen = np.full(len(b), -1, dtype=np.int64)
    last = np.full(len(b), -1, dtype=np.int64)
    for age in sorted(ages, reverse=True):
        fy = fiscal_year(add_months(b, 12 * age))
        chosen = np.where(fy >= fy_now, fy, chosen)
        last = np.maximum(last, fy)
    fy = np.where(chosen >= 0, chosen, last)
    return _fy_start(fy), _fy_end(fy)


def _b_class_60_64(
    rule: pd.Series, p: pd.DataFrame, b: np.ndarray, who: np.ndarray, day: np.datetime64
) -> np.ndarray:
    """Who qualifies as a 60–64 year-old holding a grade-1 身体 certificate of the rule's parts
    (their window opens at 60 instead of the ordinary age)."""
    letters = p["disability"].iloc[who].to_numpy() if "disability" in p else np.full(len(who), None)
    parts = str(rule["b_class_60_64"])
    holds = np.array([isinstance(d, str) and any(c in parts for c in d) for d in letters], dtype=bool)
    return holds & (day >= add_months(b, 720)) & (day < add_months(b, 780))


def _expand_doses(s: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """One row per dose number of each series (``doses`` of the rule)."""
    reps = s["doses"].to_numpy(dtype=np.int64)
    out = s.loc[s.index.repeat(reps)].reset_index(drop=True)
    first = np.repeat(np.cumsum(reps) - reps, reps)  # each series' first row
    out["dose_no"] = np.arange(len(out), dtype=np.int64) - first + 1
    return out


def _mark_done(s: pd.DataFrame, valid: pd.DataFrame, rules: Rules, day: np.datetime64) -> pd.DataFrame:
    """``done_date``: the valid dose of the slot (for once-per-fiscal-year vaccines, in this fiscal
    year); ``alt``: the person follows an alternative series (a dose of it, none of this one)."""
    fy_now = int(fiscal_year(_d([day]))[0])
    v = valid[valid["dose_date"].to_numpy() <= day]
    per_fy = s.loc[s["cycle"].to_numpy() > 0, "v"].unique()
    in_fy = fiscal_year(v["dose_date"].to_numpy()) == fy_now
    v = v[~v["v"].isin(per_fy).to_numpy() | in_fy]
    dose_key = _key(v["i"].to_numpy(), v["vp"].to_numpy(), v["dose_no"].to_numpy())
    first = pd.Series(v["dose_date"].to_numpy(), index=dose_key).groupby(level=0).min()
    s["key"] = _key(s["i"].to_numpy(), s["vp"].to_numpy(), s["dose_no"].to_numpy())
    s["done_date"] = first.reindex(s["key"].to_numpy()).to_numpy(dtype="datetime64[D]")
    has = np.unique(v["i"].to_numpy(dtype=np.int64) * 100 + v["v"].to_numpy(dtype=np.int64))
    si, sv = s["i"].to_numpy(dtype=np.int64), s["v"].to_numpy(dtype=np.int64)
    own = np.isin(si * 100 + sv, has)
    has_alt = np.zeros(len(s), dtype=bool)
    for code, spec in rules.vaccines.items():
        for alt in spec.get("alternatives", ()):
            mine = sv == int(code)
            has_alt[mine] |= np.isin(si[mine] * 100 + int(alt), has)
    s["alt"] = has_alt & ~own
    return s


def _predecessors(s: pd.DataFrame, valid: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """``pred_ok``: the predecessor is done (within a phase dose n−1; a booster ``12`` the last
    primary ``11``; dose 1 of ``00``, ``20``, ``90`` waits for nothing); ``earliest_date``: the
    minimum intervals of the rule from their reference doses."""
    vp = s["vp"].to_numpy(dtype=np.int64)
    n = s["dose_no"].to_numpy(dtype=np.int64)
    done_keys = np.unique(s["key"].to_numpy()[~np.isnat(_d(s["done_date"].to_numpy()))])
    primary = s[vp % 100 == 11].groupby("v")["doses"].max()
    booster1 = (vp % 100 == 12) & (n == 1)
    pred_vp = np.where(booster1, vp - 1, vp)
    last_primary = s["v"].map(primary).fillna(0).to_numpy(dtype=np.int64)
    pred_n = np.where(booster1, last_primary, n - 1)
    waits = pred_n >= 1
    found = np.isin(_key(s["i"].to_numpy(), pred_vp, pred_n), done_keys)
    s["pred_ok"] = ~waits | found
    earliest = np.full(len(s), np.datetime64("1800-01-01", "D"))
    iv = rules.intervals
    if len(iv):
        j = s[["rule_id", "dose_no", "i", "v"]].reset_index().merge(iv, on=["rule_id", "dose_no"])
        j["ref_vp"] = j["v"].to_numpy(dtype=np.int64) * 100 + j["ref_phase"].astype(np.int64).to_numpy()
        j["pk"] = _key(j["i"].to_numpy(), j["ref_vp"].to_numpy())
        vd = pd.DataFrame(
            {
                "pk": _key(valid["i"].to_numpy(), valid["vp"].to_numpy()),
                "ref_no": valid["dose_no"].to_numpy(),
                "ref_date": valid["dose_date"].to_numpy(),
            }
        )
        j = j.merge(vd, on="pk")
        by_no = j["ref"].str.isdigit().to_numpy()
        j = j[~by_no | (j["ref_no"].astype(str).to_numpy() == j["ref"].to_numpy())]
        j = j.sort_values("ref_date").drop_duplicates(["index", "ref", "ref_phase"], keep="last")
        ref = _d(j["ref_date"].to_numpy())
        days = j["days"].to_numpy(dtype="float64")
        months = j["months"].to_numpy(dtype="float64")
        after_days = ref + (np.nan_to_num(days).astype(np.int64) + 1).astype("timedelta64[D]")
        after_months = add_months(ref, np.nan_to_num(months).astype(np.int64))
        e = np.where(~np.isnan(days), after_days, np.where(~np.isnan(months), after_months, ref))
        np.maximum.at(earliest, j["index"].to_numpy(), _d(e))
    s["earliest_date"] = np.maximum(earliest, _d(s["window_start"].to_numpy()))
    return s


def _states(s: pd.DataFrame, rules: Rules, day: np.datetime64, atena: np.ndarray) -> pd.DataFrame:
    """One state per slot, in order: done, not_eligible, closed, not_yet, overdue, due."""
    start = _d(s["window_start"].to_numpy())
    end = _d(s["window_end"].to_numpy())
    earliest = _d(s["earliest_date"].to_numpy())
    done = ~np.isnat(_d(s["done_date"].to_numpy()))
    eligible = s["eligible"].to_numpy() & ~s["alt"].to_numpy()
    closed = day > end
    waiting = (day < start) | (day < earliest) | ~s["pred_ok"].to_numpy()
    closing = (end - day).astype(np.int64) < rules.due.closing_days
    past_standard = day >= _d(s["standard_end"].to_numpy())
    state = np.select(
        [done, ~eligible, closed, waiting, closing | past_standard],
        ["done", "not_eligible", "closed", "not_yet", "overdue"],
        default="due",
    )
    none = np.array(None, dtype=object)
    reason = np.where(state == "overdue", np.where(closing, "CLOSING", "OVERDUE"), none)
    out = s.assign(state=state, reason=reason)
    out["earliest_date"] = np.where(out["pred_ok"].to_numpy(), earliest, NAT)
    out["window_end"] = np.where(end == FAR, NAT, end)
    out = out.sort_values("key", ignore_index=True)
    vp = out["vp"].to_numpy(dtype=np.int64)
    out["atena_no"] = atena[out["i"].to_numpy()]
    out["vaccine_code"] = np.char.zfill((vp // 100).astype(str), 2).astype(object)
    out["phase"] = np.char.zfill((vp % 100).astype(str), 2).astype(object)
    return out[COLUMNS]
