"""``vaxreg dose add|correct|delete``, ``vaxreg person show``: staff entries and corrections, one
person's record (cli.md, outputs.md §6). ``vaxreg publish fukuhon|shokai`` is ``cli/publish.py``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vaxreg.cli import actor_run_id, iso_date, operator


def _staff_actor(task: str) -> Any:
    from vaxreg.registry.ledger import Actor
    from vaxreg.review.entries import PURPOSE

    return Actor(dag_id="cli", run_id=actor_run_id(None), task_id=task, purpose=PURPOSE)


def _dose_values(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "atena_no": args.atena_no,
        "vaccine_code": args.vaccine_code,
        "phase": args.phase,
        "dose_no": args.dose_no,
        "dose_date": args.dose_date,
        "product_name": args.product_name,
        "lot_no": args.lot_no,
        "institution_code": args.institution_code,
        "place_code": args.place_code,
    }


def cmd_dose(args: argparse.Namespace) -> int:
    from vaxreg.registry import db
    from vaxreg.review import entries

    staff = entries.Staff(by=operator(args), reason=args.reason)
    actor = _staff_actor(f"dose {args.dose_command}")
    with db.transaction(args.database_url) as conn:
        if args.dose_command == "add":
            result = entries.add_dose(conn, actor, staff, _dose_values(args))
        elif args.dose_command == "correct":
            result = entries.correct_dose(conn, actor, staff, args.dose_id, _dose_values(args))
        else:
            result = entries.delete_dose(conn, actor, staff, args.dose_id)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_person_show(args: argparse.Namespace) -> int:
    import sys

    from vaxreg.outputs import person_record
    from vaxreg.registry import db
    from vaxreg.registry.ledger import Actor

    actor = Actor(dag_id="cli", run_id=actor_run_id(None), task_id="person show", purpose=args.purpose)
    with db.transaction(args.database_url) as conn:
        record = person_record.show(conn, actor, args.atena_no, args.purpose)
    if not record["attributes"]:
        print(f"vaxreg: person {args.atena_no} is not in the registry", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(record, ensure_ascii=False, indent=1))
        return 0
    for name, rows in record.items():
        print(f"== {name} ({len(rows)})")
        for r in rows:
            print("  " + ", ".join(f"{k}={v}" for k, v in r.items() if v is not None))
    return 0


def _dose_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--atena-no", required=required, help="the person (for correct: moves the dose)")
    p.add_argument("--vaccine-code", required=required)
    p.add_argument("--phase", required=required)
    p.add_argument("--dose-no", type=int, required=required)
    p.add_argument("--dose-date", type=iso_date, required=required)
    for opt in ("--product-name", "--lot-no", "--institution-code", "--place-code"):
        p.add_argument(opt)


def register(sub: Any) -> None:
    dose = sub.add_parser("dose", help="staff entries and corrections (outputs.md §6)")
    dsub = dose.add_subparsers(dest="dose_command", required=True)
    add = dsub.add_parser("add", help="enter a paper record as a dose")
    _dose_options(add, required=True)
    cor = dsub.add_parser("correct", help="correct a dose (a changed --atena-no moves it to that person)")
    cor.add_argument("dose_id", type=int)
    _dose_options(cor, required=False)
    dele = dsub.add_parser("delete", help="remove a dose entered in error")
    dele.add_argument("dose_id", type=int)
    for p in (add, cor, dele):
        p.add_argument("--reason", required=True, help="why (the request, the paper record)")
        p.add_argument("--by", help="who enters it (default: the OS user)")
        p.set_defaults(func=cmd_dose)

    person = sub.add_parser("person", help="one person's registry record")
    psub = person.add_subparsers(dest="person_command", required=True)
    show = psub.add_parser("show", help="attributes with history, status, doses, provision state (audited)")
    show.add_argument("atena_no")
    show.add_argument("--purpose", required=True, help="why the record is looked at (audited)")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(func=cmd_person_show)
