"""Two runs downloading the same file into the same staging folder (issue 15, defect 9): each
writes its own temporary file, both succeed, the copy is whole. Before, both wrote the fixed
``.NAME.part``: the second truncated the first's file and the first's rename then failed."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from vaxreg.transport import LocalSource

NAME = "JUKI_DIFF_20260401.csv"
MB = 1024 * 1024


def _payload(size: int) -> bytes:
    return bytes((i * 31 + 7) % 251 for i in range(size))


def _outbox(root: Path) -> Path:
    feed = root / "outbox" / "resident"
    feed.mkdir(parents=True)
    return feed


def test_a_slow_and_a_fast_download_into_the_same_path(tmp_path: Path) -> None:
    data = _payload(3 * MB + 5)
    digest = hashlib.sha256(data).hexdigest()
    # The slow copy's source is a named pipe: its bytes arrive when the test writes them.
    slow = _outbox(tmp_path / "slow")
    os.mkfifo(slow / NAME)
    (slow / f"{NAME}.done").write_text(digest)
    fast = _outbox(tmp_path / "fast")
    (fast / NAME).write_bytes(data)
    (fast / f"{NAME}.done").write_text(digest)
    dest = tmp_path / "staging" / "landing" / "resident" / ".incoming" / NAME

    result: dict[str, object] = {}

    def slow_download() -> None:
        try:
            result["slow"] = LocalSource(tmp_path / "slow").download("resident", NAME, dest)
        except Exception as exc:
            result["slow"] = exc

    thread = threading.Thread(target=slow_download)
    thread.start()
    with open(slow / NAME, "wb") as pipe:  # opens once the slow download has opened its end
        pipe.write(data[:MB])
        pipe.flush()
        deadline = time.monotonic() + 30
        while not any(p.name.startswith(".") and p.stat().st_size >= MB for p in dest.parent.iterdir()):
            assert time.monotonic() < deadline, "the slow download never wrote its first chunk"
            time.sleep(0.01)
        # Half-way through the slow copy, a second run copies the same file to the same place.
        result["fast"] = LocalSource(tmp_path / "fast").download("resident", NAME, dest)
        pipe.write(data[MB:])
    thread.join(30)

    assert result == {"slow": digest, "fast": digest}
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == [NAME]  # no temporary file left
