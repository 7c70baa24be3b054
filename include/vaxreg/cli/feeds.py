"""``vaxreg db upgrade``, ``vaxreg run FEED``, ``vaxreg synth``: the schema and the inbound feeds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vaxreg.cli import actor_run_id, iso_date


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from vaxreg.registry import db

    print(f"registry at revision {db.upgrade(args.database_url)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from vaxreg import pipeline

    actor = pipeline.make_actor(args.feed, run_id=actor_run_id(args.date), task_id=f"run {args.feed}")
    works = pipeline.run_feed(
        args.feed, actor, source_url=args.source, db_url=args.database_url, date=args.date
    )
    for w in works:
        print(json.dumps(pipeline.FileWork(**w).summary(), ensure_ascii=False))
    pipeline.report(works)  # raises FeedRefused
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from vaxreg_devtools.synth import synthesize

    summary = synthesize(
        Path(args.out),
        persons=args.persons,
        seed=args.seed,
        vaccinations=True,
        vrs_welfare=True,
        exchange=True,
    )
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def register(sub: Any) -> None:
    from vaxreg.feeds import NAMES

    dbp = sub.add_parser("db", help="registry schema")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="create or migrate the registry schema").set_defaults(
        func=cmd_db_upgrade
    )

    run = sub.add_parser("run", help="ingest every complete, not-yet-ingested file of a feed")
    run.add_argument("feed", choices=NAMES)
    run.add_argument(
        "--source", help="file:///root or sftp://user@host:port/root (default: VAXREG_SOURCE_URL)"
    )
    run.add_argument("--date", help="logical date YYYY-MM-DD (recorded as the run)", type=iso_date)
    run.set_defaults(func=cmd_run)

    syn = sub.add_parser("synth", help="write a generated municipality's feed files under DIR/outbox/")
    syn.add_argument("--out", required=True)
    syn.add_argument("--persons", type=int, default=20_000)
    syn.add_argument("--seed", type=int, default=20260401)
    syn.set_defaults(func=cmd_synth)
