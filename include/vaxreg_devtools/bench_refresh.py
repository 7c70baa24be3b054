"""Benchmark of the registry refresh (outputs.md §1) and the forms and reminders publications,
beside a plain SQL ``GROUP BY`` over the same doses table in the same run (PostgreSQL)::

    python -m vaxreg_devtools.bench_refresh --persons 1000000 --doses-per-person 20

Setup generates the registry in the database itself (``generate_series``): persons with a
municipality's ages (children, adults, elders; a few not resident) and about
``doses-per-person`` doses each (children their routine series, others yearly flu doses; 2 %
off schedule). Each phase runs in its own child process, so each peak RSS is its own.
Targets (issue 12): refresh ≤ 5 × the GROUP BY, peak RSS < 2 GB, each publication ≤ 30 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from vaxreg_devtools import benchkit

AS_OF = dt.date(2026, 6, 1)
REMIND_ON = dt.date(2026, 6, 15)
RATIO_TARGET = 5.0
RSS_TARGET_MB = 2048
PUBLISH_TARGET_S = 30.0
# The children's routine slots (vaccine, phase, dose, days after birth), 20 of them.
CHILD_SLOTS = [
    ("06", "11", 1, 70), ("06", "11", 2, 100), ("06", "11", 3, 130), ("06", "12", 1, 400),
    ("02", "11", 1, 70), ("02", "11", 2, 100), ("02", "11", 3, 130), ("02", "12", 1, 400),
    ("03", "00", 1, 70), ("03", "00", 2, 100), ("03", "00", 3, 230), ("09", "00", 1, 180),
    ("04", "00", 1, 60), ("04", "00", 2, 90), ("10", "11", 1, 380), ("11", "00", 1, 380),
    ("11", "00", 2, 500), ("12", "11", 1, 1100), ("12", "11", 2, 1110), ("12", "12", 1, 1500),
]  # fmt: skip


_DOSE_COLUMNS = (
    "INSERT INTO doses (atena_no, vaccine_code, phase, dose_no, dose_date, source, manifest_id, row_no, "
    "off_schedule, version, decided_by, recorded_at) "
)


def setup(url: str, persons: int, per_person: int) -> dict[str, Any]:
    from vaxreg.registry import db

    started = time.perf_counter()
    db.upgrade(url)
    slots = ", ".join(f"('{v}', '{p}', {n}, {d}, {i})" for i, (v, p, n, d) in enumerate(CHILD_SLOTS, start=1))
    # ages, deterministic by i: 18 % children 0-19, 47 % adults 20-59, 35 % elders 60-95
    age_days = (
        "CASE WHEN mod(i, 100) < 18 THEN mod(i * 7919, 7300) "
        "WHEN mod(i, 100) < 65 THEN 7300 + mod(i * 7919, 14600) ELSE 21900 + mod(i * 7919, 12775) END"
    )
    with db.transaction(url) as conn:
        conn.exec_driver_sql(
            "INSERT INTO persons (atena_no, status, name_kanji, name_kana, birth_date, sex, household_no, "
            "householder_name, address, version, valid_from, event_code, manifest_id, seq, decided_by, "
            "recorded_at) SELECT lpad(i::text, 10, '0'), "
            "CASE WHEN mod(i, 37) = 0 THEN 'moved_out' ELSE 'resident' END, '試験　' || i, 'シケン　' || i, "
            f"DATE '2026-06-01' - ({age_days}), CASE WHEN mod(i, 2) = 0 THEN '2' ELSE '1' END, "
            "lpad((i / 3)::text, 10, '0'), '試験　世帯主', '東京都港区芝1丁目1番1号', 1, DATE '2020-01-01', "
            f"'10', 0, i, 'bench', now() FROM generate_series(1, {persons}) AS i"
        )
        # Children: their routine slots already given by the as-of date (2 % off schedule);
        # everyone else: one flu dose a year going back per_person years.
        conn.exec_driver_sql(
            _DOSE_COLUMNS + "SELECT p.atena_no, s.v, s.p, s.n, p.birth_date + s.d, 'clinic', 0, s.k, "
            "CASE WHEN mod(abs(hashtext(p.atena_no || s.k)), 50) = 0 THEN 'interval_too_short' END, 1, "
            f"'bench', now() FROM persons p CROSS JOIN (VALUES {slots}) AS s(v, p, n, d, k) "
            f"WHERE p.birth_date > DATE '2006-06-01' AND s.k <= {per_person} "
            "AND p.birth_date + s.d <= DATE '2026-06-01'"
        )
        conn.exec_driver_sql(
            _DOSE_COLUMNS + "SELECT p.atena_no, '21', '00', 1, make_date(2026 - y, 11, 1 + mod(y, 28)), "
            "'clinic', 0, y, NULL, 1, 'bench', now() FROM persons p "
            f"CROSS JOIN generate_series(1, {per_person}) AS y WHERE p.birth_date <= DATE '2006-06-01'"
        )
        conn.exec_driver_sql("ANALYZE")
        doses = int(conn.exec_driver_sql("SELECT COUNT(*) FROM doses").scalar_one())
    return {"doses": doses, "setup_seconds": round(time.perf_counter() - started, 1)}


def run_refresh(url: str, root: Path) -> dict[str, Any]:
    from vaxreg import outputs
    from vaxreg.outputs import due
    from vaxreg.registry import ledger
    from vaxreg.transport import open_source

    actor = ledger.Actor(dag_id="bench", run_id="bench", task_id="bench", purpose="benchmark")
    t0 = time.perf_counter()
    from vaxreg.quality.suites import _gx_context

    _gx_context()  # importing GX is a fixed cost of every process (seconds), timed apart
    gx_import = round(time.perf_counter() - t0, 2)
    started = time.perf_counter()
    result = due.refresh(actor, AS_OF, db_url=url)
    refresh_s = time.perf_counter() - started
    rss_refresh = benchkit.peak_rss_mb()
    timings = {}
    with open_source(f"file://{root}") as src:
        for target, day in (("forms", AS_OF), ("reminders", REMIND_ON)):
            t0 = time.perf_counter()
            names = outputs.publisher(target)(src, actor, day, db_url=url)
            timings[target] = {"seconds": round(time.perf_counter() - t0, 2), "files": names}
    return {
        "seconds": round(refresh_s, 2),
        "gx_import_seconds": gx_import,
        "rss_mb": round(rss_refresh),
        "rss_after_publish_mb": round(benchkit.peak_rss_mb()),
        "refreshed": result.as_dict(),
        "publish": timings,
    }


def run_group_by(url: str) -> dict[str, Any]:
    from vaxreg.registry import db

    started = time.perf_counter()
    with db.transaction(url) as conn:
        conn.exec_driver_sql(
            "CREATE TEMP TABLE baseline AS SELECT atena_no, vaccine_code, phase, COUNT(*) AS n, "
            "MAX(dose_date) AS last FROM doses GROUP BY atena_no, vaccine_code, phase"
        )
        rows = int(conn.exec_driver_sql("SELECT COUNT(*) FROM baseline").scalar_one())
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "rss_mb": round(benchkit.peak_rss_mb()),
        "rows": rows,
    }


def _report(
    args: argparse.Namespace, prepared: dict[str, Any], ref: dict[str, Any], base: dict[str, Any]
) -> str:
    ratio = ref["seconds"] / base["seconds"] if base["seconds"] else float("inf")
    pub = ref["publish"]
    slowest = max(p["seconds"] for p in pub.values())
    lines = [
        f"registry: {args.persons:,} persons, {prepared['doses']:,} doses "
        f"(setup {prepared['setup_seconds']} s)",
        f"{'stage':<44} {'seconds':>8} {'peak RSS':>9}",
        f"{'refresh (due_doses, ' + format(ref['refreshed']['rows'], ',') + ' rows)':<44} "
        f"{ref['seconds']:>8.2f} {ref['rss_mb']:>6} MB",
        f"{'plain SQL GROUP BY over doses':<44} {base['seconds']:>8.2f} {base['rss_mb']:>6} MB",
        *(f"{'publish ' + t + ' ' + ','.join(p['files']):<44} {p['seconds']:>8.2f}" for t, p in pub.items()),
        f"(GX import before the refresh, once per process: {ref['gx_import_seconds']} s, not counted)",
        "refresh phases (s): " + ", ".join(f"{k} {v}" for k, v in ref["refreshed"]["seconds"].items()),
        "counts by state: " + ", ".join(f"{k} {v:,}" for k, v in ref["refreshed"]["counts"].items()),
        f"target refresh ≤ {RATIO_TARGET:g} × GROUP BY: {ratio:.1f} × — "
        f"{'met' if ratio <= RATIO_TARGET else 'MISSED'}",
        f"target peak RSS < {RSS_TARGET_MB} MB: {ref['rss_after_publish_mb']} MB — "
        f"{'met' if ref['rss_after_publish_mb'] < RSS_TARGET_MB else 'MISSED'}",
        f"target each publication ≤ {PUBLISH_TARGET_S:g} s: {slowest:.1f} s — "
        f"{'met' if slowest <= PUBLISH_TARGET_S else 'MISSED'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--doses-per-person", type=int, default=20)
    ap.add_argument("--phase", choices=("setup", "pipeline", "copy"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write the result as JSON to this file")
    args = ap.parse_args(argv)
    if args.phase:
        os.environ.setdefault("VAXREG_STAGING_DIR", str(Path(args.root) / "staging"))
        fn = {"setup": lambda: setup(args.url, args.persons, args.doses_per_person),
              "pipeline": lambda: run_refresh(args.url, Path(args.root)),
              "copy": lambda: run_group_by(args.url)}[args.phase]  # fmt: skip
        print(json.dumps(fn(), ensure_ascii=False))
        return 0
    print(f"setup: {args.persons:,} persons, about {args.doses_per_person} doses each …", flush=True)
    prepared, ref, base = benchkit.run_phases(
        "vaxreg_devtools.bench_refresh",
        "refresh",
        ["--persons", str(args.persons), "--doses-per-person", str(args.doses_per_person)],
    )
    print(_report(args, prepared, ref, base))
    if args.json:
        Path(args.json).write_text(json.dumps({"setup": prepared, "refresh": ref, "group_by": base}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
