"""A delivery root on the local file system."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import pathlib
from collections.abc import Callable
from typing import IO

from vaxreg.transport.base import (
    _INBOX,
    _MAX_MARKER_BYTES,
    _OUTBOX,
    CHUNK_SIZE,
    MARKER_SUFFIX,
    RemoteFile,
    Source,
    TransportError,
    _check_data_name,
    _check_segment,
    _Folder,
    _is_tmp_of,
    _marker_text,
    _NameTaken,
    _one_line,
    _stream_to_local,
    _tmp_name,
    sha256_file,
)

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
        except FileNotFoundError:  # a wrong root, or a sender's folder not set up: never silent
            raise TransportError(f"no folder outbox/{feed} under {self.describe()}") from None
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
