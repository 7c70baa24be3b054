"""``vaxreg publish TARGET --source URL [--date D]``: write an outbound file exactly as its DAG does
(cli.md). One line of JSON per file written, ``{"file": …, "rows": …}`` (with ``"page"`` where an
HTML page was written beside it); ``{"file": null, "rows": 0}`` when nothing new was written (the
date's file exists already).

``stats`` publishes the fiscal year ended on ``--date`` (or ``--fiscal-year``); a re-issue of a
year already published is asked for explicitly with ``--reissue --reason TEXT`` and becomes
``STATS_FY_vN.csv`` (never a rewrite).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from vaxreg.cli import actor_run_id, iso_date, operator


def cmd_publish(args: argparse.Namespace) -> int:
    from vaxreg import config, outputs
    from vaxreg.registry import db, ledger
    from vaxreg.transport import open_source

    usage = None
    if args.target != "stats" and (args.reissue or args.fiscal_year is not None):
        usage = "--reissue and --fiscal-year are for 'stats' only"
    elif args.reissue and not (args.reason or "").strip():
        usage = "--reissue needs --reason TEXT (recorded in the audit log and on the page)"
    elif args.reason and not args.reissue:
        usage = "--reason goes with --reissue"
    if usage:
        print(f"vaxreg publish: {usage}", file=sys.stderr)
        return 2
    from vaxreg.pipeline import today

    day = dt.date.fromisoformat(args.date) if args.date else today()
    actor = ledger.Actor(
        dag_id="cli",
        run_id=actor_run_id(args.date),
        task_id=f"publish {args.target} by {operator(args)}",
        purpose=f"publish {args.target}",
    )
    if args.target in outputs.REFRESH_FIRST:  # drawn from the due doses: refreshed first, as the DAG does
        from vaxreg.outputs import due

        due.refresh(actor, day, db_url=args.database_url)
    with open_source(args.source or config.source_url()) as src:
        if args.target == "stats":
            from vaxreg.outputs import stats

            names = stats.publish(
                src,
                actor,
                day,
                db_url=args.database_url,
                fiscal_year=args.fiscal_year,
                reissue_reason=args.reason if args.reissue else None,
            )
        else:
            names = outputs.publisher(args.target)(src, actor, day, db_url=args.database_url)
    with db.transaction(args.database_url) as conn:
        for line in summaries(conn, names):
            print(json.dumps(line, ensure_ascii=False))
    return 0


def summaries(conn: Any, names: list[str]) -> list[dict[str, Any]]:
    """One summary per CSV file written (rows from the outbound ledger); pages join their CSV."""
    from vaxreg.registry import db

    if not names:
        return [{"file": None, "rows": 0}]
    m = db.mark(conn)
    rows = dict(
        conn.exec_driver_sql(
            f"SELECT file_name, rows FROM outbound_files WHERE file_name IN ({', '.join([m] * len(names))})",
            tuple(names),
        ).fetchall()
    )
    out = []
    for name in names:
        if name.endswith(".csv"):
            line: dict[str, Any] = {"file": name, "rows": int(rows.get(name, 0))}
            page = name[: -len(".csv")] + ".html"
            if page in names:
                line["page"] = page
            out.append(line)
    return out


def register(sub: Any) -> None:
    from vaxreg.outputs import PUBLISHERS

    p = sub.add_parser("publish", help="write an outbound file under URL's inbox/<target>/ as its DAG does")
    p.add_argument("target", choices=sorted(PUBLISHERS))
    p.add_argument("--source", help="file:///root or sftp://… (default: VAXREG_SOURCE_URL)")
    p.add_argument("--date", type=iso_date, help="the run's date YYYY-MM-DD (default: today in Tokyo)")
    p.add_argument(
        "--fiscal-year", type=int, help="stats: a past fiscal year (default: the one ended on --date)"
    )
    p.add_argument(
        "--reissue", action="store_true", help="stats: re-issue a published year as STATS_FY_vN.csv"
    )
    p.add_argument("--reason", help="why the re-issue (recorded in the audit log and on the page)")
    p.add_argument("--by", help="operator name for the audit log (default: the OS user)")
    p.set_defaults(func=cmd_publish)
