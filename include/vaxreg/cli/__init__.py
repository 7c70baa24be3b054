"""``vaxreg``: the operator command (cli.md). Its subcommands call the functions the DAG tasks call.

Exit status: 0 success; 1 the command ran and found a problem; 2 wrong usage.
Expected failures print one line on stderr, never a traceback or personal data.

Each module of this package adds its own subcommands (``register``); :data:`COMMANDS` lists them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import sys
import uuid
from collections.abc import Sequence

COMMANDS = (
    "vaxreg.cli.feeds",
    "vaxreg.cli.registry",
    "vaxreg.cli.review",
    "vaxreg.cli.outputs",
    "vaxreg.cli.publish",
    "vaxreg.cli.exchange",
)


def actor_run_id(date: str | None) -> str:
    """The run id a command writes to the audit log: ``cli__<date>__<random>``."""
    return f"cli__{date or dt.date.today().isoformat()}__{uuid.uuid4().hex[:8]}"


def operator(args: argparse.Namespace) -> str:
    """Who runs the command: ``--by``, else the OS user."""
    import getpass

    return args.by or getpass.getuser()


def iso_date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vaxreg", description=__doc__.split("\n\nEach module")[0])
    p.add_argument("--database-url", help="SQLAlchemy URL of the registry (default: VAXREG_DATABASE_URL)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress on stderr")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Quiet by default: an expected failure is the one line printed below; -v shows progress. The
    # level is the handler's too: libraries that set their own loggers' level (Great Expectations
    # logs INFO) stay quiet.
    level = logging.INFO if args.verbose else logging.CRITICAL
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[handler]
    )
    from vaxreg import failures

    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `vaxreg export persons | head`
        sys.stderr.close()
        return 0
    except Exception as exc:  # expected failures: one line, exit 1 (vaxreg.failures); bugs raise
        line = failures.one_line(exc)
        if line is None:
            raise
        print(f"vaxreg: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
