"""The argument parser: subcommands and their option groups (the contract: docs/output-contract.md)."""
from __future__ import annotations

import argparse

from .. import __version__
from .common import SEVERITY_CHOICES, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, exit 2
        raise UsageError(message)


def _formats(text: str) -> list[str]:
    from ..reports import FORMATS
    out = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(bad) or '(empty)'}; choose from {','.join(FORMATS)}")
    return list(dict.fromkeys(out))


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return v


def _live_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("live collection (Azure Resource Manager)")
    g.add_argument("--subscription", action="append", default=[], metavar="ID",
                   help="subscription id or display name (repeatable); default: every subscription the credential lists")
    g.add_argument("--management-group", action="append", default=[], metavar="ID",
                   help="management group id (repeatable): every subscription under it, recursively; with --input or "
                        "--demo, only the findings under it (the input must hold the group)")
    g.add_argument("--arm-endpoint", metavar="URL", help="ARM endpoint (default: $AZURE_ARM_ENDPOINT, else the cloud's)")
    g.add_argument("--cloud", choices=("public", "usgov", "china"), default="public")
    g.add_argument("--tenant", metavar="ID", help="tenant to authenticate in")
    g.add_argument("--max-concurrency", type=_positive, default=64, metavar="N",
                   help="parallel ARM requests in all (default 64, shared among --workers; requests are paced per "
                        "subscription under ARM's read budget)")
    g.add_argument("--workers", type=_positive, default=None, metavar="N",
                   help="processes that share the subscriptions (default: one per core, at most 4, with at least "
                        "4 subscriptions each)")
    g.add_argument("--source", choices=("arm", "resource-graph"), default="arm",
                   help="where the inventory comes from (default arm)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="auditor", description="Audit Azure Backup Recovery Services vaults that use private endpoints.")
    p.add_argument("--version", action="version", version=f"auditor {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    a = sub.add_parser("audit", help="audit exported ARM JSON, the demo estate, or live subscriptions")
    src = a.add_mutually_exclusive_group()
    src.add_argument("--input", action="append", default=[], metavar="PATH",
                     help="ARM JSON file or directory (repeatable)")
    src.add_argument("--demo", action="store_true", help="audit the built-in sample estate")
    a.add_argument("--out", default="auditor-report", metavar="DIR", help="report directory (default ./auditor-report)")
    a.add_argument("--format", type=_formats, default=None, metavar="LIST",
                   help="comma list of csv,html,json,junit,markdown,sarif (default csv,html,json,junit)")
    a.add_argument("--rule", action="append", default=[], metavar="ID", help="only this rule (repeatable)")
    a.add_argument("--fail-on", type=str.lower, choices=SEVERITY_CHOICES, default="high", metavar="SEVERITY",
                   help="exit 1 when something at or above this severity is NonCompliant (default high; 'never')")
    a.add_argument("--config", metavar="FILE", help="TOML: rule parameters, effects, exemptions, subscriptions")
    a.add_argument("--baseline", metavar="FILE", help="a previous findings.json: mark findings new/unchanged")
    a.add_argument("--resolve", action="store_true", help="resolve every endpoint FQDN (rule DNS-007)")
    a.add_argument("--dns-server", action="append", default=[], metavar="HOST[:PORT]",
                   help="DNS server for --resolve (repeatable; default: the system resolver)")
    a.add_argument("--dns-timeout", type=_positive_float, default=2.0, metavar="SECONDS")
    _log_options(a)
    _history_options(a)
    _live_options(a)

    c = sub.add_parser("collect", help="write the live estate as one ARM JSON snapshot")
    c.add_argument("--out", required=True, metavar="FILE", help="snapshot file (written atomically, mode 0600)")
    _log_options(c)
    _live_options(c)

    pl = sub.add_parser("plan", help="audit, then write the ordered fix plan (remediation.sh, remediation.md); "
                                     "the auditor never runs it")
    src = pl.add_mutually_exclusive_group()
    src.add_argument("--input", action="append", default=[], metavar="PATH",
                     help="ARM JSON file or directory (repeatable)")
    src.add_argument("--demo", action="store_true", help="plan for the built-in sample estate")
    pl.add_argument("--out", default="auditor-report", metavar="DIR", help="plan directory (default ./auditor-report)")
    pl.add_argument("--rule", action="append", default=[], metavar="ID", help="only this rule's findings (repeatable)")
    pl.add_argument("--config", metavar="FILE", help="TOML: rule parameters, effects, exemptions, subscriptions")
    _log_options(pl)
    _live_options(pl)

    h = sub.add_parser("history", help="runs recorded with --history: trends, open findings, time to resolve")
    from ..history import add_history_command_options
    add_history_command_options(h)

    r = sub.add_parser("rules", help="list the rules, or explain one")
    r.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    r.add_argument("rule_id", nargs="?", metavar="ID")
    r.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    return p


def _history_options(p: argparse.ArgumentParser) -> None:
    """Run history, SARIF's companions and Log Analytics (auditor/history.py, auditor/loganalytics.py)."""
    g = p.add_argument_group("history and shipping")
    g.add_argument("--history", metavar="PATH", help="SQLite run history: record this run; the previous run of the "
                   "scope is the baseline unless --baseline is given")
    g.add_argument("--history-scope", metavar="NAME", help="the timeline this run belongs to (default 'all', or "
                   "'rules:ID,...' with --rule)")
    g.add_argument("--run-time", metavar="ISO8601", help=argparse.SUPPRESS)   # tests: deterministic run times
    g.add_argument("--log-analytics-endpoint", metavar="URL",
                   help="data collection endpoint (Logs Ingestion API) to send the findings and a run record to")
    g.add_argument("--dcr-id", metavar="ID", help="immutable id of the data collection rule (dcr-...)")
    g.add_argument("--stream", metavar="NAME", default=None,
                   help="stream declared in the rule (default Custom-RsvPeAuditor)")


def _log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stdout")
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="stderr log format")
