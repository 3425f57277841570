"""Command line: ``auditor audit``, ``auditor collect``, ``auditor plan``, ``auditor history``, ``auditor rules``
(the contract: docs/output-contract.md).

The package: ``parser`` (the options), ``audit`` (``auditor audit``, step by step), ``commands`` (rules, collect,
plan), ``estate`` (the input: demo, files or the live estate) and ``common`` (exit codes, UsageError, safe).
Everything is re-exported here: ``auditor.cli:run`` is the console script, and main() dispatches through this
module's names."""
from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone

from .audit import cmd_audit
from .commands import cmd_collect, cmd_plan, cmd_rules
from .common import (EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, SEVERITY_CHOICES, UsageError, log,
                     safe)
from .parser import build_parser

__all__ = ["EXIT_FINDINGS", "EXIT_INCOMPLETE", "EXIT_OK", "EXIT_USAGE", "SEVERITY_CHOICES", "UsageError",
           "build_parser", "cmd_audit", "cmd_collect", "cmd_plan", "cmd_rules", "log", "main", "run", "safe"]


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(), "level": record.levelname,
               "logger": record.name, "message": record.getMessage()}
        doc.update(getattr(record, "fields", {}) or {})
        return json.dumps(doc, default=str)


def _setup_logging(args) -> None:
    level = logging.WARNING - 10 * min(args.verbose, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if args.log_format == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if args.verbose < 2:
        logging.getLogger("azure").setLevel(logging.WARNING)
    # the per-subscription progress record is what --log-format json is for: shown at any verbosity
    logging.getLogger("auditor.progress").setLevel(logging.INFO if args.log_format == "json" else logging.NOTSET)


def run() -> None:
    """The console script: main(), then exit without tearing down a heap of millions of objects one by one
    (a second at 100k resources), once every stream is flushed."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        logging.shutdown()
        os._exit(code)


def main(argv: list[str] | None = None) -> int:
    from ..ingest import InputError
    from ..reports import ReportError
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return EXIT_USAGE
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "history":
            from ..history import cmd_history
            return cmd_history(args)
        _setup_logging(args)
        if args.command == "collect":
            return cmd_collect(args)
        if args.command == "plan":
            return cmd_plan(args)
        return cmd_audit(args)
    except UsageError as exc:
        print(f"auditor: error: {safe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:
        print(f"auditor: error: {safe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except _history_error() as exc:
        print(f"auditor: error: {safe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (ReportError, OSError) as exc:
        print(f"auditor: error: cannot write reports: {safe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("auditor: interrupted", file=sys.stderr)
        return 130


def _history_error():
    from ..history import HistoryError
    return HistoryError
