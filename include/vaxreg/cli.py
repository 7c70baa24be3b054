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

from vaxreg.transport import TransportError

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
    from vaxreg.vault import VaultError

    try:
        return int(args.func(args))
    except (FeedRefused, TransportError, VaultError) as exc:
        print(f"vaxreg: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `vaxreg export persons | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
