"""findings.sarif: SARIF 2.1.0 for code-scanning dashboards.

One result per NonCompliant finding. Each rule is a ``reportingDescriptor`` with its title, rationale and
remediation as help text, a default level and a ``security-severity`` score (the property code scanning ranks
alerts by: 9.0+ critical, 7.0-8.9 high, 4.0-6.9 medium, below 4 low). ``partialFingerprints`` carries the stable
``finding_id``, so a dashboard follows one finding across runs; the ARM resource id is the result's logical
location (there is no source file to point at). With a baseline (``--baseline`` or ``--history``) each result has
``baselineState`` new / unchanged.
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

import orjson
import pandas as pd

from auditor.fsutil import atomic_open

from .text import as_text

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: severity -> (SARIF level, security-severity)
SEVERITY_MAP: dict[str, tuple[str, str]] = {"Critical": ("error", "9.5"), "High": ("error", "8.0"),
                                            "Medium": ("warning", "5.5"), "Low": ("note", "3.0"),
                                            "Informational": ("note", "1.0")}
FINGERPRINT = "findingId/v1"


def _level(severity: str) -> tuple[str, str]:
    return SEVERITY_MAP.get(severity, ("warning", "5.0"))


def _rule_descriptor(rule: Mapping[str, Any]) -> dict:
    rid, sev = as_text(rule.get("id")), as_text(rule.get("severity"))
    level, score = _level(sev)
    title = as_text(rule.get("title")) or rid
    rationale, remediation = as_text(rule.get("rationale")), as_text(rule.get("remediation"))
    condition = as_text(rule.get("condition"))
    refs = [as_text(r) for r in rule.get("references") or [] if as_text(r)]
    text = "\n\n".join(x for x in (f"{title} ({sev}).", f"NonCompliant when: {condition}" if condition else "",
                                   f"Why: {rationale}" if rationale else "", f"Fix: {remediation}" if remediation else "",
                                   ("References: " + " ".join(refs)) if refs else "") if x)
    md = "\n\n".join(x for x in (f"**{title}** ({sev})", f"**NonCompliant when:** {condition}" if condition else "",
                                 f"**Why:** {rationale}" if rationale else "",
                                 f"**Fix:** `{remediation}`" if remediation else "",
                                 ("**References:** " + ", ".join(f"<{r}>" for r in refs)) if refs else "") if x)
    d: dict[str, Any] = {"id": rid, "name": "".join(w.capitalize() for w in rid.replace("-", " ").split()) or rid,
                         "shortDescription": {"text": title}, "fullDescription": {"text": rationale or title},
                         "help": {"text": text, "markdown": md}, "defaultConfiguration": {"level": level},
                         "properties": {"security-severity": score, "severity": sev,
                                        "tags": ["security", "azure", "backup", "private-endpoint"],
                                        "precision": "very-high", "problem.severity": {"error": "error",
                                                                                      "warning": "warning"}
                                        .get(level, "recommendation")}}
    if refs and refs[0].startswith(("https://", "http://")):
        d["helpUri"] = refs[0]
    return d


def build_sarif(findings: pd.DataFrame, meta: Mapping[str, Any]) -> dict:
    tool = meta.get("tool") if isinstance(meta.get("tool"), Mapping) else {}
    rules_meta = {as_text(r.get("id")): r for r in meta.get("rules") or [] if isinstance(r, Mapping)}
    nc = findings[findings["compliance_state"] == "NonCompliant"] if len(findings) else findings
    # every rule the results use, in meta order, then any the meta did not describe
    ids = list(rules_meta)
    for rid in nc["rule_id"].astype(str).unique().tolist() if len(nc) else []:
        if rid not in rules_meta:
            ids.append(rid)
            first = nc[nc["rule_id"] == rid].iloc[0]
            rules_meta[rid] = {"id": rid, "title": first.get("title"), "severity": first.get("severity"),
                               "remediation": first.get("remediation")}
    descriptors = [_rule_descriptor(rules_meta[r]) for r in ids]
    index = {r: i for i, r in enumerate(ids)}
    cols = {c: (nc[c].tolist() if c in nc.columns else [None] * len(nc)) for c in
            ("finding_id", "rule_id", "severity", "resource_id", "resource_name", "resource_type", "message",
             "subscription_id", "resource_group", "vault_id", "remediation", "change")}
    results = []
    for i in range(len(nc)):
        rid = as_text(cols["rule_id"][i])
        level, score = _level(as_text(cols["severity"][i]))
        resource = as_text(cols["resource_id"][i])
        # GitHub code scanning rejects a whole file whose results lack physicalLocation.artifactLocation.uri, and
        # wants it relative: the resource id without its leading '/', percent-encoded
        loc = {"physicalLocation": {"artifactLocation": {"uri": quote(resource.lstrip("/"), safe="/") or "unknown"}},
               "logicalLocations": [{"name": as_text(cols["resource_name"][i]) or resource.rsplit("/", 1)[-1],
                                     "fullyQualifiedName": resource, "kind": "resource"}]}
        props = {"severity": as_text(cols["severity"][i]), "security-severity": score,
                 "resourceType": as_text(cols["resource_type"][i]),
                 "subscriptionId": as_text(cols["subscription_id"][i]),
                 "resourceGroup": as_text(cols["resource_group"][i])}
        if as_text(cols["vault_id"][i]):
            props["vaultId"] = as_text(cols["vault_id"][i])
        if as_text(cols["remediation"][i]):
            props["remediation"] = as_text(cols["remediation"][i])
        r: dict[str, Any] = {"ruleId": rid, "ruleIndex": index[rid], "level": level, "kind": "fail",
                             "message": {"text": as_text(cols["message"][i]) or rid},
                             "locations": [loc],
                             "partialFingerprints": {FINGERPRINT: as_text(cols["finding_id"][i])},
                             "properties": props}
        change = as_text(cols["change"][i])
        if change in ("new", "unchanged"):
            r["baselineState"] = change
        results.append(r)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": as_text(tool.get("name")) or "auditor", "fullName": "rsv-pe-auditor",
                            "version": as_text(tool.get("version")) or "0",
                            "rules": descriptors}},
        "automationDetails": {"id": "rsv-pe-auditor/"},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [{"executionSuccessful": not meta.get("errors"),
                         **({"endTimeUtc": _utc(meta.get("generated_at"))} if _utc(meta.get("generated_at")) else {}),
                         **({"toolExecutionNotifications": [
                             {"level": "error", "message": {"text": as_text(
                                 f"{e.get('scope') or '(input)'}: {e.get('status', '')} {e.get('message', '')}")[:1000]}}
                             for e in meta["errors"][:1000] if isinstance(e, Mapping)]} if meta.get("errors") else {})}],
        "properties": {"summary": meta.get("summary") or {}},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _utc(value: Any) -> str | None:
    """An ISO time as SARIF wants it (UTC, 'Z'), or None."""
    from datetime import datetime, timezone
    s = as_text(value)
    if not s:
        return None
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_sarif(path, findings: pd.DataFrame, meta: dict) -> None:
    doc = build_sarif(findings, meta)
    with atomic_open(path, "wb") as fh:
        fh.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str))
