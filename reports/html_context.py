"""report.html's template context: the summary, the rule, framework, subscription, management group, policy
assignment and vault tables, the listed findings, baseline, errors, chains and trend (reports/html.py renders it).

Every value that comes from the input passes through clean_text (see reports/html.py)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from .html import (LISTED, ROW_LIMIT, SEVERITIES, STATES, VAULT_LIMIT, _as_list, _asset, _chains_view, _col,
                   _count_row, _fmt_pct, _group_counts, _pct, _pct_class, _sev_class, _state_class, _vault_name,
                   clean_text)
from .trend import trend_view


def build_context(findings: pd.DataFrame, meta: Mapping[str, Any] | None,
                  chains: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    meta = meta or {}
    resolve_used = bool(meta.get("resolve_used"))
    chain_view, healthy_compact = _chains_view(chains, resolve_used)
    df = findings if findings is not None else pd.DataFrame()
    tool = meta.get("tool") or {}
    if not isinstance(tool, Mapping):
        tool = {"name": tool}
    summary = _summary_counts(df, meta)
    rules_meta = [r for r in (meta.get("rules") or []) if isinstance(r, Mapping)]
    rules, rule_counts, templates = _rule_table(df, rules_meta)
    frameworks = _framework_view(rules_meta, rule_counts)
    subs, mgs = _subscription_rows(df), _management_group_rows(df)
    assignments = _policy_assignment_rows(meta)
    vaults = _vault_rows(df)
    has_change = "change" in df.columns
    rows, listed_rules = _listed_rows(df, templates, has_change)
    baseline = _baseline_view(meta, rows, has_change)
    errors = _error_rows(meta)
    return {
        **_page_assets(),
        "generated_at": clean_text(meta.get("generated_at")),
        "tool_name": clean_text(tool.get("name")) or "auditor", "tool_version": clean_text(tool.get("version")),
        "inputs": _as_list(meta.get("inputs")), "subscriptions": _as_list(meta.get("subscriptions")),
        "states": STATES, "severities": SEVERITIES, "listed_states": LISTED,
        **summary,
        "errors": errors, "rules": rules, "subs": subs, "vaults": vaults, "mgs": mgs, "assignments": assignments,
        "rows": rows, "listed_rules": listed_rules, "row_limit": ROW_LIMIT, "vault_limit": VAULT_LIMIT, "has_change": has_change,
        **baseline,
        "chains": chain_view, "healthy_chains": healthy_compact, "resolve_used": resolve_used,
        "trend": trend_view(meta.get("trend"), clean_text),   # reports/trend.py: None without --history
        "frameworks": frameworks,
    }


# --------------------------------------------------------------------------------------------- totals

def _summary_counts(df: pd.DataFrame, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The page's headline: compliance, evaluations by state, NonCompliant by severity."""
    state_counts: dict[str, int] = {}
    if "compliance_state" in df.columns:
        state_counts = {str(k): int(v) for k, v in df["compliance_state"].value_counts(dropna=False).items()}
    # computed from the frame (exact, so a non-compliant estate never shows a rounded-up 100%); the
    # engine's summary is used only when the frame carries no states
    if state_counts:
        pct = _pct(state_counts)
    else:
        summary = meta.get("summary") if isinstance(meta.get("summary"), Mapping) else {}
        pct = summary.get("compliance_pct")
        if not isinstance(pct, (int, float)) or isinstance(pct, bool) or (isinstance(pct, float) and math.isnan(pct)):
            pct = None
    sev_counts: dict[str, int] = {}
    if {"compliance_state", "severity"} <= set(df.columns):
        nc = df.loc[df["compliance_state"] == "NonCompliant", "severity"]
        sev_counts = {str(k): int(v) for k, v in nc.value_counts(dropna=False).items()}
    other_states = sorted(clean_text(s) for s in state_counts if s not in STATES)
    return {"pct": _fmt_pct(pct), "pct_class": _pct_class(pct),
            "state_counts": [(s, state_counts.get(s, 0)) for s in STATES],
            "other_states": other_states,
            "total": sum(state_counts.values()),
            "sev_counts": [(s, sev_counts.get(s, 0)) for s in SEVERITIES]}


# --------------------------------------------------------------------------------------------- tables

def _rule_table(df: pd.DataFrame, rules_meta: Sequence[Mapping[str, Any]]
                ) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]], dict[Any, str]]:
    """The per-rule rows, the counts by (cleaned) rule id, and the raw remediation templates by raw rule id."""
    rule_info: dict[str, dict[str, Any]] = {}
    templates: dict[Any, str] = {}  # raw rule id -> raw remediation template (str.format placeholders)
    for r in rules_meta:
        rid = clean_text(r.get("id"))
        if isinstance(r.get("remediation"), str):
            templates[r.get("id")] = r["remediation"]
        rule_info[rid] = {"id": rid, "title": clean_text(r.get("title")), "severity": clean_text(r.get("severity")),
                          "rationale": clean_text(r.get("rationale")),
                          "remediation": clean_text(r.get("remediation"))}
    if "rule_id" in df.columns:
        firsts = df.drop_duplicates("rule_id")
        for _, row in firsts.iterrows():
            rid = clean_text(row.get("rule_id"))
            if rid not in rule_info:
                rule_info[rid] = {"id": rid, "title": clean_text(row.get("title")),
                                  "severity": clean_text(row.get("severity")), "rationale": "",
                                  "remediation": clean_text(row.get("remediation"))}
    rule_counts: dict[str, dict[str, int]] = {}
    for k, c in _group_counts(df, "rule_id").items():
        ck = clean_text(k)
        agg = rule_counts.setdefault(ck, {})
        for s, n in c.items():
            agg[s] = agg.get(s, 0) + n
    rules = []
    for rid, info in rule_info.items():
        rules.append({**info, "sev_class": _sev_class(info["severity"]), **_count_row(rule_counts.get(rid, {}))})
    return rules, rule_counts, templates


def _subscription_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"key": clean_text(k) or "(none)", **_count_row(c)}
            for k, c in sorted(_group_counts(df, "subscription_id").items(), key=lambda kv: str(kv[0]).lower())]


def _management_group_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"key": clean_text(k), **_count_row(c)}
            for k, c in sorted(_group_counts(df, "management_group_path").items(), key=lambda kv: str(kv[0]).lower())
            if clean_text(k)]


def _policy_assignment_rows(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    assignments = []
    for a in meta.get("policy_assignments") or []:
        if isinstance(a, Mapping):
            assignments.append({"name": clean_text(a.get("name")), "id": clean_text(a.get("id")),
                                "scope": clean_text(a.get("scope")), "mg_path": clean_text(a.get("mg_path")),
                                "rules": ", ".join(_as_list(a.get("rules"))), "vaults": _as_list(a.get("vaults")),
                                "messages": _as_list(a.get("messages"))})
    return assignments


def _vault_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Least compliant first (n/a last), then by id."""
    vaults = []
    for k, c in sorted(_group_counts(df, "vault_id").items(),
                       key=lambda kv: (_pct(kv[1]) if _pct(kv[1]) is not None else 101.0, str(kv[0]).lower())):
        vid = clean_text(k)
        vaults.append({"key": vid or "(no vault)", "name": _vault_name(vid) if vid else "(no vault)",
                       "sub": vid.split("/")[2] if vid.lower().startswith("/subscriptions/") and vid.count("/") >= 2
                       else "", **_count_row(c)})
    return vaults


# --------------------------------------------------------------------------------------------- findings

def _listed_rows(df: pd.DataFrame, templates: Mapping[Any, str], has_change: bool) -> tuple[list[tuple], list[str]]:
    """The findings listed row by row (server-side rendered), and the rule ids among them."""
    if "compliance_state" in df.columns:
        listed = df[df["compliance_state"].isin(LISTED)]
    else:
        listed = df.iloc[0:0]
    sev = _col(listed, "severity")
    st = _col(listed, "compliance_state")
    rid = _col(listed, "rule_id")
    res = _col(listed, "resource_id")
    name = _col(listed, "resource_name")
    msg = _col(listed, "message")
    rem = _remediations(listed, templates)
    cat = _col(listed, "exemption_category")
    just = _col(listed, "exemption_justification")
    chg = _col(listed, "change") if has_change else [""] * len(listed)
    rows = []
    for i in range(len(listed)):
        extra = ""
        if st[i] == "Exempt" and (cat[i] or just[i]):
            extra = f"Exempt ({cat[i] or 'no category'}): {just[i]}"
        rows.append((sev[i], st[i], rid[i], res[i] or name[i], msg[i], extra, rem[i], chg[i],
                     _sev_class(sev[i]), _state_class(st[i])))
    return rows, sorted(set(rid))


def _baseline_view(meta: Mapping[str, Any], rows: list[tuple], has_change: bool) -> dict[str, Any]:
    """New findings (marked by --baseline or the history) and the resolved ones."""
    baseline = has_change or bool(meta.get("baseline")) or bool(meta.get("resolved"))
    new_rows = [r for r in rows if r[7] == "new"] if has_change else []
    resolved = []
    for r in meta.get("resolved") or []:
        if isinstance(r, Mapping):
            resolved.append({k: clean_text(r.get(k)) for k in
                             ("severity", "rule_id", "title", "resource_id", "resource_name", "message")})
    return {"baseline": baseline, "new_rows": new_rows, "resolved": resolved}


def _error_rows(meta: Mapping[str, Any]) -> list[dict[str, str]]:
    errors = []
    for e in meta.get("errors") or []:
        if isinstance(e, Mapping):
            errors.append({"scope": clean_text(e.get("scope")) or "(anywhere)", "status": clean_text(e.get("status")),
                           "message": clean_text(e.get("message")),
                           "types": ", ".join(_as_list(e.get("types"))) or "every type"})
        else:
            errors.append({"scope": "(anywhere)", "status": "", "message": clean_text(e), "types": ""})
    return errors


def _page_assets() -> dict[str, Any]:
    """The inline CSS and script, and the Content-Security-Policy that allows only them."""
    css, css_hash = _asset("report.css", "</style")
    js, js_hash = _asset("report.js", "</script")
    csp = (f"default-src 'none'; script-src {js_hash}; style-src {css_hash}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    return {"csp": csp, "css": css, "js": js}


# --------------------------------------------------------------------------------------------- framework view

def _framework_view(rules_meta: Sequence[Mapping[str, Any]], rule_counts: Mapping[str, Mapping[str, int]]
                    ) -> list[dict[str, Any]]:
    """Compliance by framework control: each MCSB control and each Azure Policy built-in the rules map to (the rules'
    metadata), with the summed counts of its rules' findings, controls first."""
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rules_meta:
        rid = clean_text(r.get("id"))
        keys = [("MCSB", c) for c in r.get("mcsb_controls") or [] if isinstance(c, Mapping)]
        keys += [("Azure Policy", c) for c in r.get("policies") or [] if isinstance(c, Mapping)]
        for kind, c in keys:
            cid = clean_text(c.get("id"))
            item = acc.setdefault((kind, cid), {"kind": kind, "id": cid, "rules": [], "counts": {},
                                                "title": clean_text(c.get("title") or c.get("name")),
                                                "url": clean_text(c.get("url"))})
            rel = clean_text(c.get("relation"))
            item["rules"].append(f"{rid} ({rel})" if rel else rid)
            for st, n in (rule_counts.get(rid) or {}).items():
                item["counts"][st] = item["counts"].get(st, 0) + n
    order = sorted(acc.values(), key=lambda i: (i["kind"] != "MCSB", i["id"]))
    return [{**{k: v for k, v in i.items() if k != "counts"}, "rules": ", ".join(i["rules"]), **_count_row(i["counts"])}
            for i in order]


def _remediations(listed: pd.DataFrame, templates: Mapping[Any, str]) -> list[str]:
    """Per-row remediation, or "" when it is just the rule's template (shown once, in the rule table) filled
    with the row's own fields: keeps 20k-row reports lean; findings.json/csv carry the filled-in commands."""
    if "remediation" not in listed.columns:
        return [""] * len(listed)

    def raw(name: str) -> list[Any]:
        return listed[name].tolist() if name in listed.columns else [""] * len(listed)

    out = []
    for rem, rid, g, n, r, sub in zip(raw("remediation"), raw("rule_id"), raw("resource_group"),
                                      raw("resource_name"), raw("resource_id"), raw("subscription_id")):
        text = clean_text(rem)
        t = templates.get(rid)
        if text and t is not None:
            if rem == t:
                text = ""
            else:
                try:
                    if rem == t.format(resource_group=g, resource_name=n, resource_id=r, subscription_id=sub):
                        text = ""
                except (KeyError, IndexError, ValueError, AttributeError):
                    pass
        out.append(text)
    return out

