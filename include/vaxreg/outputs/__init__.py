"""What the registry gives out (outputs.md, feeds.md §7): outbound files published atomically
under ``inbox/<target>/``, the operator's exports and summaries.

Each output module declares its file layouts once (:func:`vaxreg.outputs.outbound.register`)
and one ``publish(conn, source, actor, day)`` entry point; :data:`PUBLISHERS` names them for
the pipeline and the DAG tasks that run them after a feed's apply step.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from vaxreg.registry.ledger import Actor
    from vaxreg.transport import Source

# target -> the module whose ``publish(conn, source, actor, day) -> list[file name]`` writes it
PUBLISHERS = {
    "fees": "fees",
    "vrs_flags": "vrs_flags",
}

Publisher = Callable[["Connection", "Source", "Actor", dt.date], list[str]]


def publisher(target: str) -> Publisher:
    """The publish function of ``target`` (its module is imported on first use)."""
    if target not in PUBLISHERS:
        raise KeyError(f"unknown output {target!r} (one of {', '.join(PUBLISHERS)})")
    fn: Publisher = importlib.import_module(f"vaxreg.outputs.{PUBLISHERS[target]}").publish
    return fn
