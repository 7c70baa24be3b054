"""Feed transport: one read/write interface over a local folder and an SFTP server.

Delivery contract: data files live under ``<root>/outbox/<feed>/``; a file ``NAME`` is
complete only when ``NAME.done`` exists beside it (empty, or the SHA-256 hex of NAME).
Nothing here modifies, renames or deletes anything under ``outbox/``.  Outbound files
go to ``<root>/inbox/<target>/`` via a temporary dot-name unique to the writer and a
no-clobber rename, followed by a ``NAME.done`` marker (also renamed into place) holding
the SHA-256. :meth:`Source.put_outbound` does the same idempotently (a file already there
with the same bytes is adopted, one with other bytes is a conflict, never overwritten);
:mod:`vaxreg.outputs.outbound` builds its exactly-once publication on it.

This module must not import Airflow.
"""

from __future__ import annotations

import pathlib
from urllib.parse import parse_qs, unquote, urlsplit

from vaxreg.transport.base import (
    MARKER_SUFFIX,
    OutboundConflict,
    RemoteFile,
    Source,
    StepHook,
    TransportError,
    sha256_file,
)
from vaxreg.transport.local import LocalSource
from vaxreg.transport.sftp import SftpSource

__all__ = [
    "MARKER_SUFFIX",
    "LocalSource",
    "OutboundConflict",
    "RemoteFile",
    "SftpSource",
    "Source",
    "StepHook",
    "TransportError",
    "open_source",
    "sha256_file",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(query: dict[str, list[str]], key: str) -> bool:
    value = query.get(key, ["false"])[-1].lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise TransportError(f"invalid value for {key} in source URL")


def open_source(url: str) -> Source:
    """Open ``file:///abs/path`` or ``sftp://user@host[:port]/abs/path?key_file=..&known_hosts=..``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TransportError("malformed source URL") from exc
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query:
            raise TransportError("file URL must look like file:///abs/path")
        return LocalSource(pathlib.Path(unquote(parts.path)))
    if scheme != "sftp":
        raise TransportError(f"unsupported source URL scheme: {scheme or '(none)'}")
    if parts.password is not None:
        raise TransportError("passwords in source URLs are not supported; use key_file")
    if not parts.hostname or not parts.username:
        raise TransportError("sftp URL needs user@host")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"key_file", "known_hosts", "no_host_key_check"}
    if unknown:
        raise TransportError(f"unknown sftp URL parameter(s): {', '.join(sorted(unknown))}")
    key_file = query.get("key_file", [""])[-1]
    if not key_file:
        raise TransportError("sftp URL needs key_file=")
    known_hosts = query.get("known_hosts", [""])[-1] or None
    return SftpSource(
        parts.hostname,
        unquote(parts.path) or "/",
        username=unquote(parts.username),
        port=port or 22,
        key_file=key_file,
        known_hosts=known_hosts,
        host_key_check=not _flag(query, "no_host_key_check"),
    )
