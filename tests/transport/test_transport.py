"""Transport tests, run identically against a local folder and a real OpenSSH SFTP server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vaxreg.transport import (
    LocalSource,
    OutboundConflict,
    RemoteFile,
    SftpSource,
    Source,
    TransportError,
    open_source,
)

from helpers.sshd import SftpServer, free_port

SourceFactory = Callable[[Path], Source]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload(seed: int, size: int) -> bytes:
    """Deterministic synthetic bytes (no real personal data)."""
    return bytes((i * 31 + seed) % 251 for i in range(size))


@pytest.fixture(params=["local", pytest.param("sftp", marks=pytest.mark.sftp)])
def open_root(request: pytest.FixtureRequest) -> Iterator[SourceFactory]:
    """Factory opening a Source for a root folder, through file:// or sftp://."""
    opened: list[Source] = []

    def factory(root: Path) -> Source:
        if request.param == "local":
            src = open_source(root.as_uri())
            assert isinstance(src, LocalSource)
        else:
            server: SftpServer = request.getfixturevalue("sftp_server")
            src = open_source(server.url(root))
            assert isinstance(src, SftpSource)
        opened.append(src)
        return src

    yield factory
    for src in opened:
        src.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A delivery root with a mix of complete, incomplete and ignorable outbox entries."""
    r = tmp_path / "root"
    feed = r / "outbox" / "resident"
    feed.mkdir(parents=True)
    big = _payload(1, 3 * 1024 * 1024 + 17)  # > one chunk, not a multiple of it
    (feed / "JUKI_DIFF_20260402.csv").write_bytes(big)
    (feed / "JUKI_DIFF_20260402.csv.done").write_text(_sha(big) + "\n")
    (feed / "JUKI_DIFF_20260401.csv").write_bytes(b"atena_no,kana\n0000000001,TESUTO\n")
    (feed / "JUKI_DIFF_20260401.csv.done").write_bytes(b"")  # empty marker
    (feed / "JUKI_DIFF_20260403.csv").write_bytes(b"still being written")  # no marker
    (feed / ".hidden.csv").write_bytes(b"x")
    (feed / ".hidden.csv.done").write_bytes(b"")
    (feed / "orphan.csv.done").write_bytes(b"")  # marker without data file
    (feed / "subdir").mkdir()
    (feed / "subdir.done").write_bytes(b"")
    (feed / "EMPTY.csv").write_bytes(b"")
    (feed / "EMPTY.csv.done").write_text(f"  {_sha(b'')}  \n")
    (r / "outbox" / "welfare").mkdir()
    return r


def _snapshot(top: Path) -> dict[str, tuple[str, bytes, int, int]]:
    """Kind, bytes, mode and mtime (ns) of everything under ``top``, the top itself included."""
    snap: dict[str, tuple[str, bytes, int, int]] = {}
    for path in [top, *sorted(top.rglob("*"))]:
        st = path.lstat()
        kind = "dir" if path.is_dir() else "file"
        data = path.read_bytes() if kind == "file" else b""
        snap[str(path.relative_to(top))] = (kind, data, st.st_mode, st.st_mtime_ns)
    return snap


def test_list_complete_filters_and_sorts(open_root: SourceFactory, root: Path) -> None:
    with open_root(root) as src:
        files = src.list_complete("resident")
    assert [f.name for f in files] == ["EMPTY.csv", "JUKI_DIFF_20260401.csv", "JUKI_DIFF_20260402.csv"]
    assert all(isinstance(f, RemoteFile) and f.feed == "resident" for f in files)
    sizes = {f.name: f.size for f in files}
    assert sizes["JUKI_DIFF_20260402.csv"] == 3 * 1024 * 1024 + 17
    assert sizes["EMPTY.csv"] == 0


def test_list_complete_marker_text_stripped(open_root: SourceFactory, root: Path) -> None:
    with open_root(root) as src:
        markers = {f.name: f.marker for f in src.list_complete("resident")}
    assert markers["JUKI_DIFF_20260401.csv"] == ""
    assert markers["JUKI_DIFF_20260402.csv"] == _sha(_payload(1, 3 * 1024 * 1024 + 17))
    assert markers["EMPTY.csv"] == _sha(b"")


def test_list_complete_empty_or_missing_feed(open_root: SourceFactory, root: Path) -> None:
    """An empty feed folder lists nothing; a missing one is a wrong root or a folder not set up:
    a one-line error, never a silent empty run (issue 15)."""
    with open_root(root) as src:
        assert src.list_complete("welfare") == []
        with pytest.raises(TransportError, match=r"^no folder outbox/clinic under "):
            src.list_complete("clinic")


def test_download_returns_sha_and_bytes(open_root: SourceFactory, root: Path, tmp_path: Path) -> None:
    feed = root / "outbox" / "resident"
    with open_root(root) as src:
        for f in src.list_complete("resident"):
            dest = tmp_path / "dl" / f.name
            digest = src.download("resident", f.name, dest)
            data = (feed / f.name).read_bytes()
            assert digest == _sha(data)
            assert dest.read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [
        "EMPTY.csv",
        "JUKI_DIFF_20260401.csv",
        "JUKI_DIFF_20260402.csv",
    ]  # no temporary file left behind


def test_download_replaces_existing_dest(open_root: SourceFactory, root: Path, tmp_path: Path) -> None:
    dest = tmp_path / "old.csv"
    dest.write_bytes(b"stale content that is longer than the new one" * 10)
    with open_root(root) as src:
        src.download("resident", "JUKI_DIFF_20260401.csv", dest)
    assert dest.read_bytes() == (root / "outbox" / "resident" / "JUKI_DIFF_20260401.csv").read_bytes()


@pytest.mark.parametrize(
    "name", ["JUKI_DIFF_20260403.csv", "missing.csv", "../welfare/x.csv", ".hidden.csv", "EMPTY.csv.done"]
)
def test_download_refuses_incomplete_or_bad_names(
    open_root: SourceFactory, root: Path, tmp_path: Path, name: str
) -> None:
    with open_root(root) as src, pytest.raises(TransportError):
        src.download("resident", name, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_outbox_untouched_after_list_and_download(
    open_root: SourceFactory, root: Path, tmp_path: Path
) -> None:
    outbox = root / "outbox"
    # Age the tree so that any write would show up as a changed mtime.
    for path in [outbox, *outbox.rglob("*")]:
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000), follow_symlinks=False)
    before = _snapshot(outbox)
    with open_root(root) as src:
        for feed in ("resident", "welfare"):
            for f in src.list_complete(feed):
                src.download(feed, f.name, tmp_path / "dl" / feed / f.name)
        with pytest.raises(TransportError):
            src.download("resident", "JUKI_DIFF_20260403.csv", tmp_path / "nope")
    assert _snapshot(outbox) == before


def test_write_outbound_atomic_with_marker(open_root: SourceFactory, root: Path, tmp_path: Path) -> None:
    data = _payload(7, 2 * 1024 * 1024 + 5)
    src_file = tmp_path / "out.csv"
    src_file.write_bytes(data)
    with open_root(root) as src:
        digest = src.write_outbound("clinic", "VAX_RESULT_20260401.csv", src_file)
    assert digest == _sha(data)
    inbox = root / "inbox" / "clinic"
    assert sorted(p.name for p in inbox.iterdir()) == [
        "VAX_RESULT_20260401.csv",
        "VAX_RESULT_20260401.csv.done",
    ]  # no temporary file left behind
    assert (inbox / "VAX_RESULT_20260401.csv").read_bytes() == data
    assert (inbox / "VAX_RESULT_20260401.csv.done").read_text() == digest + "\n"


def test_write_outbound_refuses_overwrite(open_root: SourceFactory, root: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_bytes(b"first\n")
    second.write_bytes(b"second\n")
    inbox = root / "inbox" / "vrs"
    with open_root(root) as src:
        src.write_outbound("vrs", "OUT.csv", first)
        with pytest.raises(TransportError, match="already exists"):
            src.write_outbound("vrs", "OUT.csv", second)
        # Data file left without marker (e.g. an interrupted earlier run) also blocks the write.
        (inbox / "HALF.csv").write_bytes(b"half")
        with pytest.raises(TransportError, match="already exists"):
            src.write_outbound("vrs", "HALF.csv", second)
    assert (inbox / "OUT.csv").read_bytes() == b"first\n"
    assert (inbox / "OUT.csv.done").read_text() == _sha(b"first\n") + "\n"
    assert not (inbox / "HALF.csv.done").exists()
    assert sorted(p.name for p in inbox.iterdir()) == ["HALF.csv", "OUT.csv", "OUT.csv.done"]


def test_put_outbound_is_idempotent_and_never_overwrites(open_root: SourceFactory, root: Path) -> None:
    data = _payload(3, 1024 * 1024 + 9)
    inbox = root / "inbox" / "vrs"
    with open_root(root) as src:
        src.check_outbound("vrs", "OUT.csv", _sha(data))  # nothing there yet
        assert src.put_outbound("vrs", "OUT.csv", data) == "written"
        assert src.put_outbound("vrs", "OUT.csv", data) == "adopted"  # a repeat changes nothing
        src.check_outbound("vrs", "OUT.csv", _sha(data))  # ours
        with pytest.raises(OutboundConflict, match="exists with other content"):
            src.check_outbound("vrs", "OUT.csv", _sha(b"other\n"))
        with pytest.raises(OutboundConflict, match="exists with other content"):
            src.put_outbound("vrs", "OUT.csv", b"other\n")
        # A run killed before its rename, and one killed before its marker: finished, leftovers removed.
        (inbox / ".HALF.csv.0123456789ab.tmp").write_bytes(b"hal")
        (inbox / ".HALF.csv.done.ba9876543210.tmp").write_bytes(b"")
        (inbox / "HALF.csv").write_bytes(b"half\n")
        (inbox / ".HALF.csv.notours.tmp").write_bytes(b"x")  # not a writer's name: left alone
        assert src.put_outbound("vrs", "HALF.csv", b"half\n") == "adopted"
        # A marker that holds another digest is not ours either: nothing is written beside it.
        (inbox / "BAD.csv.done").write_text("0" * 64)
        with pytest.raises(OutboundConflict, match="does not hold our digest"):
            src.put_outbound("vrs", "BAD.csv", b"bad\n")
    assert (inbox / "OUT.csv").read_bytes() == data
    assert (inbox / "OUT.csv.done").read_text() == _sha(data) + "\n"
    assert (inbox / "HALF.csv.done").read_text() == _sha(b"half\n") + "\n"
    assert (inbox / "BAD.csv.done").read_text() == "0" * 64
    assert sorted(p.name for p in inbox.iterdir()) == [
        ".HALF.csv.notours.tmp",
        "BAD.csv.done",
        "HALF.csv",
        "HALF.csv.done",
        "OUT.csv",
        "OUT.csv.done",
    ]


def test_write_outbound_never_touches_outbox(open_root: SourceFactory, root: Path, tmp_path: Path) -> None:
    src_file = tmp_path / "x.csv"
    src_file.write_bytes(b"x\n")
    before = _snapshot(root / "outbox")
    with open_root(root) as src:
        for target in ("../outbox/resident", "", ".hidden"):
            with pytest.raises(TransportError):
                src.write_outbound(target, "x.csv", src_file)
        with pytest.raises(TransportError):
            src.write_outbound("clinic", "../x.csv", src_file)
    assert _snapshot(root / "outbox") == before


def test_missing_root_is_an_error(open_root: SourceFactory, tmp_path: Path) -> None:
    with open_root(tmp_path / "nowhere") as src, pytest.raises(TransportError, match="root folder not found"):
        src.list_complete("resident")


def test_describe_has_no_query(open_root: SourceFactory, root: Path) -> None:
    with open_root(root) as src:
        text = src.describe()
    assert str(root) in text
    assert "?" not in text and "key_file" not in text


@pytest.mark.sftp
def test_sftp_reuses_one_connection(sftp_server: SftpServer, root: Path, tmp_path: Path) -> None:
    src = open_source(sftp_server.url(root))
    assert isinstance(src, SftpSource)
    with src:
        src.list_complete("resident")
        first = src._client
        assert first is not None
        src.download("resident", "JUKI_DIFF_20260401.csv", tmp_path / "a")
        src.write_outbound("clinic", "A.csv", tmp_path / "a")
        assert src._client is first
    assert src._client is None


@pytest.mark.sftp
def test_sftp_bad_host_key(sftp_server: SftpServer, root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    key_type, key_b64 = Path(f"{other}.pub").read_text().split()[:2]
    bad = tmp_path / "known_hosts_bad"
    bad.write_text(f"[127.0.0.1]:{sftp_server.port} {key_type} {key_b64}\n")
    url = sftp_server.url(root).replace(str(sftp_server.known_hosts), str(bad))
    with open_source(url) as src, pytest.raises(TransportError, match="host key mismatch"):
        src.list_complete("resident")


@pytest.mark.sftp
def test_sftp_unknown_host_rejected(sftp_server: SftpServer, root: Path, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    url = sftp_server.url(root).replace(str(sftp_server.known_hosts), str(empty))
    with open_source(url) as src, pytest.raises(TransportError):
        src.list_complete("resident")


@pytest.mark.sftp
def test_sftp_wrong_client_key(sftp_server: SftpServer, root: Path, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    url = sftp_server.url(root).replace(str(sftp_server.key_file), str(stranger))
    with open_source(url) as src, pytest.raises(TransportError, match="authentication failed"):
        src.list_complete("resident")


@pytest.mark.sftp
def test_sftp_unreachable_port_fails_fast(sftp_server: SftpServer, root: Path) -> None:
    url = sftp_server.url(root).replace(f":{sftp_server.port}/", f":{free_port()}/")
    started = time.monotonic()
    with open_source(url) as src, pytest.raises(TransportError, match="cannot connect"):
        src.list_complete("resident")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/x",
        "/plain/path",
        "file://otherhost/x",
        "sftp://host/x?key_file=/k",  # no user
        "sftp://u:secret@host/x?key_file=/k",  # password in URL
        "sftp://u@host/x",  # no key_file
        "sftp://u@host/x?key_file=/k&known_host=/typo",
        "sftp://u@host/x?key_file=/k&no_host_key_check=maybe",
        "sftp://u@host:notaport/x?key_file=/k",
    ],
)
def test_open_source_rejects_bad_urls(url: str) -> None:
    with pytest.raises(TransportError) as info:
        open_source(url)
    assert "secret" not in str(info.value)


def test_open_source_parses_sftp_url() -> None:
    src = open_source("sftp://feeds@sftp.example.test:2222/srv/ward?key_file=/k&known_hosts=/kh")
    assert isinstance(src, SftpSource)
    assert (src.host, src.port, src.username, src.root) == ("sftp.example.test", 2222, "feeds", "/srv/ward")
    assert (src.key_file, src.known_hosts, src.host_key_check) == ("/k", "/kh", True)
    assert src.describe() == "sftp://feeds@sftp.example.test:2222/srv/ward"
    off = open_source("sftp://feeds@h/srv?key_file=/k&no_host_key_check=true")
    assert isinstance(off, SftpSource) and not off.host_key_check and off.port == 22
