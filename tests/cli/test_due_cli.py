"""``vaxreg refresh``, ``export due``, ``publish forms|reminders`` and ``forms reissue|history`` as an
operator runs them (in process: the same entry point), on both databases."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from vaxreg import cli

from helpers.due import Person, seed_persons

BABY = "8000000001"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_refresh_export_publish_and_reissue(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    seed_persons(db_url, [Person(BABY, "2026-05-20")])
    code, out, _ = run(capsys, "refresh", "--as-of", "2026-06-01")
    assert code == 0 and json.loads(out)["as_of"] == "2026-06-01" and json.loads(out)["counts"]["due"] >= 1

    code, out, _ = run(capsys, "export", "due")
    table = list(csv.reader(io.StringIO(out)))
    assert code == 0
    assert table[0] == ["atena_no", "vaccine_code", "phase", "dose_no", "state", "window_start", "window_end"]
    assert ["8000000001", "09", "00", "1", "due", "2026-05-20", "2027-05-19"] in table

    source = f"file://{tmp_path}"
    code, out, _ = run(capsys, "publish", "forms", "--source", source, "--date", "2026-06-01")
    assert code == 0 and json.loads(out) == {"file": "YOSHIN_202606.csv", "rows": 17}
    code, out, _ = run(capsys, "publish", "forms", "--source", source, "--date", "2026-06-01")
    assert code == 0 and json.loads(out) == {"file": None, "rows": 0}  # the file exists: nothing new

    code, out, err = run(capsys, "forms", "reissue", BABY, "--vaccine", "99", "--phase", "00", "--dose", "1",
                         "--reason", "lost")  # fmt: skip
    assert code == 1 and err.startswith("vaxreg: forms reissue:") and BABY not in err
    code, out, _ = run(capsys, "forms", "reissue", BABY, "--vaccine", "09", "--phase", "00", "--dose", "1",
                       "--reason", "lost", "--by", "clerk")  # fmt: skip
    assert code == 0
    code, out, _ = run(capsys, "forms", "history", BABY, "--purpose", "resident's enquiry")
    assert code == 0 and len(out.splitlines()) == 17
    with pytest.raises(SystemExit) as usage:
        cli.main(["publish", "nonsense"])
    assert usage.value.code == 2
