"""``vaxreg review list|show|accept|reject``: the review queue (privacy.md §Matching)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from vaxreg.cli import actor_run_id, operator
from vaxreg.registry.ledger import Actor


def _review_actor(task: str) -> Actor:
    from vaxreg.registry import ledger
    from vaxreg.review import queue as review

    return ledger.Actor(dag_id="cli", run_id=actor_run_id(None), task_id=task, purpose=review.PURPOSE)


def cmd_review_list(args: argparse.Namespace) -> int:
    from vaxreg.registry import db, ledger
    from vaxreg.review import queue as review

    status = None if args.status == "all" else args.status
    with db.transaction(args.database_url) as conn:
        items = review.list_items(conn, feed=args.feed, status=status)
        actor = _review_actor("review list")
        assert isinstance(actor, ledger.Actor)
        ledger.audit_event(
            conn,
            actor,
            "export",
            "review_items",
            {"rows": len(items), "feed": args.feed, "status": args.status},
        )
    items = items.rename(columns={"id": "item_id", "file_name": "file"})
    items["recorded_at"] = [str(v)[:19] for v in items["recorded_at"]]
    if args.format == "csv":
        items.to_csv(sys.stdout, index=False, lineterminator="\n")
    elif items.empty:
        print(f"no {args.status} review items" + (f" of {args.feed}" if args.feed else ""))
    else:
        print(items.to_string(index=False))
    return 0


def cmd_review_show(args: argparse.Namespace) -> int:
    from vaxreg.registry import db
    from vaxreg.review import queue as review

    with db.transaction(args.database_url) as conn:
        # The received row and the candidates' demographics are personal data shown: audited (P4).
        item = review.show_audited(conn, args.item, by=operator(args), actor=_review_actor("review show"))
    if args.json:
        print(json.dumps(item, ensure_ascii=False, indent=1))
        return 0
    print(f"review item {item['id']}  feed {item['feed']}  file {item['file_name']}  row {item['row_no']}")
    print(f"  status {item['status']}  reasons {item['reasons']}  recorded {str(item['recorded_at'])[:19]}")
    if item["resolved_at"]:
        print(
            f"  resolved {str(item['resolved_at'])[:19]} by {item['resolved_by']}"
            + (f" -> {item['resolved_atena_no']}" if item["resolved_atena_no"] else "")
            + (f"  note: {item['resolution_note']}" if item["resolution_note"] else "")
        )
    if item["applied_at"]:
        print(f"  applied {str(item['applied_at'])[:19]} (manifest {item['applied_manifest_id']})")
    print("  received: " + json.dumps(item["received"], ensure_ascii=False))
    if not item["candidates"]:
        print("  candidates: none")
    for c in item["candidates"]:
        weight = "" if c["weight"] is None else f"  weight {c['weight']}"
        where = "" if c["in_registry"] else "  (not in the registry)"
        print(
            f"  candidate {c['atena_no']}  {c['name_kana'] or ''}  {c['birth_date'] or ''}"
            f"  sex {c['sex'] or ''}  {c['status'] or ''}  {c['address'] or ''}{weight}{where}"
        )
        if c["score"]:
            print("    " + json.dumps(c["score"], ensure_ascii=False))
    return 0


def cmd_review_resolve(args: argparse.Namespace) -> int:
    from vaxreg.registry import db
    from vaxreg.review import queue as review

    by = operator(args)
    actor = _review_actor(f"review {args.review_command}")
    with db.transaction(args.database_url) as conn:
        if args.review_command == "accept":
            review.accept(conn, args.item, args.atena_no, by=by, note=args.note, actor=actor)
        else:
            review.reject(conn, args.item, by=by, note=args.note, actor=actor)
        feed = review.show_item(conn, args.item)["feed"]
    verb = "accepted" if args.review_command == "accept" else "rejected"
    tail = f"; applied on the next run of {feed}" if verb == "accepted" else ""
    print(f"review item {args.item} {verb} by {by}{tail}")
    return 0


def register(sub: Any) -> None:
    from vaxreg.review.queue import STATUSES, review_feeds

    rev = sub.add_parser("review", help="the review queue: records not attached to a person")
    rsub = rev.add_subparsers(dest="review_command", required=True)
    rl = rsub.add_parser("list", help="review items (no names): table, or CSV with --format csv")
    rl.add_argument("--feed", choices=review_feeds())
    rl.add_argument("--status", choices=(*STATUSES, "all"), default="open")
    rl.add_argument("--format", choices=("table", "csv"), default="table")
    rl.set_defaults(func=cmd_review_list)
    rs = rsub.add_parser("show", help="one item: the received row and its candidates (audited)")
    rs.add_argument("item", type=int)
    rs.add_argument("--json", action="store_true")
    rs.add_argument("--by", help="who is looking (default: the OS user)")
    rs.set_defaults(func=cmd_review_show)
    for name, what in (
        ("accept", "attach the record to a person; applied on the feed's next run (audited)"),
        ("reject", "the record is no one's here: nothing is applied (audited)"),
    ):
        r = rsub.add_parser(name, help=what)
        r.add_argument("item", type=int)
        if name == "accept":
            r.add_argument("--atena-no", required=True, help="the person's atena_no (10 digits)")
        r.add_argument("--note", help="why (kept with the item and in the audit log)")
        r.add_argument("--by", help="who decides (default: the OS user)")
        r.set_defaults(func=cmd_review_resolve)
