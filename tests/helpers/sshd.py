"""Session fixture running a real OpenSSH sshd (SFTP via internal-sftp) on 127.0.0.1."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0

_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_ed25519
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
"""


@dataclass(frozen=True)
class SftpServer:
    """A running test sshd and the client-side files needed to reach it."""

    port: int
    key_file: Path
    known_hosts: Path
    user: str
    dir: Path

    def url(self, root: Path) -> str:
        """Source URL for ``root`` on this server (host key checked against ``known_hosts``)."""
        return (
            f"sftp://{self.user}@127.0.0.1:{self.port}{root}"
            f"?key_file={self.key_file}&known_hosts={self.known_hosts}"
        )


def _ensure_openssh() -> None:
    """Install openssh-server when sshd or ssh-keygen is missing; fail (never skip) if impossible."""
    if SSHD.exists() and shutil.which("ssh-keygen"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "openssh-server"]
    try:
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
            subprocess.run(install, env=env, capture_output=True, check=False)
    except OSError as exc:
        pytest.fail(f"cannot install openssh-server: {exc}")
    if not (SSHD.exists() and shutil.which("ssh-keygen")):
        pytest.fail("openssh-server is required for the SFTP tests and could not be installed")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _wait_for_banner(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until sshd answers with its SSH banner, or fail with the log tail."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"sshd did not accept connections within {START_TIMEOUT:.0f}s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop our sshd and its per-connection children (its own process group)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    """Start a real OpenSSH sshd on a free port of 127.0.0.1 for the whole session."""
    _ensure_openssh()
    d = tmp_path_factory.mktemp("sshd")
    host_key, client_key = d / "host_ed25519", d / "client_ed25519"
    _keygen(host_key, "vaxreg-test-host")
    _keygen(client_key, "vaxreg-test-client")
    (d / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
    port = free_port()
    (d / "sshd_config").write_text(_CONFIG.format(port=port, dir=d))
    known_hosts = d / "known_hosts"
    key_type, key_b64 = Path(f"{host_key}.pub").read_text().split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_b64}\n")

    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    log = d / "sshd.log"
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(d / "sshd_config")],
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=log_fh,
            start_new_session=True,
        )
    try:
        _wait_for_banner(port, proc, log)
        yield SftpServer(
            port=port, key_file=client_key, known_hosts=known_hosts, user=getpass.getuser(), dir=d
        )
    finally:
        _stop(proc)
