"""Generated files of the exchange with other municipalities (outputs.md §5) for a generated
municipality: ``prev_municipality_code`` on the move-ins of the nightly resident files, a TOGO
file of integrated numbers, and KAITO replies to the inquiries a SHOKAI file asked.

Own RNG stream. The resident files are rewritten line by line with one more field on every line
(so that a line with a wrong field count stays wrong), a valid previous municipality on 9 of 10
move-ins (event 10) of the nightly files, and their ``.done`` markers recomputed.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaxreg.identity.validators import municipality_check_digit

PREVIOUS = tuple(f"{b}{municipality_check_digit(b)}" for b in ("01100", "14100", "27100", "13101", "40130"))
FIELDS = 20  # the resident layout without the optional column


def _marker(path: Path) -> None:
    (path.parent / (path.name + ".done")).write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "\n")


def _add_column(path: Path, rng: np.random.Generator) -> int:
    """One more field on every line of a resident file; returns the move-ins given a code."""
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    lines = (data[3:] if bom else data).splitlines(keepends=True)
    out, coded = [], 0
    for i, line in enumerate(lines):
        end = b"\r\n" if line.endswith(b"\r\n") else (b"\n" if line.endswith(b"\n") else b"")
        body = line[: len(line) - len(end)]
        fields = body.split(b",")
        extra = b""
        if i == 0:
            extra = b"prev_municipality_code"
        elif len(fields) == FIELDS and fields[3] == b"10" and rng.random() < 0.9:
            extra = PREVIOUS[int(rng.integers(len(PREVIOUS)))].encode()
            coded += 1
        out.append(body + b"," + extra + end)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"".join(out))
    _marker(path)
    return coded


def synthesize_exchange(out_dir: Path, seed: int, start: dt.date) -> dict[str, Any]:
    """The move-ins' previous municipalities and the TOGO file (dated the last resident file's
    day); returns counts."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 13]))
    resident = sorted((out_dir / "outbox" / "resident").glob("JUKI_DIFF_*.csv"))
    coded = sum(_add_column(p, rng) for p in resident[1:])  # the nightly files, not the initial load
    persons = pd.read_csv(out_dir / "truth" / "persons.csv", dtype=str)
    live = persons[persons["status"] == "resident"]["atena_no"].to_numpy()
    chosen = np.sort(rng.choice(live, size=int(len(live) * 0.95), replace=False))
    suffix = rng.choice(10_000, size=len(chosen))
    last = resident[-1].name[len("JUKI_DIFF_") : -len(".csv")] if resident else start.strftime("%Y%m%d")
    day = f"{last[:4]}-{last[4:6]}-{last[6:]}"
    rows = [(a, f"8{a}{s:04d}", "A", day) for a, s in zip(chosen, suffix, strict=True)]
    rows += [("0999999999", "800000000000001", "A", day), (chosen[0], "800000000000002", "D", day)]  # dirt
    folder = out_dir / "outbox" / "atena"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"TOGO_{last}.csv"
    lines = ["seq,atena_no,integrated_no,event,event_date"]
    lines += [f"{i},{a},{n},{e},{d}" for i, (a, n, e, d) in enumerate(rows, start=1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _marker(path)
    return {"move_ins_with_previous_municipality": coded, "togo_file": path.name, "togo_rows": len(rows)}


def write_replies(root: Path, day: dt.date, seed: int = 13) -> dict[str, Any]:
    """KAITO replies dated ``day`` to every inquiry of the SHOKAI files under ``root/inbox/shokai``:
    the first Hib and PCV doses at 70 days of age (those before ``day``), one inquiry in five
    answered "no record", and one row for an inquiry never asked (quarantined)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 31]))
    header = ["inquiry_no", "integrated_no", "municipality_code", "vaccine_code", "phase", "dose_no"]
    header += ["dose_date", "product_name"]
    rows: list[list[str]] = []
    for f in sorted((root / "inbox" / "shokai").glob("SHOKAI_*.csv")):
        for q in csv.DictReader(io.StringIO(f.read_text(encoding="utf-8"))):
            ask = [q["inquiry_no"], q["integrated_no"], q["municipality_code"]]
            given = dt.date.fromisoformat(q["birth_date"]) + dt.timedelta(days=70)
            if rng.random() < 0.2 or given > day:
                rows.append([*ask, "", "", "", "", ""])
                continue
            rows += [[*ask, v, "11", "1", given.isoformat(), ""] for v in ("01", "02")]
    if not rows:
        return {"kaito_rows": 0}
    rows.append(["19990101000001", rows[0][1], rows[0][2], "01", "11", "1", "2025-01-01", ""])
    folder = root / "outbox" / "prior"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"KAITO_{day.strftime('%Y%m%d')}.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    _marker(path)
    return {"kaito_file": path.name, "kaito_rows": len(rows)}
