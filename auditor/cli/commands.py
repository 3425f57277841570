"""``auditor rules``, ``auditor collect`` and ``auditor plan`` (``auditor audit``: audit.py)."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from .. import __version__
from .common import EXIT_INCOMPLETE, EXIT_OK, UsageError, safe
from .estate import collect_live_estate, load_model


def cmd_rules(args) -> int:
    from ..frameworks import describe
    from ..rules import ALL, BY_ID
    from ..ruledoc import EXPERIENCE, flat_params, rule_doc, rules_markdown
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


def cmd_collect(args) -> int:
    from ..fsutil import atomic_open
    snap = collect_live_estate(args, [], [])
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


def cmd_plan(args) -> int:
    """Audit, then write remediation.sh and remediation.md (auditor.plan). Never runs them: the auditor only reads."""
    from .. import engine, plan
    from ..config import Config, load_config
    from ..rules import ALL, BY_ID
    for rid in args.rule:
        if rid.upper() not in BY_ID:
            raise UsageError(f"argument --rule: unknown rule {rid!r} (see 'auditor rules')")
    cfg = load_config(args.config, BY_ID) if args.config else Config()
    m = load_model(args, cfg)
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
