"""``vaxreg``: the operator command (cli.md). It calls the functions the DAG tasks call.

Exit status: 0 success; 1 the command ran and found a problem; 2 wrong usage.
Expected failures print one line on stderr, never a traceback or personal data.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vaxreg.transport import TransportError

if TYPE_CHECKING:
    from vaxreg.registry.ledger import Actor

FEEDS = ("resident", "welfare", "clinic", "otherward", "vrs")
IMPLEMENTED_FEEDS = ("resident", "clinic", "otherward", "welfare", "vrs")


def _actor_run_id(date: str | None) -> str:
    return f"cli__{date or dt.date.today().isoformat()}__{uuid.uuid4().hex[:8]}"


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from vaxreg.registry import db

    print(f"registry at revision {db.upgrade(args.database_url)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from vaxreg import pipeline

    if args.feed not in IMPLEMENTED_FEEDS:
        print(f"vaxreg: feed {args.feed!r} is not implemented yet", file=sys.stderr)
        return 1
    actor = pipeline.make_actor(args.feed, run_id=_actor_run_id(args.date), task_id=f"run {args.feed}")
    works = pipeline.run_feed(
        args.feed, actor, source_url=args.source, db_url=args.database_url, date=args.date
    )
    for w in works:
        print(json.dumps(pipeline.FileWork(**w).summary(), ensure_ascii=False))
    pipeline.report(works)  # raises FeedRefused
    return 0


def _write_csv(header: Sequence[str], rows: object) -> int:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(header)
    n = 0
    for chunk in rows:  # type: ignore[attr-defined]
        out.writerows(chunk)
        n += len(chunk)
    return n


def cmd_export(args: argparse.Namespace) -> int:
    from vaxreg.registry import db, exports, ledger

    actor = ledger.Actor(
        dag_id="cli", run_id=_actor_run_id(None), task_id=f"export {args.what}", purpose=args.purpose
    )
    header, query = exports.QUERIES[args.what]
    with db.transaction(args.database_url) as conn:
        n = _write_csv(header, exports.stream(conn, query))
        if args.what in exports.PERSONAL:
            ledger.audit_event(conn, actor, "export", args.what, {"rows": n})
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from vaxreg.registry import db, exports

    with db.transaction(args.database_url) as conn:
        s = exports.summary(conn)
    print(json.dumps(s, ensure_ascii=False) if args.json else exports.format_summary(s))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from vaxreg.synth import synthesize

    summary = synthesize(
        Path(args.out), persons=args.persons, seed=args.seed, vaccinations=True, vrs_welfare=True
    )
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def cmd_vault_generate_key(args: argparse.Namespace) -> int:
    from vaxreg import vault

    print(vault.generate_key())
    return 0


def cmd_vault_rotate_key(args: argparse.Namespace) -> int:
    from vaxreg import vault
    from vaxreg.registry import db, ledger

    old, new = vault.current_key(), vault.new_key_from_env()
    actor = ledger.Actor(
        dag_id="cli", run_id=_actor_run_id(None), task_id="vault rotate-key", purpose=args.purpose
    )
    with db.transaction(args.database_url) as conn:
        counts = vault.rotate(conn, old, new)
        ledger.audit_event(conn, actor, "rotate", "my_number_vault", {"from": old.id, "to": new.id, **counts})
    print(
        f"vault: {counts['rotated']} of {counts['rows']} numbers re-encrypted "
        f"from key {old.id} to key {new.id}; now set {vault.KEY_ENV} "
        f"(or the connection {vault.VAULT_CONN_ID}) to the new key"
    )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from vaxreg import audit
    from vaxreg.registry import db

    with db.transaction(args.database_url) as conn:
        verdict = audit.verify(conn)
    print(verdict.line(), file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1


def cmd_purge(args: argparse.Namespace) -> int:
    from vaxreg import retention

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    result = retention.purge(
        as_of,
        dry_run=args.dry_run,
        run_id=_actor_run_id(as_of.isoformat()),
        db_url=args.database_url,
        policies_path=Path(args.policies) if args.policies else None,
    )
    print(retention.format_result(result))
    return 0


def _review_actor(task: str) -> Actor:
    from vaxreg.registry import ledger, review

    return ledger.Actor(dag_id="cli", run_id=_actor_run_id(None), task_id=task, purpose=review.PURPOSE)


def _operator(args: argparse.Namespace) -> str:
    import getpass

    return args.by or getpass.getuser()


def cmd_review_list(args: argparse.Namespace) -> int:
    from vaxreg.registry import db, ledger, review

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
    from vaxreg.registry import db, ledger, review

    with db.transaction(args.database_url) as conn:
        item = review.show_item(conn, args.item)
        actor = _review_actor("review show")
        # The received row and the candidates' demographics are personal data shown: audited (P4).
        ledger.write_audit(
            conn,
            actor,
            action="export",
            table_name="review_items",
            atena_no=[c["atena_no"] for c in item["candidates"]] or [None],
            fields_changed=[None] * max(len(item["candidates"]), 1),
            detail=[json.dumps({"item": args.item, "by": _operator(args)})] * max(len(item["candidates"]), 1),
        )
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
    from vaxreg.registry import db, review

    by = _operator(args)
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vaxreg", description=__doc__)
    p.add_argument("--database-url", help="SQLAlchemy URL of the registry (default: VAXREG_DATABASE_URL)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress on stderr")
    sub = p.add_subparsers(dest="command", required=True)

    dbp = sub.add_parser("db", help="registry schema")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="create or migrate the registry schema").set_defaults(
        func=cmd_db_upgrade
    )

    run = sub.add_parser("run", help="ingest every complete, not-yet-ingested file of a feed")
    run.add_argument("feed", choices=FEEDS)
    run.add_argument(
        "--source", help="file:///root or sftp://user@host:port/root (default: VAXREG_SOURCE_URL)"
    )
    run.add_argument("--date", help="logical date YYYY-MM-DD (recorded as the run)", type=_iso_date)
    run.set_defaults(func=cmd_run)

    exp = sub.add_parser("export", help="CSV on stdout")
    exp.add_argument("what", choices=("persons", "quarantine", "doses", "review"))
    exp.add_argument("--purpose", default="operator export", help="why (written to the audit log)")
    exp.set_defaults(func=cmd_export)

    rev = sub.add_parser("review", help="the review queue: records not attached to a person")
    rsub = rev.add_subparsers(dest="review_command", required=True)
    rl = rsub.add_parser("list", help="review items (no names): table, or CSV with --format csv")
    rl.add_argument("--feed", choices=("clinic", "otherward", "vrs"))
    rl.add_argument("--status", choices=("open", "accepted", "rejected", "applied", "all"), default="open")
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

    summ = sub.add_parser("summary", help="counts of files, rows, persons by status (no personal data)")
    summ.add_argument("--json", action="store_true")
    summ.set_defaults(func=cmd_summary)

    vlt = sub.add_parser("vault", help="the My Number vault (privacy.md P1)")
    vsub = vlt.add_subparsers(dest="vault_command", required=True)
    vsub.add_parser("generate-key", help="print a new random vault key (base64)").set_defaults(
        func=cmd_vault_generate_key
    )
    rot = vsub.add_parser(
        "rotate-key",
        help="re-encrypt every number from the current key to VAXREG_VAULT_NEW_KEY, in one transaction",
    )
    rot.add_argument("--purpose", default="vault key rotation", help="why (written to the audit log)")
    rot.set_defaults(func=cmd_vault_rotate_key)

    aud = sub.add_parser("audit", help="the audit log (操作記録)")
    asub = aud.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="verify the hash chain; exit 1 naming the first bad record").set_defaults(
        func=cmd_audit_verify
    )

    pur = sub.add_parser("purge", help="apply the retention policies (privacy.md P6)")
    pur.add_argument("--dry-run", action="store_true", help="report what would be deleted, delete nothing")
    pur.add_argument(
        "--as-of", type=_iso_date, help="logical date the cut-offs count back from (default: today)"
    )
    pur.add_argument(
        "--policies", help="policy file (default: the reviewed include/vaxreg/data/retention.yaml)"
    )
    pur.set_defaults(func=cmd_purge)

    syn = sub.add_parser("synth", help="write a generated municipality's feed files under DIR/outbox/")
    syn.add_argument("--out", required=True)
    syn.add_argument("--persons", type=int, default=20_000)
    syn.add_argument("--seed", type=int, default=20260401)
    syn.set_defaults(func=cmd_synth)
    return p


def _iso_date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        # Quiet by default: an expected failure is the one line printed below; -v shows progress.
        level=logging.INFO if args.verbose else logging.CRITICAL,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from vaxreg.pipeline import FeedRefused
    from vaxreg.registry.review import ReviewError
    from vaxreg.vault import VaultError

    try:
        return int(args.func(args))
    except (FeedRefused, TransportError, VaultError, ReviewError) as exc:
        print(f"vaxreg: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `vaxreg export persons | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
