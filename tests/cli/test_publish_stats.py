"""``vaxreg publish stats`` (cli.md): one JSON line per file, nothing new for a year already
published, re-issues only with a reason, expected failures as one line with exit 1, usage 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaxreg.cli import main

from helpers import municipality as town


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict], str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_publish_stats(capsys: pytest.CaptureFixture[str], tmp_path: Path, db_url: str) -> None:
    town.seed(db_url, *town.generate(seed=2, n=40))
    base = ("--database-url", db_url, "publish", "stats", "--source", tmp_path.as_uri())

    code, lines, _ = _run(capsys, *base, "--date", "2026-04-10")
    assert code == 0
    [line] = lines
    assert line["file"] == "STATS_2025.csv" and line["page"] == "STATS_2025.html" and line["rows"] > 40
    assert (tmp_path / "inbox" / "stats" / "STATS_2025.html").exists()

    assert _run(capsys, *base, "--date", "2026-05-01")[:2] == (0, [{"file": None, "rows": 0}])

    code, _, err = _run(capsys, *base, "--date", "2026-05-01", "--reissue")
    assert code == 2 and "--reason" in err
    code, _, err = _run(capsys, *base, "--date", "2026-05-01", "--reason", "why")
    assert code == 2 and "--reissue" in err  # a reason alone does not re-issue

    code, lines, err = _run(
        capsys, *base, "--date", "2026-05-01", "--fiscal-year", "2023", "--reissue", "--reason", "x"
    )
    assert code == 1 and lines == [] and err.count("\n") == 1 and "never published" in err
