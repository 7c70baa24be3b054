"""A delivery root on an SFTP server (paramiko), one SSH connection per object."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import pathlib
import posixpath
import stat
from collections.abc import Callable
from typing import IO

import paramiko

from vaxreg.transport.base import (
    _INBOX,
    _MAX_MARKER_BYTES,
    _OUTBOX,
    _SFTP_ERRORS,
    CHUNK_SIZE,
    CONNECT_TIMEOUT,
    IO_TIMEOUT,
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
)


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
                if _is_missing(exc):  # a wrong root, or a sender's folder not set up: never silent
                    raise TransportError(f"no folder outbox/{feed} under {self.describe()}") from None
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
