"""``vaxreg refresh``, ``vaxreg forms reissue|history``: the due doses and the form ledger
(outputs.md §1–§2), the same functions the DAG tasks call (``vaxreg publish`` is in cli/publish.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from vaxreg.cli import actor_run_id, iso_date, operator


def _actor(task: str, date: str | None, purpose: str) -> Any:
    from vaxreg.registry import ledger

    return ledger.Actor(dag_id="cli", run_id=actor_run_id(date), task_id=task, purpose=purpose)


def _day(date: str | None) -> dt.date:
    from vaxreg.pipeline import today

    return dt.date.fromisoformat(date) if date else today()


def cmd_refresh(args: argparse.Namespace) -> int:
    from vaxreg.outputs import due

    result = due.refresh(
        _actor("refresh", args.as_of, "registry refresh"), _day(args.as_of), db_url=args.database_url
    )
    print(json.dumps(result.as_dict(), ensure_ascii=False))
    return 0


def cmd_forms_reissue(args: argparse.Namespace) -> int:
    from vaxreg.outputs import forms
    from vaxreg.registry import db

    actor = _actor("forms reissue", None, f"form reissue: {args.reason}")
    with db.transaction(args.database_url) as conn:
        rid = forms.request_reissue(
            conn, actor, args.atena_no, args.vaccine, args.phase, args.dose, args.reason, operator(args)
        )
    print(json.dumps({"reissue": rid, "file": "next forms file"}))
    return 0


def cmd_forms_history(args: argparse.Namespace) -> int:
    from vaxreg.outputs import forms
    from vaxreg.registry import db, ledger

    actor = _actor("forms history", None, args.purpose)
    with db.transaction(args.database_url) as conn:
        sent = forms.history(conn, args.atena_no)
        ledger.write_audit(
            conn,
            actor,
            action="export",
            table_name="forms_issued",
            atena_no=[args.atena_no],
            fields_changed=[None],
            detail=[f"history rows={len(sent)}"],
        )
    for row in sent:
        print(json.dumps(row, ensure_ascii=False))
    return 0


def register(sub: Any) -> None:

    ref = sub.add_parser("refresh", help="rebuild the due doses (outputs.md §1) as registry_refresh does")
    ref.add_argument("--as-of", type=iso_date, help="the as-of date YYYY-MM-DD (default: today in Tokyo)")
    ref.set_defaults(func=cmd_refresh)

    frm = sub.add_parser("forms", help="pre-examination forms (予診票)")
    fsub = frm.add_subparsers(dest="forms_command", required=True)
    rei = fsub.add_parser("reissue", help="issue a new form number in the next forms file, with a reason")
    rei.add_argument("atena_no")
    rei.add_argument("--vaccine", required=True)
    rei.add_argument("--phase", required=True)
    rei.add_argument("--dose", type=int, required=True)
    rei.add_argument("--reason", required=True)
    rei.add_argument("--by", help="who asks (default: the OS user)")
    rei.set_defaults(func=cmd_forms_reissue)
    his = fsub.add_parser("history", help="every form sent to one person (予診票送付履歴), audited")
    his.add_argument("atena_no")
    his.add_argument("--purpose", required=True, help="why (written to the audit log)")
    his.set_defaults(func=cmd_forms_history)
