"""The transport's common part: errors, file-name rules, the atomic local copy, and
:class:`Source` with its idempotent outbound write (:meth:`Source.put_outbound`) built on
primitives each kind of source implements (:mod:`.local`, :mod:`.sftp`)."""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import pathlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import paramiko

MARKER_SUFFIX = ".done"
CHUNK_SIZE = 1024 * 1024
CONNECT_TIMEOUT = 15.0
IO_TIMEOUT = 120.0
_MAX_MARKER_BYTES = 4096
_OUTBOX = "outbox"
_INBOX = "inbox"


class TransportError(Exception):
    """Transport failure; the message is one line and carries no file contents."""


class OutboundConflict(TransportError):
    """A different file (or marker) already has the name of an outbound file: never overwritten."""


class _NameTaken(TransportError):
    """The final name of a no-clobber rename exists already."""


_Folder = pathlib.Path | str  # a local folder, or an SFTP path
StepHook = Callable[[str], None]  # called with the name of each step of a write (fault injection)


def _no_step(step: str) -> None:
    return None


@dataclass(frozen=True)
class RemoteFile:
    """A complete data file in ``outbox/<feed>/`` (its marker exists)."""

    feed: str
    name: str
    size: int
    marker: str  # marker text stripped of surrounding whitespace; "" when empty


def _one_line(exc: BaseException) -> str:
    """Short one-line description of an exception."""
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_segment(kind: str, value: str) -> str:
    """Reject path segments that could escape their folder or hide as dotfiles."""
    if (
        not value
        or value.startswith(".")
        or "/" in value
        or "\\" in value
        or "\x00" in value
        or value != value.strip()
    ):
        raise TransportError(f"invalid {kind} name: {value!r}")
    return value


def _check_data_name(name: str) -> str:
    _check_segment("file", name)
    if name.endswith(MARKER_SUFFIX):
        raise TransportError(f"invalid file name (marker suffix): {name!r}")
    return name


_TMP_TOKEN = 12  # hex characters of the writer's random part


def _tmp_name(name: str) -> str:
    """Hidden temporary name beside ``name``, unique to this writer (readers ignore dotfiles)."""
    return f".{name}.{secrets.token_hex(_TMP_TOKEN // 2)}.tmp"


def _is_tmp_of(entry: str, name: str) -> bool:
    """``entry`` is a temporary file a writer of ``name`` left behind (see :func:`_tmp_name`)."""
    prefix, suffix = f".{name}.", ".tmp"
    token = entry[len(prefix) : -len(suffix)] if entry.startswith(prefix) and entry.endswith(suffix) else ""
    return len(token) == _TMP_TOKEN and all(c in "0123456789abcdef" for c in token)


def _marker_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").strip()


def sha256_file(path: pathlib.Path) -> str:
    """SHA-256 hex digest of a local file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


class _Reader(Protocol):
    """A binary reader: a local file or paramiko's SFTPFile."""

    def read(self, size: int, /) -> bytes: ...


def _stream_to_local(reader: _Reader, dest: pathlib.Path) -> str:
    """Copy ``reader`` to ``dest`` atomically (hidden temp file + os.replace); return sha256 hex.

    The temporary name is unique to this copy: two runs downloading the same file into the same
    staging folder each write their own and the last rename wins with the same bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(_tmp_name(dest.name))
    digest = hashlib.sha256()
    try:
        with tmp.open("xb") as out:
            while chunk := reader.read(CHUNK_SIZE):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return digest.hexdigest()


class Source(abc.ABC):
    """A delivery root (holding ``outbox/`` and ``inbox/``); use as a context manager."""

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abc.abstractmethod
    def list_complete(self, feed: str) -> list[RemoteFile]:
        """Data files of ``outbox/<feed>/`` that have a marker, sorted by name ([] if no such folder)."""

    @abc.abstractmethod
    def download(self, feed: str, name: str, dest: pathlib.Path) -> str:
        """Copy ``outbox/<feed>/<name>`` to ``dest`` atomically; return its sha256 hex."""

    @abc.abstractmethod
    def write_outbound(self, target: str, name: str, src: pathlib.Path) -> str:
        """Publish ``src`` as ``inbox/<target>/<name>`` plus marker; return its sha256 hex."""

    def put_outbound(self, target: str, name: str, data: bytes, on_step: StepHook = _no_step) -> str:
        """Publish ``data`` as ``inbox/<target>/<name>`` plus marker, idempotently.

        Safe to repeat after a crash at any point and beside a concurrent writer of the same
        bytes: a data file or marker already there with the same content is kept ("adopted"),
        a missing one is written (temporary name unique to this writer, no-clobber rename);
        anything else under the name raises :class:`OutboundConflict` and is left untouched.
        Temporary files earlier writers of ``name`` left behind are removed at the end.
        Returns ``"written"`` when this call put the data file in place, else ``"adopted"``.
        ``on_step`` is called after each step (``data_temp``, ``data_renamed``, ``marker_temp``,
        ``marker_renamed``) — the tests' fault injection."""
        _check_segment("target", target)
        _check_data_name(name)
        digest = hashlib.sha256(data).hexdigest()
        where = f"inbox/{target}/{name}"
        marker = name + MARKER_SUFFIX
        try:
            folder = self._out_folder(target)
            found, text = self._out_sha(folder, name), self._out_head(folder, marker)
            self._check_ours(where, digest, found, text)
            outcome = "adopted"
            if found is None:
                try:
                    self._out_write(folder, name, data, lambda: on_step("data_temp"))
                    outcome = "written"
                except _NameTaken:  # a concurrent writer was faster: its bytes must be ours
                    self._check_ours(where, digest, self._out_sha(folder, name), None)
                on_step("data_renamed")
            if text is None:
                try:
                    self._out_write(folder, marker, f"{digest}\n".encode(), lambda: on_step("marker_temp"))
                except _NameTaken:
                    self._check_ours(where, digest, None, self._out_head(folder, marker))
                on_step("marker_renamed")
            self._out_sweep(folder, name)
        except TransportError:
            raise
        except _SFTP_ERRORS as exc:
            raise TransportError(f"cannot write {where}: {_one_line(exc)}") from exc
        return outcome

    @staticmethod
    def _check_ours(where: str, digest: str, found: str | None, marker: bytes | None) -> None:
        """The data file (its SHA-256) and marker found under the name, if any, are ours."""
        if found is not None and found != digest:
            raise OutboundConflict(
                f"{where} exists with other content (sha256 {found[:12]}…, ours {digest[:12]}…); "
                "not overwritten"
            )
        if marker is not None and _marker_text(marker) != digest:
            raise OutboundConflict(
                f"{where}{MARKER_SUFFIX} exists and does not hold our digest; not overwritten"
            )

    def check_outbound(self, target: str, name: str, digest: str) -> None:
        """Raise :class:`OutboundConflict` when ``inbox/<target>/<name>`` or its marker exists and is
        not the file of SHA-256 ``digest`` (nothing there, or our own file: fine)."""
        _check_segment("target", target)
        _check_data_name(name)
        where = f"inbox/{target}/{name}"
        try:
            folder = self._out_folder(target)
            found, text = self._out_sha(folder, name), self._out_head(folder, name + MARKER_SUFFIX)
        except TransportError:
            raise
        except _SFTP_ERRORS as exc:
            raise TransportError(f"cannot read {where}: {_one_line(exc)}") from exc
        self._check_ours(where, digest, found, text)

    # Primitives of put_outbound, per kind of source (``folder`` is the source's own handle).
    def _out_folder(self, target: str) -> _Folder:
        raise NotImplementedError

    def _out_sha(self, folder: _Folder, name: str) -> str | None:
        """SHA-256 of the file ``name`` in ``folder``, or None when there is none."""
        raise NotImplementedError

    def _out_head(self, folder: _Folder, name: str) -> bytes | None:
        """The first bytes of the (small) file ``name`` in ``folder``, or None when there is none."""
        raise NotImplementedError

    def _out_write(self, folder: _Folder, name: str, data: bytes, before_rename: Callable[[], None]) -> None:
        """Temporary file, then a no-clobber rename; :class:`_NameTaken` when ``name`` exists."""
        raise NotImplementedError

    def _out_sweep(self, folder: _Folder, name: str) -> None:
        """Remove the temporary files writers of ``name`` left behind (a crash before the rename)."""
        raise NotImplementedError

    @abc.abstractmethod
    def describe(self) -> str:
        """URL of this source without secrets, for logs."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the connection (idempotent)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


_SFTP_ERRORS = (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError)
