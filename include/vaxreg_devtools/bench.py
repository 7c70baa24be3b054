"""``make bench``: time the resident feed at scale, beside a bare COPY and ``pandas.to_sql``.

A benchmark, not a test. One run:

1. generates a municipality with :func:`vaxreg_devtools.synth.synthesize` — a full load of N persons
   (plus ~0.5 % dirt rows) and one nightly diff of ~5,000 events;
2. loads the full-load file with the real pipeline into a fresh registry on SQLite and on
   PostgreSQL, twice per database: once through :func:`vaxreg.pipeline.run_feed` (end to end,
   one process, as ``vaxreg run`` does) and once step by step (fetch, parse, validate, apply,
   each in its own process, as the Airflow tasks run them), each with a fresh staging folder;
3. adds the nightly diff to each delivery root and times both ways again on the loaded registry;
4. streams the same full-load bytes through a bare PostgreSQL ``COPY`` into a plain table, and
   through ``pandas.read_csv`` + ``DataFrame.to_sql``;
5. prints rows, seconds, rows/s and peak RSS per stage, the per-file outcome of each load,
   and the targets of the performance issue, each marked met or missed.

Every measured stage runs in its own freshly spawned interpreter and reports its own peak RSS
(``ru_maxrss``). The parent imports only the standard library and stays small, because on Linux
a child's ``ru_maxrss`` starts from the parent's resident size at spawn. Seconds cover the
measured call only, not the interpreter start or the imports.

    python -m vaxreg_devtools.bench --persons 200000 [--json var/bench/result.json] [--keep]

PostgreSQL comes from ``VAXREG_BENCH_DATABASE_URL`` (default: the machine's server, database
``test``); the run creates schemas named ``bench_<random>_…`` there and drops them at the end.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vaxreg import config

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FEED = "resident"
STEPS = ("fetch", "parse", "validate", "apply")
PHASES = (("full", "full load"), ("nightly", "nightly diff"))
COPY_TARGET = 3.0  # full load on PostgreSQL ≤ 3 × a bare COPY of the same rows
PANDAS_TARGET = 10.0  # pandas.to_sql ≥ 10 × the full load on PostgreSQL
RSS_TARGET_MB = 2048.0  # peak RSS < 2 GB …
RSS_TARGET_PERSONS = 1_000_000  # … at one million persons
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20

Result = dict[str, Any]


# --------------------------------------------------------------------------- child processes


def _measured(name: str, kwargs: dict[str, Any]) -> Result:
    """Run stage ``name`` in this (spawned) process; add the process's peak RSS in MB."""
    logging.basicConfig(level=logging.WARNING, format="  [child] %(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    fn: Callable[..., Result] = globals()[name]
    out = fn(**kwargs)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return out


def in_child(fn: Callable[..., Result], **kwargs: Any) -> Result:
    """Call ``fn(**kwargs)`` in a fresh interpreter (multiprocessing "spawn"); return its result."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_measured, fn.__name__, kwargs).result()


def _with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def stage_generate(out_dir: str, persons: int, seed: int, events: int) -> Result:
    from vaxreg_devtools.synth import synthesize

    started = time.perf_counter()
    summary = synthesize(Path(out_dir), persons=persons, seed=seed, nights=1, events_per_night=events)
    seconds = time.perf_counter() - started
    feed_dir = Path(out_dir) / "outbox" / FEED
    return {
        "seconds": seconds,
        "rows": summary["rows"],
        "per_file": summary["per_file"],
        "paths": [str(feed_dir / f["file"]) for f in summary["per_file"]],
        "bytes": [(feed_dir / f["file"]).stat().st_size for f in summary["per_file"]],
    }


def stage_prepare(url: str, admin_url: str | None = None, schema: str | None = None) -> Result:
    """Not measured: create the schema (PostgreSQL) and migrate a fresh registry."""
    from sqlalchemy import create_engine

    from vaxreg.registry import db

    if admin_url and schema:
        admin = create_engine(admin_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        admin.dispose()
    return {"revision": db.upgrade(url)}


def stage_drop_schemas(admin_url: str, prefix: str) -> Result:
    """Not measured: drop every schema this run created."""
    from sqlalchemy import create_engine, text

    eng = create_engine(admin_url)
    with eng.begin() as conn:
        names = conn.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": f"{prefix}%"}
        ).scalars()
        dropped = list(names)
        for name in dropped:
            conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
    eng.dispose()
    return {"dropped": dropped}


def stage_server_version(admin_url: str) -> Result:
    from sqlalchemy import create_engine

    eng = create_engine(admin_url)
    with eng.connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version").scalar()
        settings = {
            k: conn.exec_driver_sql(f"SHOW {k}").scalar()
            for k in ("shared_buffers", "max_wal_size", "synchronous_commit")
        }
    eng.dispose()
    return {"version": str(version), "settings": settings}


def _actor(task_id: str) -> Any:
    from vaxreg import pipeline

    return pipeline.make_actor(FEED, dag_id="bench", run_id="bench", task_id=task_id)


def stage_run_feed(url: str, root: str, staging: str) -> Result:
    """``pipeline.run_feed`` end to end (fetch → parse → validate → apply) in this process."""
    os.environ["VAXREG_STAGING_DIR"] = staging
    from vaxreg import pipeline

    actor = _actor("run_feed")
    started = time.perf_counter()
    works = pipeline.run_feed(FEED, actor, source_url=f"file://{root}", db_url=url)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "summaries": pipeline.report(works)}


def stage_step(step: str, url: str, root: str, staging: str, works: list[dict[str, Any]]) -> Result:
    """One step of the pipeline, handed the previous step's work list as an Airflow task would be."""
    os.environ["VAXREG_STAGING_DIR"] = staging
    from vaxreg import pipeline

    actor = _actor(step)
    started = time.perf_counter()
    if step == "fetch":
        out = pipeline.fetch(FEED, actor, source_url=f"file://{root}", db_url=url)
    else:
        out = getattr(pipeline, step)(works, actor, db_url=url)
    seconds = time.perf_counter() - started
    result: Result = {"seconds": seconds, "works": out}
    if step == "apply":
        result["summaries"] = pipeline.report(out)
    return result


def _header(csv_path: str) -> list[str]:
    with open(csv_path, "rb") as fh:
        return fh.readline().removeprefix(_BOM).decode("utf-8").strip().split(",")


def stage_copy(admin_url: str, schema: str, csv_path: str) -> Result:
    """Bare ``COPY … FROM STDIN (FORMAT csv, HEADER)`` of the file's bytes into a plain table."""
    from sqlalchemy import create_engine

    table = f"{schema}.plain_copy"
    columns = ", ".join(f"{c} text" for c in _header(csv_path))
    eng = create_engine(admin_url)
    with eng.connect() as sa_conn:
        raw = sa_conn.connection.driver_connection
        assert raw is not None
        raw.execute(f"CREATE TABLE {table} ({columns})")  # 20 text columns, no index, no key
        raw.commit()
        started = time.perf_counter()
        with raw.cursor() as cur:
            with (
                cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER)") as copy,
                open(csv_path, "rb") as fh,
            ):
                chunk = fh.read(_CHUNK).removeprefix(_BOM)
                while chunk:
                    copy.write(chunk)
                    chunk = fh.read(_CHUNK)
            rows = cur.rowcount
        raw.commit()
        seconds = time.perf_counter() - started
    eng.dispose()
    return {"seconds": seconds, "rows": rows}


def stage_pandas(url: str, csv_path: str, chunksize: int | None) -> Result:
    """``pandas.read_csv(dtype=str)`` + ``DataFrame.to_sql(if_exists="replace")`` via SQLAlchemy."""
    import pandas as pd
    from sqlalchemy import create_engine

    eng = create_engine(url)
    started = time.perf_counter()
    frame = pd.read_csv(csv_path, dtype=str)
    read = time.perf_counter()
    frame.to_sql("plain_pandas", eng, if_exists="replace", index=False, chunksize=chunksize)
    done = time.perf_counter()
    eng.dispose()
    return {
        "seconds": done - started,
        "read_csv_seconds": read - started,
        "to_sql_seconds": done - read,
        "rows": len(frame),
        "first_column": str(frame.columns[0]),
    }


# --------------------------------------------------------------------------- the run


@dataclass
class Stage:
    group: str  # "generate", "full load", "nightly diff", "baseline"
    what: str
    database: str
    rows: int
    seconds: float
    peak_rss_mb: float | None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Outcome:
    phase: str
    database: str
    mode: str
    summaries: list[dict[str, Any]]


@dataclass
class Bench:
    persons: int
    seed: int
    events: int
    chunksize: int | None
    machine: dict[str, Any] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    expected: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def add(self, stage: Stage) -> None:
        self.stages.append(stage)
        rss = "" if stage.peak_rss_mb is None else f", peak RSS {stage.peak_rss_mb:,.0f} MB"
        print(
            f"  {stage.group} · {stage.what} · {stage.database}: {stage.seconds:,.2f} s{rss}",
            file=sys.stderr,
            flush=True,
        )

    def find(self, group: str, what: str, database: str) -> Stage | None:
        return next(
            (s for s in self.stages if (s.group, s.what, s.database) == (group, what, database)), None
        )


def _link(src: Path, dest_dir: Path) -> None:
    """Put ``src`` and its ``.done`` marker into ``dest_dir`` (hard link, else copy)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for p in (src, src.with_name(src.name + ".done")):
        try:
            os.link(p, dest_dir / p.name)
        except OSError:
            shutil.copy2(p, dest_dir / p.name)


def code_fingerprint() -> str:
    """sha256 (12 hex) of the product package's Python sources: which code was timed."""
    digest = hashlib.sha256()
    package = config.REPO_ROOT / "include" / "vaxreg"
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _machine(pg: Result | None) -> dict[str, Any]:
    cpu = ""
    mem_gib = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    versions = {}
    for dist in ("pyarrow", "pandas", "psycopg", "SQLAlchemy", "great-expectations"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "-"
    git = ""
    try:
        head = subprocess.run(
            ["git", "-C", str(config.REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(config.REPO_ROOT), "status", "--porcelain", "--", "include", ":!*/bench.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        git = head + (" + uncommitted changes in include/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        git = "-"
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_gib, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
        "postgresql": f"PostgreSQL {pg['version']}" if pg else "-",
        "postgresql_settings": (pg or {}).get("settings", {}),
        "git": git,
        "sources": code_fingerprint(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _registry_url(database: str, name: str, workdir: Path, pg_url: str, prefix: str) -> tuple[str, str]:
    """(url, schema) of a fresh registry: a new SQLite file, or a new PostgreSQL schema."""
    if database == "sqlite":
        return f"sqlite:///{workdir / f'{name}.sqlite'}", ""
    schema = f"{prefix}_{name.replace('-', '_')}"
    return _with_schema(pg_url, schema), schema


def _load(
    bench: Bench, database: str, files: list[Path], rows: list[int], workdir: Path, pg_url: str, prefix: str
) -> None:
    """Both ways of running the feed on ``database``: full load, then the nightly diff."""
    for mode in ("run_feed", "steps"):
        name = f"{database}-{mode}"
        url, schema = _registry_url(database, name, workdir, pg_url, prefix)
        in_child(stage_prepare, url=url, admin_url=pg_url if schema else None, schema=schema or None)
        root = workdir / "roots" / name
        for (phase, label), path, n in zip(PHASES, files, rows, strict=True):
            _link(path, root / "outbox" / FEED)
            staging = workdir / "staging" / f"{name}-{phase}"
            common = {"url": url, "root": str(root), "staging": str(staging)}
            if mode == "run_feed":
                r = in_child(stage_run_feed, **common)
                bench.add(Stage(label, "run_feed (end to end)", database, n, r["seconds"], r["peak_rss_mb"]))
                summaries = r["summaries"]
            else:
                works: list[dict[str, Any]] = []
                total, peak = 0.0, 0.0
                for step in STEPS:
                    r = in_child(stage_step, step=step, works=works, **common)
                    works = r["works"]
                    total, peak = total + r["seconds"], max(peak, r["peak_rss_mb"])
                    bench.add(Stage(label, f"  {step}", database, n, r["seconds"], r["peak_rss_mb"]))
                bench.add(Stage(label, "  steps, sum", database, n, total, peak))
                summaries = r["summaries"]
            bench.outcomes.append(Outcome(label, database, mode, summaries))
            shutil.rmtree(staging, ignore_errors=True)


_VERDICTS: dict[bool | None, str] = {True: "met", False: "MISSED", None: "-"}


def _ratio(x: float) -> str:
    return f"{x:.1f}×" if x >= 10 else f"{x:.2f}×"


def _targets(bench: Bench) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    full = bench.find("full load", "run_feed (end to end)", "postgresql")
    copy = bench.find("baseline", "bare COPY (FORMAT csv)", "postgresql")
    to_sql = bench.find("baseline", "  of which to_sql", "postgresql")
    if full and copy:
        ratio = full.seconds / copy.seconds
        out.append(
            {
                "target": "full load on PostgreSQL ÷ bare COPY",
                "measured": _ratio(ratio),
                "wanted": f"≤ {COPY_TARGET:g}×",
                "met": ratio <= COPY_TARGET,
            }
        )
    if full and to_sql:
        ratio = to_sql.seconds / full.seconds
        out.append(
            {
                "target": "pandas.to_sql ÷ full load on PostgreSQL",
                "measured": _ratio(ratio),
                "wanted": f"≥ {PANDAS_TARGET:g}×",
                "met": ratio >= PANDAS_TARGET,
            }
        )
    whole = bench.find("baseline", "pandas read_csv + to_sql", "postgresql")
    if full and whole:
        out.append(
            {
                "target": "pandas read_csv + to_sql ÷ full load on PostgreSQL (information)",
                "measured": _ratio(whole.seconds / full.seconds),
                "wanted": "-",
                "met": None,
            }
        )
    vaxreg = [s for s in bench.stages if s.group in ("full load", "nightly diff") and s.peak_rss_mb]
    if vaxreg:
        top = max(vaxreg, key=lambda s: s.peak_rss_mb or 0.0)
        peak = top.peak_rss_mb or 0.0
        met = peak < RSS_TARGET_MB
        note = ""
        if bench.persons < RSS_TARGET_PERSONS:
            note = f" (measured at {bench.persons:,} persons; the target is for {RSS_TARGET_PERSONS:,})"
        out.append(
            {
                "target": f"peak RSS of a vaxreg stage ({top.group}, {top.what.strip()}, {top.database})",
                "measured": f"{peak:,.0f} MB",
                "wanted": f"< {RSS_TARGET_MB / 1024:g} GB at {RSS_TARGET_PERSONS:,} persons",
                "met": met,
                "note": note,
            }
        )
    return out


def run(args: argparse.Namespace) -> Bench:
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    pg_url = os.environ.get("VAXREG_BENCH_DATABASE_URL", DEFAULT_PG_URL)
    base = Path(args.workdir) if args.workdir else config.var_dir() / "bench"
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{dt.datetime.now():%Y%m%d-%H%M%S}-", dir=base))
    prefix = f"bench_{uuid.uuid4().hex[:10]}"
    bench = Bench(persons=args.persons, seed=args.seed, events=args.events, chunksize=args.chunksize)
    pg = in_child(stage_server_version, admin_url=pg_url) if "postgresql" in databases else None
    bench.machine = _machine(pg) | {"label": args.label}
    print(f"vaxreg bench: {args.persons:,} persons in {workdir}", file=sys.stderr, flush=True)
    try:
        g = in_child(
            stage_generate,
            out_dir=str(workdir / "gen"),
            persons=args.persons,
            seed=args.seed,
            events=args.events,
        )
        bench.add(
            Stage("generate", "synthesize (2 files + truth)", "-", g["rows"], g["seconds"], g["peak_rss_mb"])
        )
        bench.expected = g["per_file"]
        files = [Path(p) for p in g["paths"]]
        rows = [int(f["rows"]) for f in g["per_file"]]
        bench.machine["csv_bytes"] = g["bytes"]
        for database in databases:
            _load(bench, database, files, rows, workdir, pg_url, prefix)
        if "postgresql" in databases:
            schema = f"{prefix}_baseline"
            in_child(stage_prepare_schema, admin_url=pg_url, schema=schema)
            c = in_child(stage_copy, admin_url=pg_url, schema=schema, csv_path=str(files[0]))
            bench.add(
                Stage(
                    "baseline",
                    "bare COPY (FORMAT csv)",
                    "postgresql",
                    c["rows"],
                    c["seconds"],
                    c["peak_rss_mb"],
                )
            )
            p = in_child(
                stage_pandas,
                url=_with_schema(pg_url, schema),
                csv_path=str(files[0]),
                chunksize=args.chunksize,
            )
            bench.add(
                Stage(
                    "baseline",
                    "pandas read_csv + to_sql",
                    "postgresql",
                    p["rows"],
                    p["seconds"],
                    p["peak_rss_mb"],
                )
            )
            bench.add(
                Stage("baseline", "  of which to_sql", "postgresql", p["rows"], p["to_sql_seconds"], None)
            )
            if p["first_column"] != "seq":
                print(f"warning: pandas read the first column as {p['first_column']!r}", file=sys.stderr)
        bench.targets = _targets(bench)
    finally:
        bench.machine["sources_after"] = code_fingerprint()
        bench.machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        if "postgresql" in databases:
            in_child(stage_drop_schemas, admin_url=pg_url, prefix=prefix)
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return bench


def stage_prepare_schema(admin_url: str, schema: str) -> Result:
    """Not measured: an empty schema for the baselines."""
    from sqlalchemy import create_engine

    eng = create_engine(admin_url)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    eng.dispose()
    return {}


# --------------------------------------------------------------------------- printing


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def format_report(bench: Bench) -> str:
    m = bench.machine
    v = m["versions"]
    out = [
        f"vaxreg bench — {bench.persons:,} persons, seed {bench.seed}, nightly diff of {bench.events:,} "
        f"events — {m['date']}",
        f"machine: {m['cores']} cores ({m['cpu'] or '?'}), {m['memory_gib']} GiB RAM, {m['os']}, "
        f"load average at start {m['load_average'][0]:.2f} / end {m.get('load_average_end', ['?'])[0]}",
        f"software: Python {m['python']}, pyarrow {v['pyarrow']}, pandas {v['pandas']}, "
        f"psycopg {v['psycopg']}, SQLAlchemy {v['SQLAlchemy']}, great-expectations {v['great-expectations']}",
        f"postgresql: {m['postgresql']}"
        + (
            f" ({', '.join(f'{k}={x}' for k, x in m['postgresql_settings'].items())})"
            if m.get("postgresql_settings")
            else ""
        ),
        f"code: {m['label'] + '; ' if m.get('label') else ''}git {m['git']}; "
        f"package sources sha256 {m['sources']}"
        + (
            ""
            if m.get("sources_after", m["sources"]) == m["sources"]
            else f" — CHANGED during the run (now {m['sources_after']}): stages may have timed different code"
        ),
        "",
    ]
    order = {g: i for i, g in enumerate(("generate", "full load", "nightly diff", "baseline"))}
    rows = [
        [
            s.group,
            s.what,
            s.database,
            f"{s.rows:,}",
            f"{s.seconds:,.2f}",
            f"{s.rows_per_s:,.0f}",
            "-" if s.peak_rss_mb is None else f"{s.peak_rss_mb:,.0f}",
        ]
        for s in sorted(bench.stages, key=lambda s: order.get(s.group, len(order)))
    ]
    out.append(
        _table(["stage", "what", "database", "rows", "seconds", "rows/s", "peak RSS MB"], rows, {3, 4, 5, 6})
    )
    out += [
        "",
        "Each row is its own spawned process (steps too), except 'steps, sum' (sum of seconds, max RSS) and",
        "'of which to_sql'. Seconds exclude interpreter start and imports. rows = data rows of the file.",
        f"pandas: read_csv(dtype=str), to_sql(if_exists='replace', index=False, method=None, "
        f"chunksize={bench.chunksize}).",
        "",
        "Per-file outcome (pipeline.report) beside the generator's truth:",
    ]
    cols = ["rows", "accepted", "quarantined", "review", "duplicates"]
    rows = []
    for o in bench.outcomes:
        for s in o.summaries:
            rows.append([s["file"], o.database, o.mode, s["status"], *(f"{s.get(c, 0):,}" for c in cols)])
    for e in bench.expected:
        rows.append([e["file"], "truth", "synth", "-", *(f"{e[c]:,}" if c in e else "-" for c in cols)])
    out.append(_table(["file", "database", "run", "status", *cols], rows, {4, 5, 6, 7, 8}))
    out += ["", "Targets:"]
    rows = [
        [t["target"], t["measured"], t["wanted"], _VERDICTS[t["met"]] + t.get("note", "")]
        for t in bench.targets
    ]
    out.append(_table(["target", "measured", "wanted", "verdict"], rows, {1}))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vaxreg_devtools.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=200_000, help="persons of the full load (default 200,000)")
    ap.add_argument("--seed", type=int, default=20260401)
    ap.add_argument("--events", type=int, default=5_000, help="events of the nightly diff (default 5,000)")
    ap.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    ap.add_argument("--chunksize", type=int, default=10_000, help="DataFrame.to_sql chunksize (0: one batch)")
    ap.add_argument("--workdir", help="folder for the run's files (default var/bench/)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files and SQLite registries")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument(
        "--label", default="", help="what code is timed (e.g. a commit), printed with the results"
    )
    args = ap.parse_args(argv)
    args.chunksize = args.chunksize or None
    # The bench's registries are thrown away: a throwaway vault key, unless one is configured.
    os.environ.setdefault("VAXREG_VAULT_KEY", base64.b64encode(os.urandom(32)).decode("ascii"))
    bench = run(args)
    print(format_report(bench))
    if args.json:
        data = asdict(bench)
        for s, d in zip(bench.stages, data["stages"], strict=True):
            d["rows_per_s"] = round(s.rows_per_s, 1)
        Path(args.json).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    from vaxreg_devtools.bench import main as _main  # so that pickled stage names resolve in spawned children

    sys.exit(_main())
