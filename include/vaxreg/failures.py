"""Expected failures as one line (cli.md): what an operator can act on, without a traceback.

:func:`one_line` maps an exception to a single line — a refused file, an unreachable or lost
database, a malformed database URL, a read-only or forbidden path, a vault or transport problem —
or returns None for anything else (a bug keeps its traceback). The line never holds a password
(database URLs are not repeated) nor personal data. The CLI prints it; the DAG tasks fail with it
(:func:`task_failure`).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager


class ExpectedFailure(Exception):
    """A failure already put in one line (raised by the DAG tasks, chain suppressed)."""


def _first_line(text: object) -> str:
    lines = [x.strip() for x in str(text).strip().splitlines() if x.strip()]
    return lines[0] if lines else ""


def _database(exc: BaseException) -> str | None:
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.NoSuchModuleError):
        return "the database URL names an unknown database driver: check --database-url / VAXREG_DATABASE_URL"
    if isinstance(exc, sa.ArgumentError):
        return "the database URL is malformed: check --database-url / VAXREG_DATABASE_URL"
    if isinstance(exc, sa.DBAPIError) and isinstance(exc, sa.OperationalError | sa.InterfaceError):
        reason = _first_line(exc.orig) or type(exc.orig).__name__
        if exc.connection_invalidated or "closed" in reason or "terminat" in reason:
            return (
                f"the database connection was lost: {reason} (nothing of the interrupted step was committed)"
            )
        return f"the database is unavailable: {reason}"
    return None


def one_line(exc: BaseException) -> str | None:
    """The one line of an expected failure, or None when ``exc`` is not one (a bug)."""
    from vaxreg.feeds.layout import FileRejected
    from vaxreg.outputs.due import DueCheckFailed
    from vaxreg.outputs.forms import FormsError
    from vaxreg.outputs.outbound import OutboundError
    from vaxreg.pipeline import FeedRefused
    from vaxreg.registry.vault import VaultError
    from vaxreg.retention.policies import PolicyError
    from vaxreg.review.entries import EntryRefused
    from vaxreg.review.queue import ReviewError
    from vaxreg.transport import TransportError

    expected = (ExpectedFailure, FeedRefused, FileRejected, TransportError, VaultError, ReviewError)
    if isinstance(exc, (*expected, PolicyError, DueCheckFailed, FormsError, OutboundError, EntryRefused)):
        return _first_line(exc)
    if (line := _database(exc)) is not None:
        return line
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}"
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
        return f"{exc.strerror}: {exc.filename}"
    return None


@contextmanager
def task_failure() -> Iterator[None]:
    """In a DAG task: an expected failure fails the task with its one line (no library traceback)."""
    try:
        yield
    except Exception as exc:
        line = one_line(exc)
        if line is None:
            raise
        raise ExpectedFailure(line) from None
