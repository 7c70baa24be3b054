"""Benchmark: a VRS records export of N persons with up to 7 doses against an N-person registry,
end to end through the real pipeline on PostgreSQL, beside a bare ``COPY`` of the same file.

    python -m vaxreg_devtools.bench_vrs --persons 1000000

One run, three freshly spawned interpreters (each reports its own peak RSS):

1. **setup** (not timed as a result): a fresh PostgreSQL schema migrated to every head;
   ``persons`` with N residents, ``vrs_subjects`` with one voucher each (the subjects file
   already loaded); ``VRS_RECORDS_20260401.csv`` (UTF-8 with BOM, 7 dose groups): one row per
   person with 1–7 doses, 個別宛名番号 given on a third of the rows, the others resolved
   through the vouchers; a first dose on another municipality's voucher for one row in seven;
2. **pipeline**: :func:`vaxreg.pipeline.run_feed` for the vrs feed — fetch, parse (wide →
   long), validate (GX), resolve, load doses + VRS details, audit, flags — as ``vaxreg run vrs``;
3. **copy**: the same bytes streamed through a bare ``COPY … FROM STDIN`` into a plain table
   of 57 text columns.

Target (issue 4): pipeline ≤ 3 × bare COPY. PostgreSQL from ``VAXREG_BENCH_DATABASE_URL``
(default: the machine's server, database ``test``); the schema is dropped at the end.
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

COPY_TARGET = 3.0
GROUPS = 7
NAME = "VRS_RECORDS_20260401.csv"


def setup(url: str, root: Path, persons: int, seed: int) -> dict[str, Any]:
    import hashlib

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from vaxreg.feeds.vrs_records import VRS_ATENA, VRS_GROUP
    from vaxreg.registry import db

    rng = np.random.default_rng(seed)
    db.upgrade(url)
    n = persons
    atena = np.char.zfill(np.arange(1, n + 1).astype(str), 10)
    vouchers = np.char.zfill((np.arange(n) * 7919 % (9 * 10**9) + 10**9).astype(str), 10)
    birth = np.datetime64("1930-01-01") + rng.integers(0, 80 * 365, n).astype("timedelta64[D]")
    now = "2026-04-01 00:00:00+00:00"
    started = time.perf_counter()

    def const(v: Any, k: int) -> pa.Array:
        return pa.repeat(pa.scalar(v), k)

    with db.transaction(url) as conn:
        db.bulk_insert(
            conn,
            "persons",
            pa.table(
                {
                    "atena_no": atena, "status": const("resident", n), "name_kanji": const("試験　太郎", n),
                    "name_kana": const("シケン　タロウ", n), "birth_date": birth.astype(str),
                    "sex": const("1", n),
                    "household_no": atena, "version": const(1, n), "valid_from": const("2026-03-01", n),
                    "event_code": const("10", n), "manifest_id": const(0, n), "seq": const(1, n),
                    "decided_by": const("bench", n), "recorded_at": const(now, n),
                }
            ),
        )  # fmt: skip
        db.bulk_insert(
            conn,
            "vrs_subjects",
            pa.table(
                {
                    "municipality_code": const("131032", n), "voucher_no": vouchers, "atena_no": atena,
                    "manifest_id": const(0, n), "row_no": pa.array(np.arange(1, n + 1)),
                    "version": const(1, n),
                    "decided_by": const("bench", n), "recorded_at": const(now, n),
                }
            ),
        )  # fmt: skip
        conn.exec_driver_sql("ANALYZE")
    setup_s = time.perf_counter() - started

    k = rng.integers(1, GROUPS + 1, n)
    base = np.array(
        ["2021-05-10", "2021-06-20", "2021-12-10", "2022-06-01", "2022-11-15", "2023-06-01", "2023-11-01"]
    )
    cols: dict[str, pa.Array] = {VRS_ATENA: pa.array(np.where(np.arange(n) % 3 == 0, atena, ""))}
    makers = np.array(["ファイザー", "武田/モデルナ", "第一三共"])
    for g in range(GROUPS):
        has = k > g
        day = np.datetime64(base[g]) + rng.integers(0, 30, n).astype("timedelta64[D]")
        ymd = pc.replace_substring(pa.array(day.astype(str)), "-", "")
        other = (g == 0) & (np.arange(n) % 7 == 3) & (k >= 2)
        values = {
            "接種履歴登録日時": pc.binary_join_element_wise(ymd, pa.scalar("101500"), ""),
            "接種日": ymd,
            "券番号": pa.array(np.where(other, "9000000001", vouchers)),
            "接種自治体コード": pa.array(np.where(other, "131024", "131032")),
            "接種会場名": const("港区集団接種会場", n),
            "接種医師名": const("医師", n),
            "ワクチンメーカー": pa.array(makers[rng.integers(0, 3, n)]),
            "ワクチンロット番号": pa.array(np.char.add("FA", rng.integers(1000, 9999, n).astype(str))),
        }
        for suffix in VRS_GROUP:
            cols[f"{g + 1}回目{suffix}"] = pc.if_else(pa.array(has), values[suffix].cast(pa.string()), "")
    folder = root / "outbox" / "vrs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NAME
    with path.open("wb") as f:
        f.write(b"\xef\xbb\xbf")
        pacsv.write_csv(pa.table(cols), f, pacsv.WriteOptions(quoting_style="needed"))
    data = path.read_bytes()
    (folder / (NAME + ".done")).write_text(hashlib.sha256(data).hexdigest() + "\n")
    return {"setup_seconds": round(setup_s, 1), "doses": int(k.sum()), "bytes": len(data)}


def run_pipeline(url: str, root: Path) -> dict[str, Any]:
    from vaxreg import pipeline

    actor = pipeline.make_actor("vrs", run_id="bench", task_id="bench")
    started = time.perf_counter()
    works = pipeline.run_feed("vrs", actor, source_url=f"file://{root}", db_url=url, date="2026-04-02")
    seconds = time.perf_counter() - started
    [summary] = pipeline.report(works)
    return {"seconds": round(seconds, 2), "rss_mb": round(benchkit.peak_rss_mb()), "summary": summary}


def run_copy(url: str, root: Path) -> dict[str, Any]:
    from vaxreg.registry import db

    path = root / "outbox" / "vrs" / NAME
    started = time.perf_counter()
    data = path.read_bytes()[3:]
    with db.transaction(url) as conn:
        conn.exec_driver_sql(
            "CREATE TABLE bare_copy (" + ", ".join(f"c{i} TEXT" for i in range(1 + 8 * GROUPS)) + ")"
        )
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy("COPY bare_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
            cp.write(data)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "rss_mb": round(benchkit.peak_rss_mb())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20260401)
    ap.add_argument("--phase", choices=("setup", "pipeline", "copy"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write the result as JSON to this file")
    args = ap.parse_args(argv)
    if args.phase:
        os.environ.setdefault("VAXREG_STAGING_DIR", str(Path(args.root) / "staging"))
        fn = {"setup": lambda: setup(args.url, Path(args.root), args.persons, args.seed),
              "pipeline": lambda: run_pipeline(args.url, Path(args.root)),
              "copy": lambda: run_copy(args.url, Path(args.root))}[args.phase]  # fmt: skip
        print(json.dumps(fn(), ensure_ascii=False))
        return 0

    print(
        f"setup: {args.persons:,} persons with vouchers, a VRS export with up to {GROUPS} doses …", flush=True
    )
    prepared, pipe, copy = benchkit.run_phases(
        "vaxreg_devtools.bench_vrs", "vrs", ["--persons", str(args.persons), "--seed", str(args.seed)]
    )
    ratio = pipe["seconds"] / copy["seconds"] if copy["seconds"] else float("inf")
    s = pipe["summary"]
    doses = prepared["doses"]
    lines = [
        f"registry: {args.persons:,} persons with one voucher each (setup {prepared['setup_seconds']} s)",
        f"file: {NAME}, {args.persons:,} rows, {doses:,} doses, {prepared['bytes'] / 1e6:.1f} MB UTF-8",
        f"{'stage':<40} {'seconds':>8} {'doses/s':>10} {'peak RSS':>9}",
        f"{'pipeline end to end (run_feed vrs)':<40} {pipe['seconds']:>8.2f} "
        f"{doses / pipe['seconds']:>10,.0f} {pipe['rss_mb']:>6} MB",
        f"{'bare COPY of the same file':<40} {copy['seconds']:>8.2f} "
        f"{doses / copy['seconds']:>10,.0f} {copy['rss_mb']:>6} MB",
        f"outcome: accepted {s['accepted']:,}, quarantined {s['quarantined']:,}, review {s['review']:,}, "
        f"duplicates {s['duplicates']:,} (file rows {s.get('file_rows', 0):,})",
        f"target pipeline ≤ {COPY_TARGET:g} × COPY: {ratio:.1f} × — "
        f"{'met' if ratio <= COPY_TARGET else 'MISSED'}",
    ]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"setup": prepared, "pipeline": pipe, "copy": copy, "ratio": ratio})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
