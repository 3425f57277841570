"""The only place findings are made: every rule over every subject of its view, one findings frame out.

States (docs/rules.md): NonCompliant, Compliant, NotApplicable, Exempt, Error. Precedence, strongest last:
rule verdict -> "not in the input" -> Error for a needed type absent from the whole input -> the rule's own Error
rows -> Error where an error record (unreadable scope or object) covers what the row rests on -> Exempt (replaces
NonCompliant only).
"""
from __future__ import annotations

import hashlib
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Sequence

import numpy as np
import pandas as pd

from . import arm
from .model.fixes import Fixes
from .model import Model
from .rule import SEVERITIES, SUBJECT_LABELS, SUBJECT_TYPES, Rule

COLUMNS = ["finding_id", "rule_id", "title", "severity", "compliance_state", "subscription_id", "resource_group",
           "resource_type", "resource_id", "resource_name", "vault_id", "message", "remediation",
           "exemption_category", "exemption_justification", "management_group_path", "policy_ids", "mcsb_controls"]
FRAMEWORK_COLUMNS = ["policy_ids", "mcsb_controls"]   # appended last: the columns before them keep their positions
SUBJECT_READS = {"vaults": (arm.VAULT,), "endpoints": (arm.PRIVATE_ENDPOINT,), "subnets": (arm.VNET, arm.SUBNET),
                 "vnets": (arm.VNET,), "providers": (arm.PROVIDER,), "workloads": (arm.VM, arm.NIC, arm.VNET),
                 "assignments": (arm.POLICY_ASSIGNMENT,)}
# The types whose absence could change whether a rule applies to a subject at all.
SUBJECT_DECIDES = {"vaults": (arm.VAULT,), "endpoints": (arm.PRIVATE_ENDPOINT, arm.VAULT, arm.VNET, arm.NIC),
                   "subnets": (arm.VNET, arm.SUBNET, arm.PRIVATE_ENDPOINT), "vnets": (arm.VNET, arm.PRIVATE_ENDPOINT),
                   "providers": (arm.PROVIDER, arm.VAULT),
                   "workloads": (arm.VM, arm.NIC),
                   "assignments": (arm.POLICY_ASSIGNMENT, arm.POLICY_SET, arm.MANAGEMENT_GROUP, arm.PRIVATE_ENDPOINT,
                                   arm.VAULT)}   # the PEs and vaults an assignment covers decide whether it applies
# Of those, the types a subject covers rather than is made of (Rule.coverage_decides narrows their reach).
SUBJECT_COVERAGE = {"assignments": (arm.PRIVATE_ENDPOINT, arm.VAULT)}
ABSENCE_TYPES = {arm.ZONE, arm.A_RECORD, arm.VNET_LINK}
TYPE_LABELS = {arm.ZONE: "private DNS zones", arm.A_RECORD: "private DNS A record sets", arm.VNET_LINK:
               "private DNS zone virtual network links", arm.ZONE_GROUP: "private DNS zone groups", arm.VNET:
               "virtual networks", arm.SUBNET: "subnets", arm.SUBSCRIPTION: "subscriptions", arm.PROVIDER:
               "resource providers", arm.ROLE_ASSIGNMENT: "role assignments",
               arm.VM: "virtual machines", arm.NSG: "network security groups", arm.ROUTE_TABLE: "route tables"}
REF_ERROR_VIEWS = {"subnets", "vnets"}


@dataclass
class Exemption:
    rules: tuple[str, ...]
    scope: str
    category: str
    justification: str = ""
    expires_on: datetime | None = None
    name: str = ""

    def active(self, now: datetime) -> bool:
        return self.expires_on is None or now < self.expires_on


@dataclass
class Settings:
    params: dict[str, dict] = field(default_factory=dict)      # rule id -> parameter overrides
    disabled: set[str] = field(default_factory=set)            # rule ids with effect Disabled
    only: set[str] = field(default_factory=set)                # --rule filter (empty: all)
    exemptions: list[Exemption] = field(default_factory=list)
    resolve: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


# ------------------------------------------------------------------------------------------------ evaluation

def finding_id(rule_id: str, resource_id: str, vault_id: str = "") -> str:
    """Stable across runs: a hash of the rule id and the lower-cased resource id, and of the lower-cased vault id
    where one rule judges the resource once per vault (a VM registered in two vaults)."""
    key = resource_id.lower() + (f"|{vault_id.lower()}" if vault_id else "")
    return hashlib.sha256(f"{rule_id}|{key}".encode()).hexdigest()[:24]


def _series(value, index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.reindex(index)
    return pd.Series(value, index=index, dtype=object)




# Types that are not objects under the ids a row rests on but attach to scopes (a role assignment at a subscription
# covers the resources in it): an error record of these types reaches every row with an id inside its scope.
SCOPE_TYPES = {arm.ROLE_ASSIGNMENT.lower(), arm.ROLE_DEFINITION.lower(), arm.SUBSCRIPTION.lower(), arm.EVENT.lower()}
# Deps that stand for everything in their subscription (a provider row rests on all of its subscription's vaults).
_WHOLE_SCOPE_DEPS = {arm.PROVIDER.lower(), arm.SUBSCRIPTION.lower()}


def _dep_type(dep: str) -> str | None:
    """The lower-cased type a dependency id names (None: unknown, so any type may be behind it)."""
    if dep.startswith("zone:"):
        return None
    t = arm.type_from_id(dep)
    t = t.lower() if t else None
    return t if t in _KNOWN_LOWER else None


_KNOWN_LOWER = {t.lower() for t in arm.KNOWN_TYPES}
# What a VNet or subnet holds is known only from the objects that name it: an unreadable listing of endpoints or NICs
# in its scope leaves it unknown (a subnet is not "without backup endpoints" when they could not be listed).
_HELD_BY = {arm.VNET.lower(): {arm.PRIVATE_ENDPOINT.lower(), arm.NIC.lower()},
            arm.SUBNET.lower(): {arm.PRIVATE_ENDPOINT.lower(), arm.NIC.lower()}}


def _related(dep_type: str | None, rtypes: set[str]) -> bool:
    """An error record of ``rtypes`` can hide an object a dependency of ``dep_type`` stands for: the same type, a
    type listed inside it (A records of a zone, zone groups of an endpoint), the one it is listed in (the subnets of a
    VNet), or, for a VNet or subnet, the endpoints and NICs that would name it."""
    if dep_type is None or dep_type in _WHOLE_SCOPE_DEPS or rtypes & _HELD_BY.get(dep_type, set()):
        return True
    return any(dep_type == r or dep_type.startswith(r + "/") or r.startswith(dep_type + "/") for r in rtypes)


def _covered_by_errors(view: pd.DataFrame, errors: Sequence[dict], types: set[str]) -> pd.Series:
    """Message of the first error record that covers each row (None where none does).

    A record covers a row when its types meet ``types`` and its scope contains one of the row's ``deps`` ids (or
    lies inside one: an unreadable record in a zone the row uses) whose type the record covers (each dep's type is
    the one its id names: a 403 on a subscription's network reads does not reach a row through the id of a vault in
    that subscription). Records of scope-attached types (role assignments, subscriptions, events) reach every dep in
    their scope. A row whose verdict rests on a zone *name* not being found (``zone:<name>`` deps) is covered by a
    DNS error on a zone of that name, or on any broader scope."""
    out = pd.Series(None, index=view.index, dtype=object)
    if not errors or view.empty:
        return out
    deps = view["deps"].explode().dropna().astype(str)
    dep_types = None
    for rec in errors:
        rtypes = set(rec.get("types") or [])
        if rtypes == {"(unknown)"} or (rtypes and not rtypes & types):
            continue
        scope = rec.get("scope") or ""
        if scope:
            hit = (deps == scope) | deps.str.startswith(scope + "/") | pd.Series(
                [scope.startswith(x + "/") for x in deps], index=deps.index, dtype=bool)
            wanted = {t.lower() for t in (rtypes & types)}
            if wanted and not wanted & SCOPE_TYPES:  # only deps of a type the record covers
                if dep_types is None:
                    cache: dict[str, str | None] = {}
                    dep_types = [cache[d] if d in cache else cache.setdefault(d, _dep_type(d)) for d in deps.tolist()]
                ok = {t: _related(t, wanted) for t in set(dep_types)}
                hit &= pd.Series([ok[t] for t in dep_types], index=deps.index, dtype=bool)
            if not rtypes or rtypes & ABSENCE_TYPES:
                zone = arm.ZONE_IN_ID.search(scope)
                hit |= (deps == f"zone:{zone.group(1)}") if zone else deps.str.startswith("zone:")
            rows = hit[hit].index.unique()
        else:
            rows = view.index
        status = rec.get("status")
        msg = f"could not read {scope or 'the input'}" + (f" (HTTP {status})" if isinstance(status, int) else
                                                          f" ({status})" if status else "")
        if rec.get("message"):
            msg += f": {rec['message']}"
        out.loc[rows] = out.loc[rows].fillna(msg)
    return out


def evaluate_rule(rule: Rule, m: Model, settings: Settings) -> pd.DataFrame:
    view = m.view(rule.subject)
    if view.empty:
        return pd.DataFrame(columns=COLUMNS)
    params = {**rule.params, **settings.params.get(rule.id, {})}
    idx = view.index
    applies = _series(rule.applies(view, params), idx).fillna(False).astype(bool)
    violates = _series(rule.violates(view, params), idx).fillna(False).astype(bool)
    message = _series(rule.message(view, params), idx).astype(object)
    na = rule.not_applicable
    na_msg = _series(na(view, params) if callable(na) else na, idx)
    in_input = view["in_input"].fillna(False).astype(bool) if "in_input" in view else pd.Series(True, index=idx)
    malformed = view["malformed"].astype(bool)

    state = np.where(applies, np.where(violates, "NonCompliant", "Compliant"), "NotApplicable").astype(object)
    msg = np.where(applies, message, na_msg).astype(object)
    label = SUBJECT_LABELS[rule.subject]
    if not rule.judges_references:
        ref = ~in_input & ~malformed
        state = np.where(ref, "NotApplicable", state)
        msg = np.where(ref, view["not_in_input"].fillna(f"the {label} is not in the input") if "not_in_input" in view
                       else f"the {label} is not in the input", msg)
    else:
        ref = pd.Series(False, index=idx)

    for alternatives in rule.needs:
        if not any(t in m.present for t in alternatives):
            cand = applies if rule.candidates is None else _series(rule.candidates(view, params), idx).astype(bool)
            scope_rows = cand | (ref if rule.subject in REF_ERROR_VIEWS else False)
            what = " or ".join(TYPE_LABELS.get(t, t) for t in alternatives)
            state = np.where(scope_rows, "Error", state)
            msg = np.where(scope_rows, f"no {what} in the input", msg)

    if rule.error is not None:
        err = _series(rule.error(view, params), idx)
        hit = err.notna() & applies & (state != "Error")
        state = np.where(hit, "Error", state)
        msg = np.where(hit, err, msg)

    # unreadable data: Error where the row rests on it; and whatever the verdict where it could decide whether the
    # rule applies at all (a subnet whose endpoints could not be listed is not "without backup endpoints")
    if m.errors:
        covered = _covered_by_errors(view, m.errors, set(rule.reads or SUBJECT_READS[rule.subject]))
        decisive = _decisive_errors(rule, view, m.errors, params)
        hit = (covered.notna() & (applies | ~in_input | malformed)) | decisive.notna()
        covered = covered.fillna(decisive)
        state = np.where(hit, "Error", state)
        msg = np.where(hit, covered, msg)
        unread = malformed & covered.isna()
    else:  # no error records: nothing is covered
        unread = malformed
    state = np.where(unread, "Error", state)
    msg = np.where(unread, f"the {label} could not be read", msg)

    ids = _identity(m, rule.subject)
    order = ids["order"]
    state = state[order]
    # a remediation where there is something to remediate (or to read again); none on Compliant/NotApplicable rows
    template = rule.remediation
    remediation = [""] * len(state)
    # a template may also name view columns: {fixes[RULE-ID]} is the row's concrete fix (auditor.model.fixes)
    extra = {f: view[f].tolist() if f in view else [_NO_FIX] * len(view) for f in _template_columns(template)}
    for i in np.flatnonzero((state == "NonCompliant") | (state == "Error") | (state == "Exempt")).tolist():
        j = order[i]
        remediation[i] = template.format(resource_group=ids["rg"][i], resource_name=ids["name"][i],
                                         resource_id=ids["rid"][i], subscription_id=ids["sub"][i],
                                         **{f: v[j] for f, v in extra.items()})
    sha256, prefix = hashlib.sha256, f"{rule.id}|".encode()
    columns = ids["columns"]
    return pd.DataFrame({
        "finding_id": [sha256(prefix + r).hexdigest()[:24] for r in ids["key"]], "rule_id": rule.id,
        "title": rule.title, "severity": rule.severity, "compliance_state": state,
        "subscription_id": columns["sub"], "resource_group": columns["rg"],
        "resource_type": SUBJECT_TYPES[rule.subject], "resource_id": columns["rid"], "resource_name": columns["name"],
        "vault_id": columns["vault"], "message": msg[order], "remediation": remediation,
        "exemption_category": "", "exemption_justification": "", "management_group_path": columns["mg"],
        "policy_ids": ";".join(rule.policies), "mcsb_controls": ";".join(rule.mcsb),
    })




_IDENTITY_FIELDS = {"resource_group", "resource_name", "resource_id", "subscription_id"}
_NO_FIX = Fixes()


def _template_columns(template: str) -> list[str]:
    """The view columns a remediation template names beyond the identity fields (``{fixes[DNS-001]}`` -> fixes)."""
    names = {re.split(r"[.\[]", f, maxsplit=1)[0] for _, f, _, _ in string.Formatter().parse(template) if f}
    return sorted(names - _IDENTITY_FIELDS)


def _text(v) -> str:
    return "" if v is None or v != v else str(v)  # None or NaN: ""


def _decisive_errors(rule: Rule, view: pd.DataFrame, errors: Sequence[dict], params: dict) -> pd.Series:
    """The error covering each row through a type that could decide whether the rule applies at all (None where
    none does). Rows the rule says its subject alone decides (``coverage_decides`` False) are reached only through
    the subject's own types, not through what it covers."""
    decides = set(SUBJECT_DECIDES[rule.subject])
    decisive = _covered_by_errors(view, errors, decides)
    if rule.coverage_decides is not None and decisive.notna().any():
        own = _covered_by_errors(view, errors, decides - set(SUBJECT_COVERAGE.get(rule.subject, ())))
        rests = _series(rule.coverage_decides(view, params), view.index).fillna(True).astype(bool)
        decisive = decisive.where(rests, own)
    return decisive


def _identity(m: Model, subject: str) -> dict:
    """The identity columns of a view's rows, in output order (lower-cased id), computed once per view: as lists,
    as ready-made text columns (shared by the findings of every rule on the view) and the ids' finding-id keys."""
    cache = m.__dict__.setdefault("_identity", {})
    if subject not in cache:
        view = m.view(subject)
        rid = [r if isinstance(r, str) else str(r) for r in view["rid"].tolist()]
        lower = [r.lower() for r in rid]
        take = sorted(range(len(lower)), key=lower.__getitem__)  # stable
        order = np.array(take, dtype=np.intp)
        found = [arm.RG_IN_ID.search(r) for r in rid]
        rg = [g.group(1) if g else "" for g in found]
        sub = [_text(v) for v in view["sub"].tolist()]
        name = [_text(v) for v in view["name"].tolist()]
        vault_rid = m.vault_rids()
        vault = (view["vault_id"] if "vault_id" in view else view["id"]).tolist()
        vault = [vault_rid.get(v, v) if isinstance(v, str) else "" for v in vault]
        # management group path: of the subscription (or, for an assignment, of its scope)
        if "mg_path" in view:
            mg = [_text(v) for v in view["mg_path"].tolist()]
        else:
            paths = {s: m.mg_path("/subscriptions/" + s) if s else "" for s in set(sub)}
            mg = [paths[s] for s in sub]
        ids = {k: [v[i] for i in take] for k, v in (
            ("rid", rid), ("rg", rg), ("sub", sub), ("name", name), ("vault", vault), ("mg", mg))}
        # a resource judged once per vault (a VM registered in two vaults) keys on the vault too: one finding_id each
        seen = Counter(lower)
        key = [lower[i] + "|" + vault[i].lower() if seen[lower[i]] > 1 else lower[i] for i in take]
        cache[subject] = {"order": order, **ids, "key": [k.encode() for k in key],
                          "columns": {k: pd.array(v, dtype="str") for k, v in ids.items()}}
    return cache[subject]


def apply_exemptions(findings: pd.DataFrame, exemptions: Sequence[Exemption], now: datetime) -> pd.DataFrame:
    if findings.empty:
        return findings
    rid = findings["resource_id"].str.lower()
    for ex in exemptions:
        if not ex.active(now):
            continue
        scope = ex.scope.lower().rstrip("/")
        hit = (findings["compliance_state"] == "NonCompliant") & findings["rule_id"].isin(ex.rules)
        hit &= (rid == scope) | rid.str.startswith(scope + "/") | (scope == "")
        findings.loc[hit, "compliance_state"] = "Exempt"
        findings.loc[hit, "exemption_category"] = ex.category
        findings.loc[hit, "exemption_justification"] = ex.justification
        findings.loc[hit, "message"] = findings.loc[hit, "message"] + f" [exempt: {ex.category}"\
            + (f", {ex.name}" if ex.name else "") + "]"
    return findings


def evaluate(m: Model, rules: Sequence[Rule], settings: Settings) -> pd.DataFrame:
    """Every rule over its view; rows come out sorted (severity, rule id, resource id) without a global sort:
    each rule's rows are in resource-id order and the rules are taken in (severity, id) order."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    frames = []
    for rule in sorted(rules, key=lambda r: (rank[r.severity], r.id)):
        if rule.id in settings.disabled or (settings.only and rule.id not in settings.only):
            continue
        if rule.only_with == "resolve" and not settings.resolve:
            continue
        frames.append(evaluate_rule(rule, m, settings))
    frames = [f for f in frames if len(f)]
    findings = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    if settings.exemptions:
        findings = apply_exemptions(findings, settings.exemptions, settings.now)
    return findings


def summarize(findings: pd.DataFrame) -> dict:
    states = findings["compliance_state"].value_counts().to_dict() if len(findings) else {}
    counts = {s: int(states.get(s, 0)) for s in ("Compliant", "NonCompliant", "Exempt", "Error", "NotApplicable")}
    nc = findings[findings["compliance_state"] == "NonCompliant"]
    by_sev = {s: int((nc["severity"] == s).sum()) for s in SEVERITIES}
    denom = counts["Compliant"] + counts["Exempt"] + counts["NonCompliant"] + counts["Error"]
    pct = round(100.0 * (counts["Compliant"] + counts["Exempt"]) / denom, 1) if denom else None
    worst = (nc.groupby(["rule_id", "severity"]).size().reset_index(name="n")
             .assign(o=lambda d: d["severity"].map({s: i for i, s in enumerate(SEVERITIES)}))
             .sort_values(["o", "n"], ascending=[True, False]).head(5))
    return {"evaluations": int(len(findings)), "by_state": counts, "noncompliant_by_severity": by_sev,
            "compliance_pct": pct,
            "worst_rules": [{"rule_id": r, "severity": s, "noncompliant": int(n)}
                            for r, s, n in zip(worst["rule_id"], worst["severity"], worst["n"])]}


def apply_baseline(findings: pd.DataFrame, baseline_rows: list[dict]) -> tuple[pd.DataFrame, list[dict]]:
    """Mark NonCompliant rows new/unchanged against a previous findings.json; list the resolved ones."""
    old = {(str(r.get("rule_id")), str(r.get("resource_id", "")).lower()): r for r in baseline_rows
           if r.get("compliance_state") == "NonCompliant"}
    key = list(zip(findings["rule_id"], findings["resource_id"].str.lower()))
    nc = findings["compliance_state"] == "NonCompliant"
    findings["change"] = [("unchanged" if k in old else "new") if n else "" for k, n in zip(key, nc)]
    still = {k for k, n in zip(key, nc) if n}
    resolved = [r for k, r in old.items() if k not in still]
    # "change" keeps the position it had before the framework columns existed; they stay last
    findings = findings[[c for c in findings.columns if c not in FRAMEWORK_COLUMNS]
                        + [c for c in FRAMEWORK_COLUMNS if c in findings.columns]]
    return findings, resolved
