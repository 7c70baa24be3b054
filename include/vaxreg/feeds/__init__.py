"""The inbound feeds (feeds.md, vrs.md, outputs.md §5): one module per feed declares, in one place,
everything the generic pipeline (:mod:`vaxreg.pipeline`) needs to run it.

A :class:`Feed` has one or more file kinds (:class:`FileKind`): the welfare feed delivers SEIHO and
TECHO snapshots, the VRS feed subjects and records. Each kind names its layout (how the file is
read), its Great Expectations suite, the dates the suite sees, the derived columns it checks, and
the apply step that writes the registry. The feed adds its audit purpose, which registry areas it
changes (what the DAGs' Assets announce), and the outputs published after its apply step.

Adding a feed means adding a module here (with its ``FEEDS``), a line in :data:`MODULES`, a suite
in ``expectations/`` and a DAG file; the pipeline holds no feed names.

This module stays light (no pandas, no database): the feed modules are imported on first use.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaxreg.feeds.layout import FileRejected, Layout

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Connection

    from vaxreg.registry.ledger import Actor, Outcome

# feed id (the folder under outbox/) -> the module of vaxreg.feeds that declares it
MODULES = {
    "resident": "resident",
    "welfare": "welfare",
    "clinic": "vaccination",
    "otherward": "vaccination",
    "vrs": "vrs",
    "atena": "atena",
    "prior": "prior",
}
NAMES = tuple(MODULES)

Rejected = list[tuple[int, str, str]]  # (row_no, reason, received text with My Number removed)


@dataclass(frozen=True)
class ApplyContext:
    """What a feed's apply step gets besides the staged rows; it runs in the caller's transaction."""

    feed: str
    kind: FileKind
    manifest_id: int
    file_name: str  # the file's name, or the resolutions manifest's (review-resolutions/<run>/<file>)
    file_date: dt.date
    actor: Actor
    rejected: Rejected = field(default_factory=list)  # rows the parser cut out, to quarantine
    # Per staged row, the person a reviewer decided (review items applied on the next run), or None.
    decided_atena: pa.Array | None = None
    landing: Path | None = None  # the landing copy (sensitive columns are read back from it)


ApplyFn = Callable[["Connection", "pa.Table", ApplyContext], "Outcome"]


@dataclass(frozen=True)
class FileKind:
    """One file layout of a feed and everything the pipeline does with it."""

    layout: Layout
    suite: str  # expectations/<suite>.json
    apply: ApplyFn
    date_columns: tuple[str, ...] = ()  # ISO dates the suite sees parsed (``<col>__date``)
    # (staged table, file name) -> the table with the derived columns its suite checks
    derive: Callable[[pa.Table, str], pa.Table] | None = None
    # parse-time reshaping of the staged rows (VRS: wide → one row per dose) and rows it cut out
    reshape: Callable[[pa.Table], tuple[pa.Table, Rejected]] | None = None
    # the received rows of accepted review items (JSON) → staged rows and the person per row
    restage: Callable[[list[dict[str, Any]], list[int], list[str]], tuple[pa.Table, list[str]]] | None = None
    # a layout that depends on the file's header (VRS records: any number of dose groups)
    header_layout: Callable[[Path, str], Layout] | None = None
    validate_slice: int = 0  # validate in slices of this many rows (bounded memory), 0: whole

    @property
    def name(self) -> str:
        return self.layout.kind or self.layout.feed

    def layout_of(self, file_name: str, path: Path | None) -> Layout:
        return self.header_layout(path, file_name) if self.header_layout and path else self.layout


@dataclass(frozen=True)
class Feed:
    """An inbound feed: its file kinds (in contract order within a date) and what it is for."""

    name: str
    purpose: str  # the audit records' purpose (privacy.md P4)
    kinds: tuple[FileKind, ...]
    changes: tuple[str, ...]  # registry areas it changes: persons, doses, welfare, vouchers, ...
    after_apply: tuple[str, ...] = ()  # outputs published after the apply step (vaxreg.outputs)
    reviews: bool = False  # writes review items, resolved and applied on its next run
    name_pattern: str = ""  # the file names of the feed, for messages (default: the kinds')

    def kind_for(self, file_name: str) -> FileKind:
        """The kind of ``file_name``; :class:`FileRejected` when it is no file of this feed."""
        for kind in self.kinds:
            if kind.layout.file_pattern.fullmatch(file_name):
                return kind
        pattern = self.name_pattern or "|".join(k.layout.file_pattern.pattern for k in self.kinds)
        raise FileRejected(f"{file_name}: file name does not match {pattern}")

    def file_date(self, file_name: str) -> dt.date:
        return self.kind_for(file_name).layout.file_date(file_name)

    def order_key(self, file_name: str) -> tuple[str, int, str]:
        """Processing order: name order, except that a feed's files of one date go in their
        contract order (VRS subjects before records of the same date; SEIHO before TECHO)."""
        if len(self.kinds) == 1:
            return ("", 0, file_name)
        for rank, kind in enumerate(self.kinds):
            m = kind.layout.file_pattern.fullmatch(file_name)
            if m:
                return (m.group("date"), rank, file_name)
        return ("", 0, file_name)


def feeds_of(module: str, feeds: Sequence[Feed]) -> dict[str, Feed]:
    """A feed module's ``FEEDS`` table, checked against :data:`MODULES`."""
    table = {f.name: f for f in feeds}
    for name in table:
        if MODULES.get(name) != module.rsplit(".", 1)[-1]:
            raise RuntimeError(f"feed {name!r} is declared in {module} but not registered there in MODULES")
    return table


def get(name: str) -> Feed:
    """The feed ``name`` (its module is imported on first use)."""
    if name not in MODULES:
        raise KeyError(f"unknown feed {name!r} (one of {', '.join(NAMES)})")
    module = importlib.import_module(f"vaxreg.feeds.{MODULES[name]}")
    feed: Feed = module.FEEDS[name]
    return feed


__all__ = ["MODULES", "NAMES", "ApplyContext", "Feed", "FileKind", "FileRejected", "Layout", "get"]
