"""``auditor audit``: options, load, evaluate, baseline and history, reports, Log Analytics, exit code."""
from __future__ import annotations

import gc
import importlib
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from .common import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, UsageError, log, safe
from .estate import load_model, management_group_names

# what the audit's steps import, in the order they have always been imported
_AUDIT_MODULES = ("..engine", "..config", "..arm", "..ingest", "..model", "..model.policy", "..reports", "..rules",
                  "..ruledoc")


@dataclass
class _Options:
    """What the run needs besides the input, every part checked before anything is read."""
    cfg: object                     # auditor.config.Config
    baseline_rows: list[dict] | None
    servers: list                   # --dns-server, parsed
    formats: list[str]
    run_time: datetime
    shipping: object | None         # auditor.loganalytics.Target


@dataclass
class _Comparison:
    """The findings compared with the baseline or the history's previous run, and the run's record."""
    findings: object                # pandas.DataFrame
    resolved: list | None
    summary: dict
    recorded: object | None         # auditor.history's recorded run


def cmd_audit(args) -> int:
    for name in _AUDIT_MODULES:   # imported before the clock starts: the timings measure the audit, not imports
        importlib.import_module(name, __package__)
    from ..model import chains
    from ..reports import write_reports

    started = time.perf_counter()
    # A short-lived run over a large, acyclic heap: the cyclic collector only costs time here (about a third of
    # the load time at 100k objects) and frees nothing that matters.
    gc.disable()
    opts = _check_options(args)
    m = load_model(args, opts.cfg)
    settings = _settings(args, opts.cfg)
    if args.resolve:
        from ..dns import attach_resolution
        attach_resolution(m, servers=opts.servers or None, timeout=args.dns_timeout)
    loaded = time.perf_counter()
    findings = _evaluate(args, opts.cfg, m, settings)
    evaluated = time.perf_counter()
    run = _compare_and_record(args, opts, m, findings)
    meta = _report_meta(args, opts, m, run)
    write_reports(args.out, opts.formats, run.findings, meta, lambda: chains(m))   # computed only where html is written
    elapsed = time.perf_counter() - started
    log.info("audit timings", extra={"fields": {"load_s": round(loaded - started, 3),
                                                "evaluate_s": round(evaluated - loaded, 3),
                                                "report_s": round(time.perf_counter() - evaluated, 3),
                                                "evaluations": len(run.findings)}})
    shipped = True
    if opts.shipping is not None:   # after the local reports: a failed upload never costs them
        from ..loganalytics import ship
        shipped = ship(opts.shipping, run.findings, meta, run.recorded)
    if not args.quiet:
        _print_outcome(args, m, run, elapsed)
    return _exit_code(args, m, run.summary, shipped)


# ------------------------------------------------------------------------------------------------ the steps

def _check_options(args) -> _Options:
    """--rule, --config, --baseline, --dns-server, --format, --run-time and the Log Analytics target, in that
    order: a usage error costs nothing."""
    from ..config import Config, load_config
    from ..rules import BY_ID
    for rid in args.rule:
        if rid.upper() not in BY_ID:
            raise UsageError(f"argument --rule: unknown rule {rid!r} (see 'auditor rules')")
    cfg = load_config(args.config, BY_ID) if args.config else Config()
    baseline_rows = _read_baseline(args.baseline) if args.baseline else None
    servers = _dns_servers(args)
    formats = args.format or ["csv", "html", "json", "junit"]
    return _Options(cfg=cfg, baseline_rows=baseline_rows, servers=servers, formats=formats,
                    run_time=_run_time(args), shipping=_shipping(args))


def _dns_servers(args) -> list:
    servers = []
    if args.dns_server:
        from ..dns import parse_server
        for s in args.dns_server:
            try:
                servers.append(parse_server(s))
            except ValueError as exc:
                raise UsageError(f"argument --dns-server: {exc}") from None
    return servers


def _settings(args, cfg):
    from .. import engine
    return engine.Settings(params=cfg.params, disabled=cfg.disabled, only={r.upper() for r in args.rule},
                           exemptions=cfg.exemptions, resolve=args.resolve)


def _evaluate(args, cfg, m, settings):
    """Every rule over the model; offline, only what lies under --management-group (live, the collector read
    only that)."""
    from .. import arm, engine
    from ..ingest import InputError
    from ..rules import ALL
    findings = engine.evaluate(m, ALL, settings)
    groups = management_group_names(args, cfg.management_groups) if (args.demo or args.input) else []
    if groups:
        from ..model.policy import under_groups
        missing = [g for g in groups if arm.MANAGEMENT_GROUP_PREFIX + g.lower() not in m.hierarchy.known]
        if missing:
            raise InputError(f"argument --management-group: {', '.join(missing)} not in the input (export it: az "
                             "account management-group show --name <id> --expand --recurse --no-register -o json)")
        findings = findings[under_groups(m, groups, findings["resource_id"])].reset_index(drop=True)
    return findings


def _compare_and_record(args, opts: _Options, m, findings) -> _Comparison:
    """--baseline marks the findings; --history records the run in one transaction, and the scope's previous
    run is the baseline unless --baseline was given."""
    from .. import engine
    from ..rules import ALL
    resolved = None
    if opts.baseline_rows is not None:
        findings, resolved = engine.apply_baseline(findings, opts.baseline_rows)
    summary = engine.summarize(findings)
    recorded = None
    if args.history:
        from ..history import record_run
        recorded = record_run(args.history, findings, summary, scope=_history_scope(args), started=opts.run_time,
                              tool_version=__version__, rules_version=_rules_version(ALL), inputs=m.inputs,
                              subscriptions=m.subscriptions)
        if opts.baseline_rows is None and recorded.previous is not None:
            findings["change"] = recorded.change
            resolved = recorded.resolved
    return _Comparison(findings=findings, resolved=resolved, summary=summary, recorded=recorded)


def _report_meta(args, opts: _Options, m, run: _Comparison) -> dict:
    """The reports' metadata (findings.json's top level; the other writers read parts of it)."""
    from ..model.policy import report_rows
    from ..rules import ALL
    from ..ruledoc import rule_doc
    present_rules = set(run.findings["rule_id"].unique().tolist())
    meta = {"generated_at": opts.run_time.isoformat(timespec="seconds"),
            "tool": {"name": "auditor", "version": __version__}, "inputs": m.inputs,
            "subscriptions": m.subscriptions, "summary": run.summary, "errors": m.errors,
            "rules": [rule_doc(r) for r in ALL if r.id in present_rules],
            "resolve_used": bool(args.resolve), "baseline": args.baseline, "resolved": run.resolved or [],
            "policy_assignments": report_rows(m, run.findings,
                                              {r.id: {**r.params, **opts.cfg.params.get(r.id, {})} for r in ALL})}
    if opts.baseline_rows is None:
        meta.pop("baseline")
    if run.recorded is not None:
        from ..history import report_meta
        meta.update(report_meta(args.history, run.recorded, baseline_file=args.baseline))
    return meta


def _print_outcome(args, m, run: _Comparison, elapsed: float) -> None:
    _print_summary(run.findings, run.summary, m, args.out, elapsed)
    recorded = run.recorded
    if recorded is not None:
        print(f"History: run {recorded.run_id} recorded in {safe(args.history)} (scope {safe(recorded.scope)}); "
              + (f"{recorded.new} new, {len(recorded.resolved)} resolved since run {recorded.previous['run_id']}"
                 if recorded.previous else "first run of this scope"))


def _exit_code(args, m, summary: dict, shipped: bool) -> int:
    """3 when something could not be read or sent, else 1 when --fail-on's severity or worse is NonCompliant."""
    incomplete = bool(m.errors) or summary["by_state"]["Error"] > 0 or not shipped
    if incomplete:
        return EXIT_INCOMPLETE
    if args.fail_on != "never":
        from ..rule import SEVERITIES
        worst = SEVERITIES[: [s.lower() for s in SEVERITIES].index(args.fail_on) + 1]
        if any(summary["noncompliant_by_severity"].get(s, 0) for s in worst):
            return EXIT_FINDINGS
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ helpers

def _run_time(args) -> datetime:
    """The run's time: --run-time or $AUDITOR_RUN_TIME (tests and replays), else now."""
    text = args.run_time or os.environ.get("AUDITOR_RUN_TIME")
    if not text:
        return datetime.now(timezone.utc)
    from ..history import parse_time
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
    from ..ruledoc import rule_doc
    doc = json.dumps([rule_doc(r) for r in rules], sort_keys=True, default=str)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:12]


def _shipping(args):
    """The Log Analytics target, checked before the audit runs (a usage error costs nothing)."""
    if not (args.log_analytics_endpoint or args.dcr_id or args.stream):
        return None
    from ..loganalytics import Target
    try:
        return Target.from_args(args.log_analytics_endpoint, args.dcr_id, args.stream, tenant=args.tenant,
                                cloud=args.cloud)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _read_baseline(path: str) -> list[dict]:
    from ..ingest import InputError
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
    from ..rule import SEVERITIES
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
        from ..rules import BY_ID
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
