"""The routine schedule (定期接種) as reviewed data: ``data/schedule_rules.toml`` loaded into
:class:`Rules` (one row per rule with effective dates, its minimum intervals, the live
injectable vaccines). The error check (:mod:`vaxreg.rules.check`) and the due doses read the
same table: there is no second copy of the schedule in code.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaxreg import config

RULES_FILE = config.DATA_DIR / "schedule_rules.toml"
FAR_FUTURE = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class DueSettings:
    """The ``[due]`` section: what the due doses and their outputs need beyond the windows."""

    closing_days: int = 90  # overdue (CLOSING) when the window closes in fewer days than this
    reminder_repeat_days: int = 180  # no second reminder for the same dose within this many days
    move_in_days: int = 60  # a move-in this recent waits for its history inquiry's answer


@dataclass(frozen=True)
class Rules:
    rules: pd.DataFrame  # one row per [[rule]]
    intervals: pd.DataFrame  # rule_id, dose_no, ref, ref_phase, days, months, judgement_days
    live_injectable: frozenset[str]
    live_days: int
    vaccines: dict[str, dict[str, Any]]
    due: DueSettings = field(default_factory=lambda: DueSettings())

    def known_phases(self) -> set[tuple[str, str]]:
        return set(zip(self.rules["vaccine"], self.rules["phase"], strict=True))


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v))


def load_rules(path: Path | None = None) -> Rules:
    """Read and check the reviewed rules file (no overlapping periods for one vaccine, phase, variant)."""
    raw = tomllib.loads((path or RULES_FILE).read_text(encoding="utf-8"))
    rows, intervals = [], []
    for i, r in enumerate(raw["rule"]):
        age = r.get("age", {})
        born = r.get("born", {})
        sy = r.get("school_years")
        rows.append(
            {
                "rule_id": i,
                "vaccine": r["vaccine"],
                "phase": r["phase"],
                "eff_from": np.datetime64(_date(r["from"]), "D"),
                "eff_to": np.datetime64(_date(r.get("to", FAR_FUTURE)), "D"),
                "doses": int(r["doses"]),
                "sex": r.get("sex"),
                "from_days": age.get("from_days"),
                "to_days": age.get("to_days"),
                "from_months": age.get("from_months"),
                "before_months": age.get("before_months"),
                "born_from": np.datetime64(_date(born["from"]), "D") if born else None,
                "born_to": np.datetime64(_date(born["to"]), "D") if born else None,
                "school_from": sy[0] if sy else None,
                "school_to": sy[1] if sy else None,
                "fy_of_age": tuple(r.get("fy_of_age", ())),
                "b_class_60_64": r.get("b_class_60_64"),
                "per_fiscal_year": r.get("per_fiscal_year"),
                "per_lifetime": r.get("per_lifetime"),
                "dose1_before": r.get("dose1_age_before_months"),
                "dose1_from": r.get("dose1_age_from_months"),
                "standard_before_months": r.get("standard", {}).get("before_months"),
                "standard_school_to": r.get("standard", {}).get("school_to"),
                "form_at": r.get("form", {}).get("at", "lead"),
                "form_lead_days": int(r.get("form", {}).get("lead_days", 30)),
            }
        )
        for iv in r.get("interval", []):
            for n in iv["doses"]:
                intervals.append(
                    {
                        "rule_id": i,
                        "dose_no": int(n),
                        "ref": str(iv["ref"]),
                        "ref_phase": iv.get("ref_phase", r["phase"]),
                        "days": iv.get("days"),
                        "months": iv.get("months"),
                        "judgement_days": iv.get("judgement_days"),
                    }
                )
    rules = pd.DataFrame(rows)
    for col in ("from_days", "to_days", "from_months", "before_months", "school_from", "school_to"):
        rules[col] = rules[col].astype("float64")
    for col in (
        "per_fiscal_year",
        "per_lifetime",
        "dose1_before",
        "dose1_from",
        "standard_before_months",
        "standard_school_to",
    ):
        rules[col] = rules[col].astype("float64")
    # Overlap check per vaccine, phase and variant.
    variant = rules["dose1_before"].fillna(-1).astype(str) + "/" + rules["dose1_from"].fillna(-1).astype(str)
    for _, g in rules.assign(variant=variant).groupby(["vaccine", "phase", "variant"]):
        g = g.sort_values("eff_from")
        if (g["eff_from"].to_numpy()[1:] <= g["eff_to"].to_numpy()[:-1]).any():
            raise ValueError(
                f"schedule rules overlap for vaccine {g['vaccine'].iloc[0]} phase {g['phase'].iloc[0]}"
            )
    iv_frame = pd.DataFrame(
        intervals, columns=["rule_id", "dose_no", "ref", "ref_phase", "days", "months", "judgement_days"]
    )
    vaccines = raw["vaccines"]
    live = frozenset(k for k, v in vaccines.items() if v.get("live_injectable"))
    due = DueSettings(**raw.get("due", {}))
    return Rules(rules, iv_frame, live, int(raw["cross"]["live_injectable_days"]), vaccines, due)


@cache
def default_rules() -> Rules:
    return load_rules()
