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

import abc
import contextlib
import errno
import hashlib
import io
import os
import pathlib
import posixpath
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import paramiko

__all__ = [
    "LocalSource",
    "OutboundConflict",
    "RemoteFile",
    "SftpSource",
    "Source",
    "TransportError",
    "open_source",
    "sha256_file",
]

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
_NO_HARDLINK = frozenset({errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


class LocalSource(Source):
    """A delivery root on the local file system."""

    def __init__(self, root: pathlib.Path | str) -> None:
        self.root = pathlib.Path(root)
        if not self.root.is_absolute():
            raise TransportError("local root must be an absolute path")

    def describe(self) -> str:
        return self.root.as_uri()

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise TransportError(f"root folder not found: {self.describe()}")

    def list_complete(self, feed: str) -> list[RemoteFile]:
        _check_segment("feed", feed)
        self._check_root()
        folder = self.root / _OUTBOX / feed
        try:
            entries = {e.name: e for e in os.scandir(folder)}
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise TransportError(f"cannot list outbox/{feed}: {_one_line(exc)}") from exc
        files: list[RemoteFile] = []
        for name in sorted(entries):
            entry = entries[name]
            if name.startswith(".") or name.endswith(MARKER_SUFFIX):
                continue
            marker = entries.get(name + MARKER_SUFFIX)
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                if marker is None or not marker.is_file(follow_symlinks=False):
                    continue
                size = entry.stat(follow_symlinks=False).st_size
                with open(marker.path, "rb") as fh:
                    text = _marker_text(fh.read(_MAX_MARKER_BYTES))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise TransportError(f"cannot read outbox/{feed}/{name}: {_one_line(exc)}") from exc
            files.append(RemoteFile(feed=feed, name=name, size=size, marker=text))
        return files

    def download(self, feed: str, name: str, dest: pathlib.Path) -> str:
        _check_segment("feed", feed)
        _check_data_name(name)
        path = self.root / _OUTBOX / feed / name
        if not (path.parent / (name + MARKER_SUFFIX)).is_file():
            raise TransportError(f"outbox/{feed}/{name} is not complete (no marker)")
        try:
            with path.open("rb") as fh:
                return _stream_to_local(fh, dest)
        except OSError as exc:
            raise TransportError(f"cannot download outbox/{feed}/{name}: {_one_line(exc)}") from exc

    def write_outbound(self, target: str, name: str, src: pathlib.Path) -> str:
        _check_segment("target", target)
        _check_data_name(name)
        folder = self.root / _INBOX / target
        final, marker = folder / name, folder / (name + MARKER_SUFFIX)
        try:
            self._check_root()
            folder.mkdir(parents=True, exist_ok=True)
            if final.exists() or marker.exists():
                raise TransportError(f"inbox/{target}/{name} already exists; refusing to overwrite")
            with src.open("rb") as fh:
                digest = self._publish(fh, folder, name)
            self._publish_bytes(f"{digest}\n".encode(), folder, name + MARKER_SUFFIX)
        except OSError as exc:
            raise TransportError(f"cannot write inbox/{target}/{name}: {_one_line(exc)}") from exc
        return digest

    def _publish_bytes(self, data: bytes, folder: pathlib.Path, name: str) -> None:
        self._publish(io.BytesIO(data), folder, name)

    def _out_folder(self, target: str) -> _Folder:
        self._check_root()
        folder = self.root / _INBOX / target
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _out_sha(self, folder: _Folder, name: str) -> str | None:
        try:
            return sha256_file(pathlib.Path(folder) / name)
        except FileNotFoundError:
            return None

    def _out_head(self, folder: _Folder, name: str) -> bytes | None:
        try:
            with (pathlib.Path(folder) / name).open("rb") as fh:
                return fh.read(_MAX_MARKER_BYTES)
        except FileNotFoundError:
            return None

    def _out_write(self, folder: _Folder, name: str, data: bytes, before_rename: Callable[[], None]) -> None:
        self._publish(io.BytesIO(data), pathlib.Path(folder), name, before_rename)

    def _out_sweep(self, folder: _Folder, name: str) -> None:
        for entry in os.scandir(folder):
            if _is_tmp_of(entry.name, name) or _is_tmp_of(entry.name, name + MARKER_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def _publish(
        self,
        reader: IO[bytes],
        folder: pathlib.Path,
        name: str,
        before_rename: Callable[[], None] | None = None,
    ) -> str:
        """Write ``reader`` to a hidden temp file, then move it to ``name`` without clobbering."""
        tmp = folder / _tmp_name(name)
        final = folder / name
        digest = hashlib.sha256()
        try:
            with tmp.open("xb") as out:
                while chunk := reader.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if before_rename is not None:
                before_rename()
            clash = f"{folder.name}/{name} already exists; refusing to overwrite"
            try:
                os.link(tmp, final)  # atomic, and fails if ``final`` exists
            except FileExistsError as exc:
                raise _NameTaken(clash) from exc
            except OSError as exc:
                if exc.errno not in _NO_HARDLINK:
                    raise
                if final.exists():  # file system without hard links: check, then rename
                    raise _NameTaken(clash) from exc
                os.rename(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        with contextlib.suppress(OSError):
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return digest.hexdigest()


def _is_missing(exc: OSError) -> bool:
    return isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT


class SftpSource(Source):
    """A delivery root on an SFTP server; one SSH connection per object, opened lazily."""

    def __init__(
        self,
        host: str,
        root: str,
        *,
        username: str,
        port: int = 22,
        key_file: str,
        known_hosts: str | None = None,
        host_key_check: bool = True,
        timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        if not root.startswith("/"):
            raise TransportError("sftp root must be an absolute path")
        self.host = host
        self.port = port
        self.username = username
        self.root = posixpath.normpath(root)
        self.key_file = key_file
        self.known_hosts = known_hosts
        self.host_key_check = host_key_check
        self.timeout = timeout
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def describe(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = f"sftp://{self.username}@{host}:{self.port}{self.root}"
        return url if self.host_key_check else url + " (host key NOT checked)"

    # -- connection ------------------------------------------------------------------------------

    def _connect(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        client = paramiko.SSHClient()
        try:
            sftp = self._open(client)
            try:
                attrs = sftp.stat(self.root)
            except OSError as exc:
                if _is_missing(exc):
                    raise TransportError(f"root folder not found: {self.describe()}") from exc
                raise TransportError(f"cannot open root {self.describe()}: {_one_line(exc)}") from exc
            if not stat.S_ISDIR(attrs.st_mode or 0):
                raise TransportError(f"root is not a folder: {self.describe()}")
        except BaseException:
            client.close()
            raise
        self._client, self._sftp = client, sftp
        return sftp

    def _open(self, client: paramiko.SSHClient) -> paramiko.SFTPClient:
        """Verify the host key, authenticate with the key file and open the SFTP channel."""
        try:
            if self.host_key_check:
                if self.known_hosts:
                    client.get_host_keys().load(self.known_hosts)  # never saved back
                else:
                    client.load_system_host_keys()
                client.set_missing_host_key_policy(paramiko.RejectPolicy())
            else:
                client.set_missing_host_key_policy(paramiko.WarningPolicy())
        except OSError as exc:
            raise TransportError(f"cannot read known_hosts for {self.describe()}: {_one_line(exc)}") from exc
        try:
            client.connect(
                self.host,
                port=self.port,
                username=self.username,
                key_filename=self.key_file,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                channel_timeout=self.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
            sftp = client.open_sftp()
        except paramiko.BadHostKeyException as exc:
            raise TransportError(f"host key mismatch for {self.describe()}") from exc
        except paramiko.AuthenticationException as exc:
            raise TransportError(f"authentication failed for {self.describe()}") from exc
        except (*_SFTP_ERRORS, ValueError) as exc:
            raise TransportError(f"cannot connect to {self.describe()}: {_one_line(exc)}") from exc
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(IO_TIMEOUT)
        return sftp

    def close(self) -> None:
        sftp, client = self._sftp, self._client
        self._sftp = self._client = None
        if sftp is not None:
            with contextlib.suppress(Exception):
                sftp.close()
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def _exists(self, sftp: paramiko.SFTPClient, path: str) -> bool:
        try:
            sftp.lstat(path)
        except OSError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    # -- reading ---------------------------------------------------------------------------------

    def list_complete(self, feed: str) -> list[RemoteFile]:
        _check_segment("feed", feed)
        sftp = self._connect()
        folder = self._path(_OUTBOX, feed)
        try:
            try:
                entries = {a.filename: a for a in sftp.listdir_attr(folder)}
            except OSError as exc:
                if _is_missing(exc):
                    return []
                raise
            files: list[RemoteFile] = []
            for name in sorted(entries):
                attrs = entries[name]
                if name.startswith(".") or name.endswith(MARKER_SUFFIX):
                    continue
                marker = entries.get(name + MARKER_SUFFIX)
                if not stat.S_ISREG(attrs.st_mode or 0):
                    continue
                if marker is None or not stat.S_ISREG(marker.st_mode or 0):
                    continue
                try:
                    with sftp.open(posixpath.join(folder, name + MARKER_SUFFIX), "rb") as fh:
                        text = _marker_text(fh.read(_MAX_MARKER_BYTES))
                except OSError as exc:
                    if _is_missing(exc):
                        continue
                    raise
                files.append(RemoteFile(feed=feed, name=name, size=int(attrs.st_size or 0), marker=text))
            return files
        except _SFTP_ERRORS as exc:
            raise TransportError(f"cannot list outbox/{feed}: {_one_line(exc)}") from exc

    def download(self, feed: str, name: str, dest: pathlib.Path) -> str:
        _check_segment("feed", feed)
        _check_data_name(name)
        sftp = self._connect()
        path = self._path(_OUTBOX, feed, name)
        try:
            if not self._exists(sftp, path + MARKER_SUFFIX):
                raise TransportError(f"outbox/{feed}/{name} is not complete (no marker)")
            with sftp.open(path, "rb") as fh:
                size = fh.stat().st_size
                fh.prefetch(size)
                return _stream_to_local(fh, dest)
        except _SFTP_ERRORS as exc:
            raise TransportError(f"cannot download outbox/{feed}/{name}: {_one_line(exc)}") from exc

    # -- writing ---------------------------------------------------------------------------------

    def _makedirs(self, sftp: paramiko.SFTPClient, path: str) -> None:
        if self._exists(sftp, path):
            return
        self._makedirs(sftp, posixpath.dirname(path))
        try:
            sftp.mkdir(path)
        except OSError:
            if not self._exists(sftp, path):  # tolerate a concurrent mkdir
                raise

    def _publish(
        self,
        sftp: paramiko.SFTPClient,
        reader: IO[bytes],
        folder: str,
        name: str,
        before_rename: Callable[[], None] | None = None,
    ) -> str:
        """Upload to a hidden temp name, then rename; SFTP rename refuses to clobber."""
        tmp = posixpath.join(folder, _tmp_name(name))
        final = posixpath.join(folder, name)
        digest = hashlib.sha256()
        sent = 0
        try:
            with sftp.open(tmp, "wbx") as out:
                out.set_pipelined(True)
                while chunk := reader.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    sent += len(chunk)
            if sftp.stat(tmp).st_size != sent:
                raise TransportError(f"short upload of {posixpath.basename(folder)}/{name}")
            if before_rename is not None:
                before_rename()
            try:
                sftp.rename(tmp, final)  # SSH_FXP_RENAME fails if ``final`` exists
            except OSError as exc:
                if self._exists(sftp, final):
                    raise _NameTaken(
                        f"{posixpath.basename(folder)}/{name} already exists; refusing to overwrite"
                    ) from exc
                raise
        finally:
            with contextlib.suppress(Exception):
                if self._exists(sftp, tmp):
                    sftp.remove(tmp)
        return digest.hexdigest()

    def write_outbound(self, target: str, name: str, src: pathlib.Path) -> str:
        _check_segment("target", target)
        _check_data_name(name)
        sftp = self._connect()
        folder = self._path(_INBOX, target)
        try:
            self._makedirs(sftp, folder)
            final = posixpath.join(folder, name)
            if self._exists(sftp, final) or self._exists(sftp, final + MARKER_SUFFIX):
                raise TransportError(f"inbox/{target}/{name} already exists; refusing to overwrite")
            with src.open("rb") as fh:
                digest = self._publish(sftp, fh, folder, name)
            self._publish(sftp, io.BytesIO(f"{digest}\n".encode()), folder, name + MARKER_SUFFIX)
        except _SFTP_ERRORS as exc:
            raise TransportError(f"cannot write inbox/{target}/{name}: {_one_line(exc)}") from exc
        return digest

    def _out_folder(self, target: str) -> _Folder:
        sftp = self._connect()
        folder = self._path(_INBOX, target)
        self._makedirs(sftp, folder)
        return folder

    def _out_sha(self, folder: _Folder, name: str) -> str | None:
        sftp = self._connect()
        digest = hashlib.sha256()
        try:
            with sftp.open(posixpath.join(str(folder), name), "rb") as fh:
                fh.prefetch(fh.stat().st_size)
                while chunk := fh.read(CHUNK_SIZE):
                    digest.update(chunk)
        except OSError as exc:
            if _is_missing(exc):
                return None
            raise
        return digest.hexdigest()

    def _out_head(self, folder: _Folder, name: str) -> bytes | None:
        sftp = self._connect()
        try:
            with sftp.open(posixpath.join(str(folder), name), "rb") as fh:
                return bytes(fh.read(_MAX_MARKER_BYTES))
        except OSError as exc:
            if _is_missing(exc):
                return None
            raise

    def _out_write(self, folder: _Folder, name: str, data: bytes, before_rename: Callable[[], None]) -> None:
        self._publish(self._connect(), io.BytesIO(data), str(folder), name, before_rename)

    def _out_sweep(self, folder: _Folder, name: str) -> None:
        sftp = self._connect()
        for entry in sftp.listdir(str(folder)):
            if _is_tmp_of(entry, name) or _is_tmp_of(entry, name + MARKER_SUFFIX):
                with contextlib.suppress(OSError):
                    sftp.remove(posixpath.join(str(folder), entry))


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
