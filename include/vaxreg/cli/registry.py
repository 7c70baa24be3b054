"""``vaxreg export``, ``summary``, ``vault``, ``audit verify``, ``purge``: the registry itself."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vaxreg.cli import actor_run_id, iso_date


def _write_csv(header: Sequence[str], rows: object) -> int:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(header)
    n = 0
    for chunk in rows:  # type: ignore[attr-defined]
        out.writerows(chunk)
        n += len(chunk)
    return n


def cmd_export(args: argparse.Namespace) -> int:
    from vaxreg.outputs import exports
    from vaxreg.registry import db, ledger

    actor = ledger.Actor(
        dag_id="cli", run_id=actor_run_id(None), task_id=f"export {args.what}", purpose=args.purpose
    )
    header, query = exports.QUERIES[args.what]
    if args.what in exports.PERSONAL:  # P4: audited and committed before any data leaves
        with db.transaction(args.database_url) as conn:
            n = int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM ({query}) AS q").scalar_one())
            ledger.audit_event(conn, actor, "export", args.what, {"rows": n})
    with db.transaction(args.database_url) as conn:
        _write_csv(header, exports.stream(conn, query))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from vaxreg.outputs import exports
    from vaxreg.registry import db

    with db.transaction(args.database_url) as conn:
        s = exports.summary(conn)
    print(json.dumps(s, ensure_ascii=False) if args.json else exports.format_summary(s))
    return 0


def cmd_vault_generate_key(args: argparse.Namespace) -> int:
    from vaxreg.registry import vault

    print(vault.generate_key())
    return 0


def cmd_vault_rotate_key(args: argparse.Namespace) -> int:
    from vaxreg.registry import db, ledger, vault

    old, new = vault.current_key(), vault.new_key_from_env()
    actor = ledger.Actor(
        dag_id="cli", run_id=actor_run_id(None), task_id="vault rotate-key", purpose=args.purpose
    )
    from vaxreg import config

    with db.transaction(args.database_url or config.vault_database_url()) as conn:  # the vault login
        counts = vault.rotate(conn, old, new)
        ledger.audit_event(conn, actor, "rotate", "my_number_vault", {"from": old.id, "to": new.id, **counts})
    print(
        f"vault: {counts['rotated']} of {counts['rows']} numbers re-encrypted "
        f"from key {old.id} to key {new.id}; now set {vault.KEY_ENV} "
        f"(or the connection {vault.VAULT_CONN_ID}) to the new key"
    )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from vaxreg.registry import audit, db

    with db.transaction(args.database_url) as conn:
        verdict = audit.verify(conn)
    print(verdict.line(), file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1


def cmd_purge(args: argparse.Namespace) -> int:
    from vaxreg import config
    from vaxreg.retention import purge

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    result = purge.purge(
        as_of,
        dry_run=args.dry_run,
        run_id=actor_run_id(as_of.isoformat()),
        db_url=args.database_url or config.maintenance_database_url(),  # the owner: vault rows, VACUUM
        policies_path=Path(args.policies) if args.policies else None,
    )
    print(purge.format_result(result))
    return 0


def register(sub: Any) -> None:
    from vaxreg.outputs.exports import QUERIES

    exp = sub.add_parser("export", help="CSV on stdout")
    exp.add_argument("what", choices=tuple(QUERIES))
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
        "--as-of", type=iso_date, help="logical date the cut-offs count back from (default: today)"
    )
    pur.add_argument(
        "--policies", help="policy file (default: the reviewed include/vaxreg/data/retention.yaml)"
    )
    pur.set_defaults(func=cmd_purge)
