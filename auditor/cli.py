"""Command line: ``auditor audit``, ``auditor collect``, ``auditor rules`` (the contract: docs/output-contract.md)."""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
SEVERITY_CHOICES = ("critical", "high", "medium", "low", "informational", "never")
log = logging.getLogger("auditor")
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """Terminal-inert text: no escape sequences, control or bidi characters."""
    return _TERMINAL_UNSAFE.sub("", str(text))


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, exit 2
        raise UsageError(message)


def _formats(text: str) -> list[str]:
    from .reports import FORMATS
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
    from .history import add_history_command_options
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
    from .ingest import InputError
    from .reports import ReportError
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return EXIT_USAGE
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "history":
            from .history import cmd_history
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
    from .history import HistoryError
    return HistoryError


# ------------------------------------------------------------------------------------------------ rules

def cmd_rules(args) -> int:
    from .frameworks import describe
    from .rules import ALL, BY_ID
    from .ruledoc import EXPERIENCE, flat_params, rule_doc, rules_markdown
    if args.action == "show" or args.rule_id:
        rid = (args.rule_id or "").upper()
        rule = BY_ID.get(rid)
        if rule is None:
            raise UsageError(f"argument ID: unknown rule {args.rule_id!r} (see 'auditor rules')")
        if args.format == "json":
            print(json.dumps(rule_doc(rule), indent=1))
            return EXIT_OK
        print(f"{rule.id}  {rule.title}\n")
        for label, value in (("Severity", rule.severity), ("Subject", rule.subject), ("NonCompliant when", rule.condition),
                             ("Rationale", rule.rationale), ("Remediation", rule.remediation),
                             ("Parameters", ", ".join(f"{k} = {v}" for k, v in flat_params(rule.params)) or "none"),
                             ("Needs", "--resolve" if rule.only_with == "resolve" else "exported or live ARM data"),
                             ("Frameworks", "\n  ".join(describe(rule)) or "none"),
                             ("Experience", EXPERIENCE if rule.experience else "any (the verdict does not depend on it)"),
                             ("References", " ".join(rule.references))):
            print(f"{label}:\n  {value}\n")
        return EXIT_OK
    if args.format == "json":
        print(json.dumps([rule_doc(r) for r in ALL], indent=1))
        return EXIT_OK
    if args.format == "markdown":
        sys.stdout.write(rules_markdown(ALL))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table
    t = Table(title="Rules", show_lines=False)
    for col in ("ID", "Severity", "Subject", "Title", "Azure Policy", "MCSB"):
        t.add_column(col)
    for r in ALL:
        t.add_row(r.id, r.severity, r.subject, r.title + (" (with --resolve)" if r.only_with else ""),
                  "\n".join(f"{g[:8]} ({rel})" for g, rel in r.policies.items()), ", ".join(r.mcsb))
    Console(width=140).print(t)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ audit

def _management_groups(args, config_groups: list[str]) -> list[str]:
    """--management-group (else the config's management_groups): group names or ids, as group names."""
    out = []
    for g in args.management_group or config_groups:
        name = g.strip().rstrip("/").rsplit("/", 1)[-1]
        if not name or not re.fullmatch(r"[\w().-]{1,90}", name):
            raise UsageError(f"argument --management-group: {g!r} is not a management group id")
        out.append(name)
    return out


def _live(args, config_subs: list[str], config_groups: list[str] = ()) -> dict:
    """Collect the live estate: the snapshot dict (resources, errors, collected_types, collected_at)."""
    from . import pipeline
    endpoint = pipeline.default_endpoint(args.cloud, args.arm_endpoint)
    if not re.match(r"^https?://[^\s/]+", endpoint):
        raise UsageError(f"argument --arm-endpoint: {endpoint!r} is not an http(s) URL")
    groups = _management_groups(args, list(config_groups))
    if groups and not pipeline.collector_takes_management_groups():
        raise UsageError("argument --management-group: this build's live collector cannot enumerate management "
                         "groups; export the estate (see the README) and audit it with --input --management-group")
    return pipeline.collect_live(arm_endpoint=endpoint, cloud=args.cloud, tenant=args.tenant,
                                 subscriptions=(args.subscription or config_subs) or None,
                                 max_concurrency=args.max_concurrency, source=args.source, workers=args.workers,
                                 structured_progress=args.log_format == "json", management_groups=groups)


def cmd_collect(args) -> int:
    from .fsutil import atomic_open
    snap = _live(args, [], [])
    rest = json.dumps({k: v for k, v in snap.items() if k != "resources"}, separators=(",", ":"))
    with atomic_open(args.out, "w", private=True, durable=True) as fh:
        # the objects are already JSON text (collect.Collected): written as they are, never parsed
        fh.write('{"resources":[')
        for i, text in enumerate(snap["resources"].texts()):
            fh.write("," + text if i else text)
        fh.write("]," + rest[1:])
    errors = snap.get("errors") or []
    print(f"wrote {len(snap.get('resources', []))} objects to {safe(args.out)}"
          + (f"; {len(errors)} scope(s) could not be read" if errors else ""), file=sys.stderr)
    return EXIT_INCOMPLETE if errors else EXIT_OK


def cmd_audit(args) -> int:
    from . import engine
    from .config import Config, load_config
    from . import arm
    from .ingest import InputError
    from .model import chains
    from .model.policy import report_rows
    from .reports import write_reports
    from .rules import ALL, BY_ID
    from .ruledoc import rule_doc

    started = time.perf_counter()
    # A short-lived run over a large, acyclic heap: the cyclic collector only costs time here (about a third of
    # the load time at 100k objects) and frees nothing that matters.
    gc.disable()
    for rid in args.rule:
        if rid.upper() not in BY_ID:
            raise UsageError(f"argument --rule: unknown rule {rid!r} (see 'auditor rules')")
    cfg = load_config(args.config, BY_ID) if args.config else Config()
    baseline_rows = _read_baseline(args.baseline) if args.baseline else None
    servers = []
    if args.dns_server:
        from .dns import parse_server
        for s in args.dns_server:
            try:
                servers.append(parse_server(s))
            except ValueError as exc:
                raise UsageError(f"argument --dns-server: {exc}") from None
    formats = args.format or ["csv", "html", "json", "junit"]
    run_time = _run_time(args)
    shipping = _shipping(args)

    m = _load_model(args, cfg)

    settings = engine.Settings(params=cfg.params, disabled=cfg.disabled, only={r.upper() for r in args.rule},
                               exemptions=cfg.exemptions, resolve=args.resolve)
    if args.resolve:
        from .dns import attach_resolution
        attach_resolution(m, servers=servers or None, timeout=args.dns_timeout)
    loaded = time.perf_counter()
    findings = engine.evaluate(m, ALL, settings)
    groups = _management_groups(args, cfg.management_groups) if (args.demo or args.input) else []
    if groups:  # offline: only what lies under the groups (live, the collector read only that)
        from .model.policy import under_groups
        missing = [g for g in groups if arm.MANAGEMENT_GROUP_PREFIX + g.lower() not in m.hierarchy.known]
        if missing:
            raise InputError(f"argument --management-group: {', '.join(missing)} not in the input (export it: az "
                             "account management-group show --name <id> --expand --recurse -o json)")
        findings = findings[under_groups(m, groups, findings["resource_id"])].reset_index(drop=True)
    evaluated = time.perf_counter()
    resolved = None
    if baseline_rows is not None:
        findings, resolved = engine.apply_baseline(findings, baseline_rows)
    summary = engine.summarize(findings)
    recorded = None
    if args.history:   # one transaction; the scope's previous run is the baseline unless --baseline was given
        from .history import record_run
        recorded = record_run(args.history, findings, summary, scope=_history_scope(args), started=run_time,
                              tool_version=__version__, rules_version=_rules_version(ALL), inputs=m.inputs,
                              subscriptions=m.subscriptions)
        if baseline_rows is None and recorded.previous is not None:
            findings["change"] = recorded.change
            resolved = recorded.resolved
    present_rules = set(findings["rule_id"].unique().tolist())
    meta = {"generated_at": run_time.isoformat(timespec="seconds"),
            "tool": {"name": "auditor", "version": __version__}, "inputs": m.inputs,
            "subscriptions": m.subscriptions, "summary": summary, "errors": m.errors,
            "rules": [rule_doc(r) for r in ALL if r.id in present_rules],
            "resolve_used": bool(args.resolve), "baseline": args.baseline, "resolved": resolved or [],
            "policy_assignments": report_rows(m, findings,
                                              {r.id: {**r.params, **cfg.params.get(r.id, {})} for r in ALL})}
    if baseline_rows is None:
        meta.pop("baseline")
    if recorded is not None:
        from .history import report_meta
        meta.update(report_meta(args.history, recorded, baseline_file=args.baseline))
    write_reports(args.out, formats, findings, meta, lambda: chains(m))   # computed only where html is written
    elapsed = time.perf_counter() - started
    log.info("audit timings", extra={"fields": {"load_s": round(loaded - started, 3),
                                                "evaluate_s": round(evaluated - loaded, 3),
                                                "report_s": round(time.perf_counter() - evaluated, 3),
                                                "evaluations": len(findings)}})
    shipped = True
    if shipping is not None:   # after the local reports: a failed upload never costs them
        from .loganalytics import ship
        shipped = ship(shipping, findings, meta, recorded)
    if not args.quiet:
        _print_summary(findings, summary, m, args.out, elapsed)
        if recorded is not None:
            print(f"History: run {recorded.run_id} recorded in {safe(args.history)} (scope {safe(recorded.scope)}); "
                  + (f"{recorded.new} new, {len(recorded.resolved)} resolved since run {recorded.previous['run_id']}"
                     if recorded.previous else "first run of this scope"))
    incomplete = bool(m.errors) or summary["by_state"]["Error"] > 0 or not shipped
    if incomplete:
        return EXIT_INCOMPLETE
    if args.fail_on != "never":
        from .rule import SEVERITIES
        worst = SEVERITIES[: [s.lower() for s in SEVERITIES].index(args.fail_on) + 1]
        if any(summary["noncompliant_by_severity"].get(s, 0) for s in worst):
            return EXIT_FINDINGS
    return EXIT_OK


def _load_model(args, cfg):
    """The model of the run's input: the demo, files, or the live estate; unreadable objects are logged."""
    from . import pipeline
    if args.demo:
        m = pipeline.load_demo()
    elif args.input:
        m = pipeline.load(args.input)
    else:
        snap = _live(args, cfg.subscriptions, cfg.management_groups)
        m = pipeline.load_objects(snap["resources"], snap.get("errors"), snap.get("collected_types") or [],
                                  where=args.arm_endpoint or os.environ.get("AZURE_ARM_ENDPOINT") or f"Azure ({args.cloud})")
        del snap   # the objects' JSON text: parsed into the model now
    for w in m.warnings[:50]:
        log.warning("%s", safe(w))
    if len(m.warnings) > 50:
        log.warning("... and %d more warnings", len(m.warnings) - 50)
    return m


# ------------------------------------------------------------------------------------------------ plan

def cmd_plan(args) -> int:
    """Audit, then write remediation.sh and remediation.md (auditor.plan). Never runs them: the auditor only reads."""
    from . import engine, plan
    from .config import Config, load_config
    from .rules import ALL, BY_ID
    for rid in args.rule:
        if rid.upper() not in BY_ID:
            raise UsageError(f"argument --rule: unknown rule {rid!r} (see 'auditor rules')")
    cfg = load_config(args.config, BY_ID) if args.config else Config()
    m = _load_model(args, cfg)
    settings = engine.Settings(params=cfg.params, disabled=cfg.disabled, only={r.upper() for r in args.rule},
                               exemptions=cfg.exemptions)
    findings = engine.evaluate(m, ALL, settings)
    the_plan = plan.build(m.steps, findings, m.vault_rids())
    header = {"version": __version__, "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "inputs": m.inputs}
    paths = plan.write(args.out, the_plan, header)
    steps = the_plan.all()
    run = sum(1 for p in steps if p.runs)
    if not args.quiet:
        print(f"plan: {run} step(s) to run, {len(steps) - run} for review, {len(the_plan.uncovered)} finding(s) with "
              f"no automated step; wrote {', '.join(safe(p) for p in paths)} (not run)")
    incomplete = bool(m.errors) or bool((findings["compliance_state"] == "Error").any()) if len(findings) else bool(m.errors)
    return EXIT_INCOMPLETE if incomplete else EXIT_OK


def _run_time(args) -> datetime:
    """The run's time: --run-time or $AUDITOR_RUN_TIME (tests and replays), else now."""
    text = args.run_time or os.environ.get("AUDITOR_RUN_TIME")
    if not text:
        return datetime.now(timezone.utc)
    from .history import parse_time
    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageError(f"argument --run-time: {exc}") from None


def _history_scope(args) -> str:
    if args.history_scope:
        return args.history_scope
    return "rules:" + ",".join(sorted({r.upper() for r in args.rule})) if args.rule else "all"


def _rules_version(rules) -> str:
    import hashlib
    from .ruledoc import rule_doc
    doc = json.dumps([rule_doc(r) for r in rules], sort_keys=True, default=str)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:12]


def _shipping(args):
    """The Log Analytics target, checked before the audit runs (a usage error costs nothing)."""
    if not (args.log_analytics_endpoint or args.dcr_id or args.stream):
        return None
    from .loganalytics import Target
    try:
        return Target.from_args(args.log_analytics_endpoint, args.dcr_id, args.stream, tenant=args.tenant,
                                cloud=args.cloud)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _read_baseline(path: str) -> list[dict]:
    from .ingest import InputError
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{path}: baseline is not valid JSON: {exc}") from None
    rows = doc.get("findings") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{path}: baseline has no 'findings' list (expected a previous findings.json)")
    return rows


def _print_summary(findings, summary: dict, m, out: str, elapsed: float) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from .rule import SEVERITIES
    console = Console(highlight=False)
    states = ("NonCompliant", "Error", "Exempt", "Compliant", "NotApplicable")
    t = Table(title="Findings by severity and state")
    t.add_column("Severity")
    for s in states:
        t.add_column(s, justify="right")
    counts = findings.groupby(["severity", "compliance_state"]).size() if len(findings) else {}
    for sev in SEVERITIES:
        t.add_row(sev, *[str(int(counts.get((sev, s), 0))) if len(findings) else "0" for s in states])
    console.print(t)
    if summary["worst_rules"]:
        w = Table(title="Rules with the most NonCompliant resources")
        for col in ("Rule", "Severity", "NonCompliant", "Title"):
            w.add_column(col)
        from .rules import BY_ID
        for r in summary["worst_rules"]:
            w.add_row(r["rule_id"], r["severity"], str(r["noncompliant"]), BY_ID[r["rule_id"]].title)
        console.print(w)
    if m.errors:
        console.print(f"[bold red]{len(m.errors)} scope(s) or object(s) could not be read; their evaluations are Error:[/]")
        for e in m.errors[:10]:
            console.print("  " + escape(safe(f"{e.get('scope') or '(input)'}: {e.get('status')} {e.get('message', '')}"[:300])))
    pct = summary["compliance_pct"]
    console.print(f"Compliance {('n/a' if pct is None else f'{pct}%')} over {summary['evaluations']} evaluations; "
                  f"reports in {escape(safe(out))} ({elapsed:.1f}s)")
