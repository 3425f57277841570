"""summary.md: a short markdown summary for a CI job summary (e.g. $GITHUB_STEP_SUMMARY)."""
from __future__ import annotations

import re

import pandas as pd

from auditor.fsutil import atomic_open

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def cell(text: object, limit: int = 300) -> str:
    """Inert in a markdown table: no control or bidi characters, pipes and markup escaped, bounded length."""
    s = _UNSAFE.sub("", str(text))
    s = s.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("`", "\\`").replace("[", "\\[").replace("]", "\\]").replace("*", "\\*").replace("_", "\\_")
    return s if len(s) <= limit else s[:limit] + "…"


def write_markdown(path, findings: pd.DataFrame, meta: dict) -> None:
    s = meta.get("summary") or {}
    by_state = s.get("by_state", {})
    pct = s.get("compliance_pct")
    lines = ["# Azure Backup private endpoint audit", "",
             f"Compliance: **{'n/a' if pct is None else f'{pct}%'}** over {s.get('evaluations', 0)} evaluations "
             f"({meta.get('tool', {}).get('name', 'auditor')} {meta.get('tool', {}).get('version', '')}, "
             f"{meta.get('generated_at', '')})", "",
             "| state | count |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in by_state.items()]
    lines += ["", "| severity | non-compliant |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in (s.get("noncompliant_by_severity") or {}).items()]
    if meta.get("errors"):
        lines += ["", "## Could not read (evaluations are Error)", ""]
        lines += [f"- {cell(e.get('scope') or 'input')}: {cell(e.get('status'))} {cell(e.get('message'), 200)}"
                  for e in meta["errors"][:50]]
    bad = findings[findings["compliance_state"].isin(["NonCompliant", "Error"])].head(200)
    if len(bad):
        lines += ["", "## Findings", "", "| severity | rule | state | resource | message |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r.severity} | {r.rule_id} | {r.compliance_state} | {cell(r.resource_name, 80)} | "
                  f"{cell(r.message)} |" for r in bad.itertuples(index=False)]
        more = int(findings["compliance_state"].isin(["NonCompliant", "Error"]).sum()) - len(bad)
        if more > 0:
            lines.append(f"\n… and {more} more in findings.csv")
    with atomic_open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
