"""``auditor history``: the recorded runs as a table, JSON or CSV."""
from __future__ import annotations


import json
import os


from ..rule import SEVERITIES
from .read import report
from .store import HistoryError, parse_time

# ------------------------------------------------------------------------------------------------ auditor history

SECTIONS = ("runs", "rules", "severity", "open", "mttr")


def add_history_command_options(p) -> None:
    p.add_argument("--db", metavar="PATH", default=None,
                   help="history file written by 'audit --history' (default $AUDITOR_HISTORY, else "
                        "./auditor-history.sqlite)")
    p.add_argument("--scope", metavar="NAME", help="only this timeline (default: every scope)")
    p.add_argument("--since", metavar="TIME", help="only runs at or after this ISO 8601 time or date")
    p.add_argument("--last", type=int, metavar="N", help="only the last N runs")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--section", choices=SECTIONS, default=None,
                   help="csv: which table to print (default runs); table: only this one")


def _section_rows(data: dict, section: str) -> tuple[list[str], list[list]]:
    runs = data["runs"]
    if section == "runs":
        head = ["run_id", "scope", "started_at", "evaluations", "compliance_pct", "noncompliant", "new", "resolved",
                *[f"nc_{s.lower()}" for s in SEVERITIES], "tool_version", "rules_version"]
        return head, [[r["run_id"], r["scope"], r["started_at"], r["evaluations"], r["compliance_pct"],
                       r["noncompliant"], r["new"], r["resolved"],
                       *[r["noncompliant_by_severity"][s] for s in SEVERITIES], r["tool_version"],
                       r["rules_version"]] for r in runs]
    if section == "rules":
        return (["rule_id", *[f"run_{r['run_id']}" for r in runs]],
                [[t["rule_id"], *t["noncompliant"]] for t in data["rule_trend"]])
    if section == "severity":
        return (["severity", *[f"run_{r['run_id']}" for r in runs]],
                [[s, *[r["noncompliant_by_severity"][s] for r in runs]] for s in SEVERITIES])
    if section == "open":
        return (["scope", "finding_id", "severity", "rule_id", "resource_id", "first_seen", "age_days"],
                [[o["scope"], o["finding_id"], o["severity"], o["rule_id"], o["resource_id"], o["first_seen"],
                  o["age_days"]] for o in data["open"]])
    return (["by", "key", "resolved", "mean_days"],
            [["rule", m["rule_id"], m["resolved"], m["mean_days"]] for m in data["mttr"]["by_rule"]]
            + [["severity", m["severity"], m["resolved"], m["mean_days"]] for m in data["mttr"]["by_severity"]])


def cmd_history(args) -> int:
    import sys
    path = args.db or os.environ.get("AUDITOR_HISTORY") or "auditor-history.sqlite"
    since = None
    if args.since:
        try:
            since = parse_time(args.since)
        except ValueError as exc:
            raise HistoryError(f"argument --since: {exc}") from None
    if args.last is not None and args.last < 1:
        raise HistoryError("argument --last: must be at least 1")
    data = report(path, scope=args.scope, since=since, last=args.last)
    if args.format == "json":
        sys.stdout.write(json.dumps({"db": str(path), **data}, indent=1) + "\n")
        return 0
    if args.format == "csv":
        import csv
        head, rows = _section_rows(data, args.section or "runs")
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(head)
        for row in rows:   # no formula injection: a cell that a spreadsheet would evaluate is quoted as text
            w.writerow(["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    console = Console(highlight=False, width=160)
    titles = {"runs": "Runs", "rules": "NonCompliant by rule, per run", "severity": "NonCompliant by severity, per run",
              "open": "Open NonCompliant findings (oldest first)", "mttr": "Mean time to resolve (days)"}
    if not data["runs"]:
        console.print("No runs recorded" + (" in this range." if since or args.scope else "."))
        return 0
    for section in ([args.section] if args.section else SECTIONS):
        head, rows = _section_rows(data, section)
        if section == "runs":   # short headings, no versions: fits a terminal
            head = ["run", "scope", "started", "evaluations", "compliance %", "NC", "new", "resolved", "crit", "high",
                    "med", "low", "info"]
            rows = [r[:13] for r in rows]
        if section in ("rules", "severity") and len(head) > 13:   # the last 12 runs fit a terminal
            head = head[:1] + head[-12:]
            rows = [r[:1] + r[-12:] for r in rows]
        if section == "open" and len(rows) > 50:
            title = f"{titles[section]}: {len(rows)}, the 50 oldest shown"
            rows = rows[:50]
        else:
            title = titles[section]
        t = Table(title=title)
        for i, h in enumerate(head):
            t.add_column(h, justify="right" if i and section != "open" else "left")
        for row in rows:
            t.add_row(*[escape("" if v is None else str(v)) for v in row])
        console.print(t)
    return 0
