"""What the registry gives out (outputs.md, feeds.md §7): outbound files published atomically
under ``inbox/<target>/``, the operator's exports and summaries.

Each output module declares its file layouts once (:func:`vaxreg.outputs.outbound.register`)
and one ``publish(source, actor, day, *, db_url=None) -> list[file name]`` entry point that
publishes through :func:`vaxreg.outputs.outbound.publish_once` (exactly once, in its own
transactions: the caller opens none); :data:`PUBLISHERS` names them for the pipeline, the DAG
tasks and the CLI.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from vaxreg.registry.ledger import Actor
    from vaxreg.transport import Source

# output -> the module whose ``publish(source, actor, day, *, db_url=None) -> list[file name]`` writes it
PUBLISHERS = {
    "fees": "fees",
    "vrs_flags": "vrs_flags",
    "forms": "forms",
    "reminders": "reminders",
    "stats": "stats",
    "fukuhon": "fukuhon",
    "shokai": "inquiries",
}
# outputs drawn from the due doses: ``vaxreg publish`` refreshes them first, as their DAGs do
REFRESH_FIRST = frozenset({"forms", "reminders"})


class Publisher(Protocol):
    def __call__(
        self, source: Source, actor: Actor, day: dt.date, *, db_url: str | None = None
    ) -> list[str]: ...


def _module(target: str) -> Any:
    if target not in PUBLISHERS:
        raise KeyError(f"unknown output {target!r} (one of {', '.join(PUBLISHERS)})")
    return importlib.import_module(f"vaxreg.outputs.{PUBLISHERS[target]}")


def purpose(target: str) -> str:
    """The audit purpose of the output (its module's ``PURPOSE``; a generic one otherwise)."""
    return str(getattr(_module(target), "PURPOSE", f"outbound file {target}"))


def summary(target: str, *, db_url: str | None = None) -> dict[str, Any]:
    """Counts describing the output's state after a run (its module's ``state(conn)``, if any)."""
    from vaxreg.registry import db

    state = getattr(_module(target), "state", None)
    if state is None:
        return {}
    with db.transaction(db_url) as conn:
        return dict(state(conn))


def publisher(target: str) -> Publisher:
    """The publish function of ``target`` (its module is imported on first use)."""
    if target not in PUBLISHERS:
        raise KeyError(f"unknown output {target!r} (one of {', '.join(PUBLISHERS)})")
    fn: Publisher = importlib.import_module(f"vaxreg.outputs.{PUBLISHERS[target]}").publish
    return fn
