"""Monthly files that have not arrived by their deadline (未着ファイルの検知).

The monthly feeds deliver one file (or a pair) per month; its run finds nothing and succeeds
when the sender is late, so lateness is checked on its own: from its due day on, a month's
file that is neither in the registry's manifest (applied, duplicate or refused) nor complete in
``outbox/<feed>/`` (data file and marker) is *missing*. The ``feed_deadlines`` DAG runs the
check every morning and fails with one line per missing file, so the on-call mail repeats each
day until the file comes (docs/runbook.md#feed_deadlines, decisions.md §62).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vaxreg import config
from vaxreg.registry import db


@dataclass(frozen=True)
class Deadline:
    """Files of ``feed`` for a month, due on ``day`` of the month; ``lag`` months back (0: that
    month's own snapshot; 1: the previous month's records)."""

    feed: str
    names: tuple[str, ...]  # with {ym}: YYYYMM of the month the file covers
    day: int
    lag: int


DEADLINES = (
    Deadline("welfare", ("SEIHO_{ym}.csv", "TECHO_{ym}.csv"), day=2, lag=0),  # snapshot of the month
    Deadline("clinic", ("ISHIKAI_{ym}.csv",), day=5, lag=1),  # last month's vaccinations
)


@dataclass(frozen=True)
class Missing:
    feed: str
    name: str
    due: dt.date

    def line(self) -> str:
        return f"{self.feed}: {self.name} not arrived (due {self.due.isoformat()})"


def _month_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def expected(day: dt.date) -> list[Missing]:
    """Every file due on or before ``day`` in its month (the current month's deadlines only)."""
    out: list[Missing] = []
    for d in DEADLINES:
        if day.day >= d.day:
            ym = _month_back(day, d.lag).strftime("%Y%m")
            due = day.replace(day=d.day)
            out.extend(Missing(d.feed, n.format(ym=ym), due) for n in d.names)
    return out


def missing(day: dt.date, *, source_url: str | None = None, db_url: str | None = None) -> list[Missing]:
    """The files due by ``day`` that are neither known to the manifest nor complete in the outbox."""
    from vaxreg.transport import open_source

    due = expected(day)
    if not due:
        return []
    names = sorted({m.name for m in due})
    with db.transaction(db_url) as conn:
        marks = ", ".join(db.mark(conn) for _ in names)
        known = {
            r[0]
            for r in conn.exec_driver_sql(
                f"SELECT file_name FROM ingest_manifest WHERE file_name IN ({marks})", tuple(names)
            )
        }
    from vaxreg.transport.base import TransportError

    arrived: set[str] = set()
    with open_source(source_url or config.source_url()) as src:
        for feed in sorted({m.feed for m in due}):
            try:
                arrived |= {f.name for f in src.list_complete(feed)}
            except TransportError as exc:  # no outbox/<feed> yet: nothing arrived; else a real failure
                if "no folder" not in str(exc):
                    raise
    return [m for m in due if m.name not in known and m.name not in arrived]
