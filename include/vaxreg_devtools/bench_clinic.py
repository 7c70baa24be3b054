"""Benchmark: a 200,000-row clinic file against a 1,000,000-person registry (with history),
end to end through the real pipeline on PostgreSQL, beside a bare ``COPY`` of the same rows.

    python -m vaxreg_devtools.bench_clinic --persons 1000000 --rows 200000

One run, three freshly spawned interpreters (so that each reports its own peak RSS):

1. **setup** (not timed as a result): a fresh PostgreSQL schema migrated to every head;
   ``persons`` with N persons, ``person_history`` with one superseded version for a fifth of
   them, ``doses`` with a vaccination history (an influenza dose in FY2024 for everyone 65+,
   5-in-1 primary doses for infants); the clinic file ``ISHIKAI_202603.csv`` (CP932,
   half-width kana, wareki dates) naming R random residents, with its marker;
2. **pipeline**: :func:`vaxreg.pipeline.run_feed` for the clinic feed — fetch, parse,
   validate (GX), reconcile, schedule check against each person's whole history, load,
   fees, in one process as ``vaxreg run clinic`` does;
3. **copy**: the same bytes decoded and streamed through a bare ``COPY … FROM STDIN`` into
   a plain table of 14 text columns.

Target (issue 3): pipeline ≤ 5 × bare COPY, peak RSS < 2 GB. PostgreSQL from
``VAXREG_BENCH_DATABASE_URL`` (default: the machine's server, database ``test``); the schema
is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from vaxreg_devtools import benchkit

COPY_TARGET = 5.0
RSS_TARGET_MB = 2048.0
KANA = (
    "サトウ",
    "スズキ",
    "タカハシ",
    "タナカ",
    "イトウ",
    "ワタナベ",
    "ヤマモト",
    "ナカムラ",
    "コバヤシ",
    "カトウ",
)
GIVEN = ("タロウ", "ハナコ", "レン", "ヨウコ", "ミナト", "ケンイチ", "ユミ", "コウジ", "メイ", "ソウタ")


def setup(url: str, root: Path, persons: int, rows: int, seed: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from vaxreg.identity.dates import to_wareki
    from vaxreg.registry import db
    from vaxreg.registry.schema import metadata
    from vaxreg_devtools.synth_doses import HEADER, INSTITUTIONS
    from vaxreg_devtools.synth_doses import _half as half

    rng = np.random.default_rng(seed)
    db.upgrade(url)
    n = persons
    atena = np.char.zfill(np.arange(1, n + 1).astype(str), 10)
    birth = np.datetime64("1930-01-01") + rng.integers(0, 95 * 365, n).astype("timedelta64[D]")
    kana = np.char.add(
        np.char.add(np.array(KANA)[rng.integers(0, 10, n)], "　"), np.array(GIVEN)[rng.integers(0, 10, n)]
    )
    sex = rng.choice(np.array(["1", "2"]), n)
    now = "2026-04-01 00:00:00+00:00"
    values: dict[str, Any] = {
        "atena_no": atena,
        "status": "resident",
        "name_kanji": "試験　太郎",
        "name_kana": kana,
        "birth_date": birth.astype(str),
        "sex": sex,
        "household_no": atena,
        "relationship": "世帯主",
        "address": "東京都港区芝1丁目1番1号",
        "resident_class": "1",
        "version": 2,
        "valid_from": "2026-03-01",
        "event_code": "30",
        "manifest_id": 0,
        "seq": 1,
        "decided_by": "bench",
        "recorded_at": now,
    }

    def table(name: str, cols: dict[str, Any], k: int) -> pa.Table:
        out = {}
        for c in metadata.tables[name].columns:
            if c.name in cols:
                v = cols[c.name]
                out[c.name] = pa.array(v) if isinstance(v, np.ndarray) else pa.array([v] * k)
        return pa.table(out)

    started = time.perf_counter()
    with db.transaction(url) as conn:
        db.bulk_insert(conn, "persons", table("persons", values, n))
        h = rng.choice(n, n // 5, replace=False)
        hist = {
            k: (v[h] if isinstance(v, np.ndarray) else v) for k, v in values.items() if k != "birth_date"
        } | {"birth_date": birth[h].astype(str), "version": 1, "valid_to": "2026-03-01", "address": "旧住所"}
        db.bulk_insert(conn, "person_history", table("person_history", hist, len(h)))
        age_days = (np.datetime64("2026-03-15") - birth).astype(np.int64)
        old = np.flatnonzero(age_days > 66 * 365)
        infants = np.flatnonzero(age_days < 300)
        d_atena = np.concatenate([atena[old], *(atena[infants] for _ in range(2))])
        d_vacc = np.array(["21"] * len(old) + ["06"] * (2 * len(infants)))
        d_phase = np.array(["00"] * len(old) + ["11"] * (2 * len(infants)))
        d_no = np.concatenate([np.ones(len(old), int), np.ones(len(infants), int), np.full(len(infants), 2)])
        inf_birth = birth[infants]
        d_date = np.concatenate(
            [
                np.full(len(old), np.datetime64("2024-11-01")),
                inf_birth + np.timedelta64(70, "D"),
                inf_birth + np.timedelta64(100, "D"),
            ]
        ).astype(str)
        k = len(d_atena)
        doses = {
            "atena_no": d_atena,
            "vaccine_code": d_vacc,
            "phase": d_phase,
            "dose_no": d_no,
            "dose_date": d_date,
            "institution_code": INSTITUTIONS[0],
            "place_code": "131032",
            "self_pay_declared": "1",
            "source": "clinic",
            "manifest_id": 0,
            "row_no": np.arange(1, k + 1),
            "version": 1,
            "decided_by": "bench",
            "recorded_at": now,
        }
        db.bulk_insert(conn, "doses", table("doses", doses, k))
        conn.exec_driver_sql("ANALYZE")
    setup_s = time.perf_counter() - started

    # The clinic file: R records of random residents, March 2026, half-width kana, wareki dates.
    pick = rng.choice(n, rows, replace=False)
    dates = np.datetime64("2026-03-01") + rng.integers(0, 31, rows).astype("timedelta64[D]")
    age = (dates - birth[pick]).astype(np.int64)
    vaccine = np.where(age > 65 * 365, "21", np.where(age < 2000, "06", "21"))
    frame = pd.DataFrame(
        {
            "宛名番号": atena[pick],
            "カナ氏名": [half(s) for s in kana[pick]],
            "生年月日": [to_wareki(d) for d in birth[pick].astype("datetime64[D]").tolist()],
            "性別": sex[pick],
            "予防接種種別コード": vaccine,
            "接種期": np.where(vaccine == "06", "11", "00"),
            "接種回数": np.where(vaccine == "06", "3", "1"),
            "接種日": [to_wareki(d) for d in dates.tolist()],
            "予診のみ": "0",
            "ワクチン名称": "製品",
            "ロット番号": "L1",
            "医療機関コード": np.array(INSTITUTIONS)[rng.integers(0, len(INSTITUTIONS), rows)],
            "接種地コード": "131032",
            "自己負担区分": "1",
        }
    )[list(HEADER)]
    folder = root / "outbox" / "clinic"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ISHIKAI_202603.csv"
    data = frame.to_csv(index=False, lineterminator="\r\n").encode("cp932")
    path.write_bytes(data)
    import hashlib

    (folder / "ISHIKAI_202603.csv.done").write_text(hashlib.sha256(data).hexdigest() + "\n")
    return {"setup_seconds": round(setup_s, 1), "history_rows": len(h), "dose_history": k, "bytes": len(data)}


def run_pipeline(url: str, root: Path) -> dict[str, Any]:
    from vaxreg import pipeline

    actor = pipeline.make_actor("clinic", run_id="bench", task_id="bench")
    started = time.perf_counter()
    works = pipeline.run_feed("clinic", actor, source_url=f"file://{root}", db_url=url)
    seconds = time.perf_counter() - started
    [summary] = pipeline.report(works)
    return {"seconds": round(seconds, 2), "rss_mb": round(benchkit.peak_rss_mb()), "summary": summary}


def run_copy(url: str, root: Path) -> dict[str, Any]:
    from vaxreg.registry import db

    path = root / "outbox" / "clinic" / "ISHIKAI_202603.csv"
    started = time.perf_counter()
    text = path.read_bytes().decode("cp932")
    with db.transaction(url) as conn:
        conn.exec_driver_sql("CREATE TABLE bare_copy (" + ", ".join(f"c{i} TEXT" for i in range(14)) + ")")
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy("COPY bare_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
            cp.write(text.encode("utf-8"))
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "rss_mb": round(benchkit.peak_rss_mb())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=20260305)
    ap.add_argument("--phase", choices=("setup", "pipeline", "copy"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write the result as JSON to this file")
    args = ap.parse_args(argv)
    if args.phase:
        os.environ.setdefault("VAXREG_STAGING_DIR", str(Path(args.root) / "staging"))
        fn = {"setup": lambda: setup(args.url, Path(args.root), args.persons, args.rows, args.seed),
              "pipeline": lambda: run_pipeline(args.url, Path(args.root)),
              "copy": lambda: run_copy(args.url, Path(args.root))}[args.phase]  # fmt: skip
        print(json.dumps(fn(), ensure_ascii=False))
        return 0

    print(f"setup: {args.persons:,} persons with history, a {args.rows:,}-row clinic file …", flush=True)
    prepared, pipe, copy = benchkit.run_phases(
        "vaxreg_devtools.bench_clinic",
        "clinic",
        ["--persons", str(args.persons), "--rows", str(args.rows), "--seed", str(args.seed)],
    )
    ratio = pipe["seconds"] / copy["seconds"] if copy["seconds"] else float("inf")
    s = pipe["summary"]
    lines = [
        f"registry: {args.persons:,} persons, {prepared['history_rows']:,} history rows, "
        f"{prepared['dose_history']:,} doses on record (setup {prepared['setup_seconds']} s)",
        f"file: ISHIKAI_202603.csv, {args.rows:,} rows, {prepared['bytes'] / 1e6:.1f} MB CP932",
        f"{'stage':<40} {'seconds':>8} {'rows/s':>10} {'peak RSS':>9}",
        f"{'pipeline end to end (run_feed clinic)':<40} {pipe['seconds']:>8.2f} "
        f"{args.rows / pipe['seconds']:>10,.0f} {pipe['rss_mb']:>6} MB",
        f"{'bare COPY of the same rows':<40} {copy['seconds']:>8.2f} "
        f"{args.rows / copy['seconds']:>10,.0f} {copy['rss_mb']:>6} MB",
        f"outcome: accepted {s['accepted']:,} (off schedule {s.get('off_schedule', 0):,}), quarantined "
        f"{s['quarantined']:,}, review {s['review']:,}, duplicates {s['duplicates']:,}",
        f"target pipeline ≤ {COPY_TARGET:g} × COPY: {ratio:.1f} × — "
        f"{'met' if ratio <= COPY_TARGET else 'MISSED'}",
        f"target peak RSS < {RSS_TARGET_MB:g} MB: {pipe['rss_mb']} MB — "
        f"{'met' if pipe['rss_mb'] < RSS_TARGET_MB else 'MISSED'}",
    ]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"setup": prepared, "pipeline": pipe, "copy": copy, "ratio": ratio})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
