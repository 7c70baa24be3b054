"""Retention policies (privacy.md P6) as reviewed data: ``data/retention.yaml``, one policy per
kind of data, with its basis (after the event, after resolution, after death, after removal)
and its period."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import yaml
from dateutil.relativedelta import relativedelta

from vaxreg import config

POLICIES_FILE = config.DATA_DIR / "retention.yaml"
KINDS = {
    "files": {"after_event"},
    "rows": {"after_event", "after_resolution"},
    "audit": {"after_event"},
    "person": {"after_death", "after_removal"},
    "never": {"after_event", "after_resolution", "after_death", "after_removal"},
}
PERSON_STATUSES = {"after_death": ("deceased",), "after_removal": ("moved_out", "removed")}


class PolicyError(Exception):
    """The policy file is not valid. One line."""


@dataclasses.dataclass(frozen=True)
class Policy:
    name: str
    kind: str
    basis: str
    period: str
    area: str | None = None
    table: str | None = None
    key: str | None = None
    date_column: str | None = None
    # person tables: (table, key, column, through): rows whose ``column`` is the id of a row of
    # ``through`` held by the person (or of no row any more); ("", "") for ``atena_no`` itself
    tables: tuple[tuple[str, str, str, str], ...] = ()

    def cutoff(self, as_of: dt.date) -> dt.date | None:
        """The first day that is kept; None for ``never``."""
        if self.period == "never":
            return None
        n, unit = self.period.split()
        delta = relativedelta(days=int(n)) if unit.startswith("day") else relativedelta(years=int(n))
        return as_of - delta


def load_policies(path: Path | None = None) -> tuple[list[Policy], str]:
    """The policies and the vacuum mode; refuses anything it does not understand."""
    path = path or POLICIES_FILE
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise PolicyError(f"{path.name}: expected 'version: 1'")
    vacuum = doc.get("vacuum", "plain")
    if vacuum not in ("plain", "full"):
        raise PolicyError(f"{path.name}: vacuum must be plain or full")
    out = []
    for p in doc.get("policies", []):
        name, kind, basis, period = (str(p.get(k, "")) for k in ("name", "kind", "basis", "period"))
        if kind not in KINDS or basis not in KINDS[kind]:
            raise PolicyError(
                f"{path.name}: policy {name!r}: kind {kind!r} with basis {basis!r} is not supported"
            )
        parts = period.split()
        if not (
            (period == "never" and kind == "never")
            or (
                kind != "never"
                and len(parts) == 2
                and parts[0].isdigit()
                and int(parts[0]) > 0
                and parts[1] in ("day", "days", "year", "years")
            )
        ):
            raise PolicyError(
                f"{path.name}: policy {name!r}: period {period!r} (use 'N days', 'N years', never)"
            )
        tables = tuple(
            (str(t["table"]), str(t["key"]), str(t.get("column", "")), str(t.get("through", "")))
            for t in p.get("tables", [])
        )
        if any(bool(t[2]) != bool(t[3]) for t in tables):
            raise PolicyError(f"{path.name}: policy {name!r}: column and through go together")
        if kind == "files" and p.get("area") not in ("landing", "work"):
            raise PolicyError(f"{path.name}: policy {name!r}: area must be landing or work")
        if kind == "rows" and not (p.get("table") and p.get("key") and p.get("date_column")):
            raise PolicyError(f"{path.name}: policy {name!r}: rows needs table, key and date_column")
        if kind == "person" and (not tables or tables[-1][0] != "persons"):
            raise PolicyError(f"{path.name}: policy {name!r}: person tables must end with persons")
        out.append(
            Policy(
                name=name,
                kind=kind,
                basis=basis,
                period=period,
                area=p.get("area"),
                table=p.get("table"),
                key=p.get("key"),
                date_column=p.get("date_column"),
                tables=tables,
            )
        )
    if len({p.name for p in out}) != len(out):
        raise PolicyError(f"{path.name}: policy names must be unique")
    return out, vacuum
