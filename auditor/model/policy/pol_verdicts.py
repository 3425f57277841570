"""The POL rules' verdicts over the assignments view (once per view and parameter set), and what the outputs
take from them: the PEs POL-001 explains, the report's assignments table, the management-group filter."""
from __future__ import annotations

import json

import pandas as pd

from ... import arm, geo
from .parameters import DENY, DINE, MODIFY, ZONE_PARAM


def _names(ids, limit: int = 5) -> str:
    names = [i.rsplit("/", 1)[-1] for i in ids]
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


def _who(r) -> str:
    dn = r["display_name"] if isinstance(r["display_name"], str) and r["display_name"] else ""
    return f"assignment {r['name']}" + (f" ('{dn}')" if dn and dn != r["name"] else "") + f" at {r['scope']}"


def _gate(r, guids: tuple[str, ...], label: str):
    """The members applying one of ``guids``, or a NotApplicable message."""
    if r["set_missing"]:
        return None, (f"{_who(r)}: set definition {r['set_id']} not in the input (export it: az policy set-definition "
                      "show)")
    ms = [m for m in r["members"] if m.guid in guids]
    if not ms:
        return None, f"{_who(r)} does not apply {label}"
    if not r["enforced"]:
        return None, f"{_who(r)} is not enforced (enforcementMode={r['enforcement']})"
    return ms, ""


def _effect_text(ms) -> str:
    return "; ".join(f"effect {m.effect or '(unknown)'} ({m.effect_from}){m.label}" for m in ms)


def _rows(view: pd.DataFrame):
    """(index label, row as a dict) of each assignment: the verdicts walk assignments and their set members, one
    assignment at a time (tens of rows; a dict per row, not a Series as iterrows builds)."""
    return zip(view.index, view.to_dict("records"))


class _Verdicts:
    """Per-row state ('na', 'ok', 'nc'), message and affected vaults of one POL rule, and whether the state rests on
    the private endpoints and vaults the assignment covers (False: decided by the assignment and its definitions
    alone, so a failed endpoint or vault listing cannot change it)."""

    def __init__(self, index):
        self.state = pd.Series("na", index=index, dtype=object)
        self.message = pd.Series("", index=index, dtype=object)
        self.vaults = pd.Series([()] * len(index), index=index, dtype=object)
        self.by_coverage = pd.Series(True, index=index, dtype=bool)

    def set(self, i, state: str, message: str, vaults=(), by_coverage: bool = True) -> None:
        self.state.at[i] = state
        self.message.at[i] = message
        self.vaults.at[i] = tuple(vaults)
        self.by_coverage.at[i] = by_coverage


def pol001(view: pd.DataFrame, params: dict) -> _Verdicts:
    extra = params.get("geo_codes") or {}
    out = _Verdicts(view.index)
    for i, r in _rows(view):
        regions = dict(r["pe_regions"])
        ms, why = _gate(r, (arm.POLICY_DNS_BACKUP,), f"af783da1 (backup private DNS zones, {ZONE_PARAM})")
        if ms is None:
            out.set(i, "na", why, by_coverage=False)
            continue
        dine = [x for x in ms if (x.effect or "").lower() == DINE]
        if not dine:
            out.set(i, "na", f"{_who(r)} applies af783da1 with {_effect_text(ms)}: it deploys nothing",
                    by_coverage=False)
            continue
        pes = r["covered_pes"]
        if not pes:
            out.set(i, "na", f"{_who(r)} covers no private endpoint af783da1 acts on (automatic AzureBackup "
                             "connection to a vault)")
            continue
        broken, vaults, unknown, fine, zones, undecided = [], set(), set(), [], [], []
        for x in dine:
            value, how = x.param(ZONE_PARAM)
            if how == "expression":
                undecided.append(f"{ZONE_PARAM}={value}{x.label} is an expression the auditor does not evaluate")
                continue
            zone = value.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(value, str) and value else ""
            zm = arm.BACKUP_ZONE.match(zone)
            shown = f"{ZONE_PARAM}={zone or '(absent)'} ({how}){x.label}"
            if not zm:
                zones.append(f"{shown} is not a privatelink.<geo>.backup zone")
                for p in pes:
                    broken.append(f"{p.rsplit('/', 1)[-1]}")
                    vaults.update(v for v, _ in regions.get(p, ()))
                continue
            zgeo = zm.group(1)
            wrong = []
            for p in pes:
                for v, region in regions.get(p, ()):
                    g = geo.geo_of(region, extra)
                    if g is None:
                        unknown.add(str(region or "(no location)"))
                    elif g != zgeo:
                        wrong.append(f"{p.rsplit('/', 1)[-1]} (vault {(v or '').rsplit('/', 1)[-1]}, {region} = {g})")
                        vaults.add(v)
                    else:
                        fine.append(p)
            if wrong:
                zones.append(f"{shown} is geo {zgeo}")
                broken.extend(wrong)
        if broken:
            out.set(i, "nc", f"{_who(r)} applies af783da1 (DeployIfNotExists): {'; '.join(zones)}; but it covers "
                             f"private endpoint(s) of vaults in other regions: {', '.join(sorted(set(broken))[:10])}"
                             + (f" and {len(set(broken)) - 10} more" if len(set(broken)) > 10 else "")
                             + f"; affected vaults: {_names(sorted(v for v in vaults if v), 10)}",
                    sorted(v for v in vaults if v))
        elif undecided:
            out.set(i, "na", f"{_who(r)}: " + "; ".join(undecided))
        elif not fine:
            out.set(i, "na", f"{_who(r)}: no covered private endpoint has a known geo: region(s) "
                             f"{', '.join(sorted(unknown))} not in the geo table (add them with the geo_codes "
                             "parameter)")
        else:
            shown = "; ".join(f"{ZONE_PARAM}={x.param(ZONE_PARAM)[0].rstrip('/').rsplit('/', 1)[-1]}{x.label}"
                              for x in dine)
            out.set(i, "ok", f"{_who(r)}: {shown} matches the region of the {len(set(fine))} covered private "
                             "endpoint(s)" + (f"; region(s) {', '.join(sorted(unknown))} not in the geo table"
                                              if unknown else ""))
    return out


def _backup_dns_cover(view: pd.DataFrame, definitions) -> tuple[set, dict]:
    """PEs covered by an enforced DeployIfNotExists assignment of af783da1 (or of ``definitions``); and, per PE,
    the enforced assignments whose set is not in the input (they might cover it)."""
    wanted = {arm.POLICY_DNS_BACKUP} | {str(d).lower().rstrip("/").rsplit("/", 1)[-1] for d in definitions or ()}
    covered, maybe = set(), {}
    for r in view.to_dict("records"):
        if not r["enforced"]:
            continue
        if r["set_missing"]:
            for p in r["covered_pes"]:
                maybe.setdefault(p, []).append(r["name"])
        elif any(x.guid in wanted and (x.effect or DINE).lower() == DINE for x in r["members"]):
            covered.update(r["covered_pes"])
    return covered, maybe


def pol002(view: pd.DataFrame, params: dict) -> _Verdicts:
    out = _Verdicts(view.index)
    covered, maybe = _backup_dns_cover(view, params.get("backup_dns_definitions"))
    for i, r in _rows(view):
        pe_vaults = {p: [v for v, _ in vs] for p, vs in r["pe_regions"]}
        ms, why = _gate(r, (arm.POLICY_DNS_ASR,), "942bd215 (Site Recovery private DNS zones)")
        if ms is None:
            out.set(i, "na", why, by_coverage=False)
            continue
        if not any((x.effect or "").lower() == DINE for x in ms):
            out.set(i, "na", f"{_who(r)} applies 942bd215 with {_effect_text(ms)}: it deploys nothing",
                    by_coverage=False)
            continue
        pes = r["covered_pes"]
        if not pes:
            out.set(i, "na", f"{_who(r)} covers no backup private endpoint (automatic AzureBackup connection)")
            continue
        bare = [p for p in pes if p not in covered]
        sure = [p for p in bare if p not in maybe]
        if sure:
            vaults = sorted({v for p in sure for v in pe_vaults.get(p, ())})
            out.set(i, "nc", f"{_who(r)} applies 942bd215 (DeployIfNotExists), whose if counts only groupIds "
                             f"AzureSiteRecovery, and no enforced DeployIfNotExists assignment of af783da1 covers "
                             f"{len(sure)} backup private endpoint(s) under it: {_names(sure, 10)}; their vaults: "
                             f"{_names(vaults, 10)}", vaults)
        elif bare:
            names = sorted({n for p in bare for n in maybe[p]})
            out.set(i, "na", f"{_who(r)}: whether {len(bare)} backup private endpoint(s) get backup DNS records "
                             f"depends on assignment(s) {', '.join(names)}, whose set definition is not in the input")
        else:
            out.set(i, "ok", f"{_who(r)} applies 942bd215; the {len(pes)} backup private endpoint(s) under it are "
                             "also covered by an enforced DeployIfNotExists assignment of af783da1")
    return out


def pol003(view: pd.DataFrame, params: dict) -> _Verdicts:
    out = _Verdicts(view.index)
    for i, r in _rows(view):
        ms, why = _gate(r, (arm.POLICY_PNA_AUDIT_DENY, arm.POLICY_PNA_MODIFY), "9ebbbba3 or 04726aae (vault public "
                                                                              "network access)")
        if ms is None:
            out.set(i, "na", why, by_coverage=False)
            continue
        acting = [x for x in ms if (x.guid, (x.effect or "").lower()) in (
            (arm.POLICY_PNA_AUDIT_DENY, DENY), (arm.POLICY_PNA_MODIFY, MODIFY))]
        if not acting:
            out.set(i, "na", f"{_who(r)} applies {_effect_text(ms)}: it neither denies nor modifies public access",
                    by_coverage=False)
            continue
        what = " and ".join(f"{x.guid[:8]} with effect {x.effect} ({x.effect_from}){x.label}" for x in acting)
        no_pe = r["unapproved_vaults"]
        clash = r["clashes"] if any(x.effect.lower() == DENY for x in acting) else ()
        parts = []
        if no_pe:
            parts.append(f"covers {len(no_pe)} vault(s) with no approved backup private endpoint connection, whose "
                         f"restores fail once public access is disabled: {_names(no_pe, 10)}")
        if clash:
            parts.append("denies the vaults that DeployIfNotExists assignment(s) " + ", ".join(clash)
                         + " create with public network access enabled: their remediation fails")
        if parts:
            out.set(i, "nc", f"{_who(r)} applies {what}; it " + "; and it ".join(parts), no_pe)
        else:
            out.set(i, "ok", f"{_who(r)} applies {what}; the {len(r['covered_vaults'])} vault(s) it covers have an "
                             "approved backup private endpoint connection and no vault-creating DeployIfNotExists "
                             "assignment is nested with it")
    return out


_CACHE: dict = {}


def verdicts(rule_id: str, view: pd.DataFrame, params: dict) -> _Verdicts:
    """One POL rule's verdicts over the view, computed once per view and parameters."""
    if view.empty:
        return _Verdicts(view.index)
    key = (rule_id, int(view["view_token"].iloc[0]), json.dumps(params, sort_keys=True, default=str))
    if key not in _CACHE:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = {"POL-001": pol001, "POL-002": pol002, "POL-003": pol003}[rule_id](view, params)
    return _CACHE[key]


def explained_pes(m) -> dict[str, str]:
    """PE id -> ' (see POL-001 <assignment>)' for the private endpoints a POL-001 NonCompliant assignment
    configures with another region's zone (default geo table): DNS-001/DNS-004 add it to their messages."""
    view = m.assignments
    if view.empty:
        return {}
    v = verdicts("POL-001", view, {})
    out: dict[str, list] = {}
    for i in v.state.index[v.state == "nc"]:
        r = view.loc[i]
        vs = set(v.vaults.at[i])
        for p, pv in r["pe_regions"]:
            if any(x in vs for x, _ in pv):
                out.setdefault(p, []).append(r["name"])
    return {p: f" (see POL-001 {', '.join(sorted(set(n)))})" for p, n in out.items()}


def report_rows(m, findings: pd.DataFrame, params: dict | None = None) -> list[dict]:
    """The HTML report's assignments table: each assignment with a NonCompliant POL finding, its rules and the
    vaults it breaks."""
    view = m.assignments
    if view.empty or findings.empty:
        return []
    nc = findings[(findings["rule_id"].str.startswith("POL-")) & (findings["compliance_state"] == "NonCompliant")]
    if nc.empty:
        return []
    params = params or {}
    by_id = {i: r for i, r in zip(view["id"], view.to_dict("records"))}
    rows: dict[str, dict] = {}
    for rule_id, rid, msg in zip(nc["rule_id"], nc["resource_id"], nc["message"]):
        r = by_id.get(rid.lower())
        if r is None:
            continue
        v = verdicts(rule_id, view, params.get(rule_id, {}))
        idx = view.index[view["id"] == rid.lower()][0]
        row = rows.setdefault(rid.lower(), {"name": r["name"], "id": r["rid"], "scope": r["scope"],
                                            "mg_path": r["mg_path"] or "", "rules": [], "vaults": set(),
                                            "messages": []})
        row["rules"].append(rule_id)
        row["vaults"].update(v.vaults.at[idx])
        row["messages"].append(f"{rule_id}: {msg}")
    rids = m.vault_rids()
    return [{**r, "vaults": sorted(rids.get(v, v) for v in r["vaults"])} for _, r in sorted(rows.items())]


def under_groups(m, groups: list[str], resource_ids: pd.Series) -> pd.Series:
    """Which findings lie under the management groups (names): resources of the subscriptions below them, and
    policy assignments whose scope is nested with one of the groups (above it: inherited; below it: its own)."""
    h = m.hierarchy
    scopes = [arm.MANAGEMENT_GROUP_PREFIX + g.lower() for g in groups]
    view = m.assignments
    a_scope = dict(zip(view["id"], view["scope"])) if not view.empty else {}
    keep = []
    for rid in resource_ids.astype(str).str.lower().tolist():
        scope = a_scope.get(rid)
        if scope is not None:
            keep.append(any(h.covers(g, scope) or (scope.startswith(arm.MANAGEMENT_GROUP_PREFIX) and h.covers(scope, g))
                            for g in scopes))
        else:
            keep.append(any(h.covers(g, rid) for g in scopes))
    return pd.Series(keep, index=resource_ids.index, dtype=bool)
