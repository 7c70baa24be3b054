"""File layouts of the inbound feeds (feeds.md §1): name pattern, columns, encoding, dates in the
name, and the file-level errors that refuse a whole file.

A :class:`Layout` says how a file is read; what the pipeline then does with it is declared beside
it, in the feed's own module (:mod:`vaxreg.feeds`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from typing import Any

from vaxreg.identity.validators import municipality_check_digit

# Longest value (characters) of any field unless its layout declares another (decisions: limits).
DEFAULT_MAX_LENGTH = 100


class FileRejected(Exception):
    """A file-level error: the file is refused whole. The message is one line, no personal data."""

    validation: Any = None  # the suite's results when a file-level expectation refused it


@dataclass(frozen=True)
class Layout:
    feed: str
    file_pattern: re.Pattern[str]
    columns: tuple[str, ...]
    encoding: str
    date_format: str = "%Y%m%d"
    sensitive: tuple[str, ...] = ()  # read, but never written to staging, logs or quarantine
    # Received header name -> internal column name (CP932 feeds have Japanese headers).
    rename: dict[str, str] = field(default_factory=dict)
    optional: tuple[str, ...] = ()  # header names that may be absent (their column is then blank)
    monthly: bool = False  # the file name carries YYYYMM: the file date is the month's last day
    kind: str = ""  # which file of a feed with several layouts (welfare, vrs); "" = the feed itself
    # Header name -> longest value in characters; other columns: DEFAULT_MAX_LENGTH. A longer
    # value quarantines its row (``field_too_long``).
    max_length: dict[str, int] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        """Internal column names, in layout order."""
        return tuple(self.rename.get(c, c) for c in self.columns)

    def limit(self, column: str) -> int:
        """The longest value (characters) the header column ``column`` may hold."""
        return self.max_length.get(column, DEFAULT_MAX_LENGTH)

    def file_date(self, name: str) -> dt.date:
        m = self.file_pattern.fullmatch(name)
        if not m:
            raise FileRejected(f"{name}: file name does not match {self.file_pattern.pattern}")
        try:
            day = dt.datetime.strptime(m.group("date"), self.date_format).date()
        except ValueError:
            raise FileRejected(f"{name}: file name carries an invalid date") from None
        if self.monthly:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        return day

    def name_part(self, name: str, part: str) -> str:
        m = self.file_pattern.fullmatch(name)
        if not m:
            raise FileRejected(f"{name}: file name does not match {self.file_pattern.pattern}")
        return m.group(part)


# Tokyo's 23 special wards (特別区): 131016 … 131237 (feeds.md §1).
TOKYO_WARDS = frozenset(f"131{n:02d}{municipality_check_digit(f'131{n:02d}')}" for n in range(1, 24))


def home_municipality() -> str:
    """Our municipality code (Minato City by default; ``VAXREG_MUNICIPALITY_CODE``)."""
    return os.environ.get("VAXREG_MUNICIPALITY_CODE", "131032")


def check_file_name(layout: Layout, name: str) -> None:
    """File-level checks of the name beyond its pattern: the other ward's code (feeds.md §5)."""
    layout.file_date(name)
    if "ward" in layout.file_pattern.groupindex:
        ward = layout.name_part(name, "ward")
        if ward not in TOKYO_WARDS:
            raise FileRejected(f"{name}: ward code {ward} is not a valid code of a Tokyo special ward")
        if ward == home_municipality():
            raise FileRejected(f"{name}: ward code {ward} is our own municipality, not another ward")
