"""The policy view: one row per Azure Policy assignment, with what the POL rules judge it by.

An assignment names a policy definition or a set (initiative). For each *member* (the definition itself, or each of
the set's ``policyDefinitions[]``) the view resolves the effect and the parameters the rules read, as Azure Policy
does: an ``overrides[]`` item of kind ``policyEffect`` whose ``policyDefinitionReferenceId`` selectors match the
member (or that has none) wins for the effect; else the member's parameter value, where ``[parameters('Q')]`` is the
assignment's ``Q`` or else the set's default of ``Q``; else the definition's default (built-ins: the defaults in
:data:`auditor.arm.BUILTIN_POLICY_DEFAULTS`; custom definitions: their own, when in the input). A set that is not in
the input leaves the assignment undecided (``set_missing``): the POL rules say "set definition not in the input".

An assignment *covers* a resource when its scope covers the resource id (management-group scopes through the
management group hierarchy when the input holds the group, else everything), no ``notScopes`` entry covers it, and
the resource's location passes every ``resourceSelectors[].selectors[]`` of kind ``resourceLocation``.

The rules' verdicts that depend on their parameters (``geo_codes``, ``backup_dns_definitions``) are computed by
:func:`verdicts`, once per view and parameter set.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass

import pandas as pd

from .. import arm, geo

# The view's columns and what each means.
COLUMNS = {
    "id": "lower-cased assignment id",
    "rid": "the assignment id as ARM spelled it",
    "name": "the assignment's name (last id segment)",
    "display_name": "properties.displayName",
    "sub": "subscription of the assignment id ('' at management-group scope)",
    "rg": "resource group of the assignment id ('' above resource-group scope)",
    "scope": "properties.scope (else the id's scope), lower-cased",
    "definition_id": "properties.policyDefinitionId, lower-cased: a policy definition or a set",
    "set_id": "the set definition id when the assignment names a set, else None",
    "set_missing": "the assignment names a set that is not in the input (its members are unknown)",
    "enforced": "enforcementMode absent or Default",
    "enforcement": "properties.enforcementMode as given",
    "members": "tuple of Member: the definitions applied, each with its resolved effect and parameters",
    "not_scopes": "properties.notScopes, lower-cased",
    "locations": "resourceSelectors of kind resourceLocation: (op, regions) pairs",
    "covered_pes": "ids of the private endpoints in the input that af783da1 acts on and the assignment covers",
    "covered_vaults": "ids of the vaults in the input the assignment covers",
    "pe_regions": "per covered PE: (PE id, ((vault id, region), ...)): the vaults af783da1 configures it for, each "
                  "with the vault's location (the PE's when the vault is not in the input)",
    "unapproved_vaults": "covered vaults without an approved backup PE connection (RSV-008's test)",
    "clashes": "enforced DeployIfNotExists assignments of the vault-creating built-ins nested with this one (scope "
               "covers or is covered, inner scope not in notScopes): 'name (guid at scope)' texts",
    "mg_path": "management group path of the assignment's scope (root first, '/'-separated; '' when unknown)",
    "vault_id": "the lowest vault id among the vaults the assignment covers",
    "deps": "ids the verdicts rest on: the assignment, its set, the management groups of its scope and notScopes, "
            "its subscription(s), covered PEs and vaults",
    "in_input": "the assignment object is in the input",
    "malformed": "the assignment object could not be read",
    "view_token": "identifies this view (verdicts are cached per view and parameters)",
    "params": "properties.parameters: {name: value}",
    "overrides": "properties.overrides: (kind, value, ((selector kind, in|notin, values), ...)) tuples",
}

PARAM_REF = re.compile(r"^\[\s*parameters\(\s*'([^']+)'\s*\)\s*\]$", re.I)
DINE, DENY, MODIFY = "deployifnotexists", "deny", "modify"
ZONE_PARAM = "privateDnsZone-Backup"


@dataclass(frozen=True)
class Member:
    """One definition an assignment applies, with the effect and parameters it runs with."""
    definition_id: str               # lower-cased
    guid: str                        # last segment of the definition id, lower-cased
    ref: str | None                  # policyDefinitionReferenceId within the set (None: assigned directly)
    effect: str | None               # resolved, as given (compare case-insensitively); None: unknown
    effect_from: str                 # where the effect came from (override, assignment parameter, default ...)
    params: tuple                    # ((name, value, where it came from), ...) of the parameters the rules read

    def param(self, name: str) -> tuple:
        for n, v, how in self.params:
            if n.lower() == name.lower():
                return v, how
        return None, "absent"

    @property
    def label(self) -> str:
        return f" (set member {self.ref})" if self.ref else ""


# ------------------------------------------------------------------------------------------- hierarchy and cover

class Hierarchy:
    """Management groups and subscriptions: child -> parent edges from the input, and "covers" over them."""

    def __init__(self, edges: list[tuple[str, str]], nodes: list[str]):
        self.parent: dict[str, str] = {}
        for child, parent in edges:
            if isinstance(child, str) and isinstance(parent, str) and child != parent:
                self.parent.setdefault(child, parent)
        self.known = {n for n in nodes if isinstance(n, str)} | {
            x for pair in self.parent.items() for x in pair if x.startswith(arm.MANAGEMENT_GROUP_PREFIX)}

    def ancestors(self, node: str) -> list[str]:
        cache = self.__dict__.setdefault("_ancestor_cache", {})
        if node not in cache:
            cache[node] = self._ancestors(node)
        return cache[node]

    def _ancestors(self, node: str) -> list[str]:
        out, seen = [], {node}
        while node in self.parent and len(out) < 20:
            node = self.parent[node]
            if node in seen:
                break
            seen.add(node)
            out.append(node)
        return out

    @staticmethod
    def group_of(scope: str) -> str:
        """The management group id a management-group scope (or an id under one) names."""
        rest = scope[len(arm.MANAGEMENT_GROUP_PREFIX):].split("/", 1)[0]
        return arm.MANAGEMENT_GROUP_PREFIX + rest

    def covers(self, scope: str, rid: str) -> bool:
        """RULES' "covers", both lower-cased: a management-group scope covers what lies below the group when the
        input holds the group, everything when it does not."""
        if scope in ("", "/"):
            return True
        if scope.startswith(arm.MANAGEMENT_GROUP_PREFIX):
            g = self.group_of(scope)
            if g not in self.known:
                return True
            if rid.startswith(arm.MANAGEMENT_GROUP_PREFIX):
                node = self.group_of(rid)
                return node == g or g in self.ancestors(node)
            sub = arm.subscription_of(rid)
            return bool(sub) and g in self.ancestors("/subscriptions/" + sub)
        if rid.startswith(arm.MANAGEMENT_GROUP_PREFIX):
            return False
        return rid == scope or rid.startswith(scope + "/")

    def path(self, node: str) -> str:
        """Management group path of a subscription or group id, root first ('' when the input holds none)."""
        if node.startswith(arm.MANAGEMENT_GROUP_PREFIX):
            node = self.group_of(node)
            chain = [node, *self.ancestors(node)] if node in self.known else []
        else:
            sub = arm.subscription_of(node)
            chain = self.ancestors("/subscriptions/" + sub) if sub else []
        return "/".join(g.rsplit("/", 1)[-1] for g in reversed(chain))


def location_passes(locations: tuple, location) -> bool:
    """A resource's location passes every resourceLocation selector ((op, regions) pairs)."""
    key = geo.region_key(location)
    for op, regions in locations:
        if op == "in" and key not in regions:
            return False
        if op == "notin" and key and key in regions:
            return False
    return True


def assignment_covers(h: Hierarchy, scope: str, not_scopes: tuple, locations: tuple, rid: str, location) -> bool:
    return (h.covers(scope, rid) and not any(h.covers(ns, rid) for ns in not_scopes)
            and location_passes(locations, location))


# ------------------------------------------------------------------------------------------- parameters

def _lower_keys(d) -> dict:
    return {str(k).lower(): v for k, v in d.items()} if isinstance(d, dict) else {}


def _resolve(name: str, member_params: dict | None, a_params: dict, set_defaults: dict, def_defaults: dict):
    """(value, where it came from) of parameter ``name`` of a member (RULES' "Parameter P of X under A")."""
    key = name.lower()
    if member_params is None:  # assigned directly
        if key in a_params:
            return a_params[key], "assignment"
    elif key in member_params:
        v = member_params[key]
        m = PARAM_REF.match(v) if isinstance(v, str) else None
        if m:
            q = m.group(1).lower()
            if q in a_params:
                return a_params[q], f"assignment parameter {m.group(1)}"
            if q in set_defaults:
                return set_defaults[q], f"set default of {m.group(1)}"
            if key in def_defaults:
                return def_defaults[key], "definition default"
            return None, f"set parameter {m.group(1)} has no value"
        if isinstance(v, str) and v.startswith("[") and not v.startswith("[["):
            return v, "expression"
        return v, "set member"
    if key in def_defaults:
        return def_defaults[key], "definition default"
    return None, "absent"


def _effect(ref: str | None, overrides: tuple, member_params, a_params, set_defaults, def_defaults,
            def_effect) -> tuple:
    for kind, value, selectors in overrides:
        if kind != "policyeffect" or value is None:
            continue
        ok = True
        for skind, op, values in selectors:
            if skind != "policydefinitionreferenceid":
                continue
            hit = (ref or "").lower() in values
            ok = ok and (hit if op == "in" else not hit)
        if ok:
            return value, "override"
    expr = def_effect if isinstance(def_effect, str) else "[parameters('effect')]"
    m = PARAM_REF.match(expr)
    if not m:
        return expr, "definition"
    v, how = _resolve(m.group(1), member_params, a_params, set_defaults, def_defaults)
    if not isinstance(v, str) or how == "expression":
        return None, how
    return v, how


# ------------------------------------------------------------------------------------------- the view

_TOKENS = itertools.count(1)


def _defaults(def_id: str, policy_defs: dict) -> tuple[dict, str | None]:
    known = policy_defs.get(def_id)
    if known is not None:
        return _lower_keys(known[0]), known[1]
    return _lower_keys(arm.BUILTIN_POLICY_DEFAULTS.get(def_id.rsplit("/", 1)[-1], {})), None


def _members(row: dict, sets: dict, policy_defs: dict) -> tuple[tuple[Member, ...], str | None, bool]:
    """(members, set id or None, set missing) of one assignment record."""
    did = row["definition_id"]
    a_params = _lower_keys(row["params"])
    wanted = (ZONE_PARAM,)
    if "/policysetdefinitions/" not in did:
        dd, de = _defaults(did, policy_defs)
        eff = _effect(None, row["overrides"], None, a_params, {}, dd, de)
        params = tuple((n, *_resolve(n, None, a_params, {}, dd)) for n in wanted)
        return (Member(did, did.rsplit("/", 1)[-1], None, eff[0], eff[1], params),), None, False
    s = sets.get(did)
    if s is None:
        return (), did, True
    set_defaults, members = s
    out = []
    for ref, mid, mparams in members:
        mp = _lower_keys(mparams)
        dd, de = _defaults(mid, policy_defs)
        eff = _effect(ref, row["overrides"], mp, a_params, set_defaults, dd, de)
        params = tuple((n, *_resolve(n, mp, a_params, set_defaults, dd)) for n in wanted)
        out.append(Member(mid, mid.rsplit("/", 1)[-1], ref, eff[0], eff[1], params))
    return tuple(out), did, False


def approved_vaults(F) -> set[str]:
    """Vaults with an approved backup PE connection: vault side AzureBackup + Approved + Succeeded; or, for a PE
    the vault side does not list, PE side AzureBackup + Approved."""
    conns, cp = F["conns"], F["conn_prov"]
    prov = {(v, p): s for v, p, s in zip(cp["vault_id"].tolist(), cp["pe_id"].tolist(), cp["prov"].tolist())}
    out, listed = set(), set()
    rows = list(zip(*(conns[c].tolist() for c in ("vault_id", "pe_id", "groups", "status", "side"))))
    for v, p, groups, status, side in rows:
        if side == "vault":
            listed.add((v, p))
            if arm.BACKUP in str(groups).split(",") and status == "approved" and prov.get((v, p)) == "succeeded":
                out.add(v)
    for v, p, groups, status, side in rows:
        if side == "pe" and (v, p) not in listed and arm.BACKUP in str(groups).split(",") and status == "approved":
            out.add(v)
    return out


def _clashes(rows: list[dict], h: Hierarchy) -> None:
    """POL-003 (b): for each assignment, the enforced DeployIfNotExists assignments of the vault-creating built-ins
    whose scope and its own are nested, the inner one not excluded by its notScopes."""
    creators = [(b, next(x.guid for x in b["members"] if x.guid in arm.VAULT_CREATING_DINES)) for b in rows
                if b["enforced"] and any(x.guid in arm.VAULT_CREATING_DINES and (x.effect or "").lower() == DINE
                                         for x in b["members"])]
    for r in rows:
        out = []
        for b, g in creators:
            if h.covers(r["scope"], b["scope"]):
                inner = b["scope"]
            elif h.covers(b["scope"], r["scope"]):
                inner = r["scope"]
            else:
                continue
            if not any(h.covers(ns, inner) for ns in r["not_scopes"]):
                out.append(f"{b['name']} ({g[:8]} at {b['scope']})")
        r["clashes"] = tuple(sorted(out))


def build(F, vaults: pd.DataFrame, ep: pd.DataFrame, bad: dict, subscriptions) -> tuple[pd.DataFrame, Hierarchy]:
    """The assignments view (columns: :data:`COLUMNS`) and the management group hierarchy."""
    edges = F["mg_edges"]
    h = Hierarchy(list(zip(edges["child"].tolist(), edges["parent"].tolist())), F["mg_nodes"]["id"].tolist())
    a = F["assignments"]
    sd = F["set_defs"]
    sets = {i: (_lower_keys(d), m) for i, d, m in zip(sd["id"], sd["param_defaults"], sd["members"])}
    pdefs = {i: (d, e) for i, d, e in zip(F["policy_defs"]["id"], F["policy_defs"]["param_defaults"],
                                          F["policy_defs"]["effect"])}
    # what the assignments may cover: PEs af783da1 acts on (with their region), and vaults
    pp = F["pe_policy"].drop_duplicates("pe_id")
    dine_pes = [(i, loc) for i, loc, vs in zip(pp["pe_id"], pp["location"], pp["dine_vaults"]) if vs]
    vloc = dict(zip(vaults["id"].tolist(), vaults["location"].tolist()))
    regions = {i: tuple((v, vloc[v] if isinstance(vloc.get(v), str) and vloc[v] else loc) for v in dict.fromkeys(vs))
               for i, loc, vs in zip(pp["pe_id"], pp["location"], pp["dine_vaults"]) if vs}
    approved = approved_vaults(F)
    vin = vaults[vaults["in_input"] & ~vaults["malformed"]]
    vault_rows = list(zip(vin["id"].tolist(), vin["location"].tolist()))
    stub_vaults = vaults.loc[vaults["malformed"], "id"].tolist()
    subs = sorted({s for s in subscriptions if s})

    rows = []
    for rec in a.to_dict("records"):
        members, set_id, missing = _members(rec, sets, pdefs)
        scope, ns, locs = rec["scope"], rec["not_scopes"], rec["locations"]
        cov_pes = tuple(sorted(i for i, loc in dine_pes if assignment_covers(h, scope, ns, locs, i, loc)))
        cov_vaults = tuple(sorted(i for i, loc in vault_rows if assignment_covers(h, scope, ns, locs, i, loc)))
        stubs = tuple(i for i in stub_vaults if h.covers(scope, i))
        if scope.startswith(arm.MANAGEMENT_GROUP_PREFIX) or scope in ("", "/"):
            cov_subs = tuple("/subscriptions/" + s for s in subs if h.covers(scope, "/subscriptions/" + s))
        else:
            cov_subs = (scope,)
        # the management groups its scope and notScopes name: a hierarchy that could not be read leaves it undecided
        groups = tuple(dict.fromkeys(Hierarchy.group_of(x) for x in (scope, *ns)
                                     if x.startswith(arm.MANAGEMENT_GROUP_PREFIX)))
        mode = rec["enforcement"]
        rows.append({**rec, "members": members, "set_id": set_id, "set_missing": missing,
                     "enforced": not isinstance(mode, str) or mode.lower() == "default",
                     "covered_pes": cov_pes, "covered_vaults": cov_vaults,
                     "pe_regions": tuple((p, regions.get(p, ())) for p in cov_pes),
                     "unapproved_vaults": tuple(v for v in cov_vaults if v not in approved),
                     "vault_id": cov_vaults[0] if cov_vaults else None, "mg_path": h.path(scope),
                     "deps": (rec["id"],) + ((set_id,) if set_id else ()) + groups + cov_subs + cov_pes + cov_vaults
                     + stubs,
                     "in_input": True, "malformed": False})
    _clashes(rows, h)
    for i in sorted(bad.get(arm.POLICY_ASSIGNMENT, set()) - {r["id"] for r in rows}):
        rows.append({"id": i, "rid": i, "name": i.rsplit("/", 1)[-1], "scope": "", "members": (), "deps": (i,),
                     "in_input": False, "malformed": True, "set_missing": False, "enforced": False,
                     "covered_pes": (), "covered_vaults": (), "pe_regions": (), "unapproved_vaults": (),
                     "clashes": ()})
    view = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("sub", "rg", "view_token")])
    ids = view["id"].astype(str).tolist()
    sub_rg = [arm.sub_and_group(i) for i in ids]
    view["sub"] = pd.Series([s for s, _ in sub_rg], index=view.index, dtype=object)
    view["rg"] = pd.Series([g for _, g in sub_rg], index=view.index, dtype=object)
    view["view_token"] = next(_TOKENS)
    for c in ("in_input", "malformed", "set_missing", "enforced"):
        view[c] = view[c].fillna(False).astype(bool)
    return view, h


# ------------------------------------------------------------------------------------------- verdicts

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


class _Verdicts:
    """Per-row state ('na', 'ok', 'nc'), message and affected vaults of one POL rule."""

    def __init__(self, index):
        self.state = pd.Series("na", index=index, dtype=object)
        self.message = pd.Series("", index=index, dtype=object)
        self.vaults = pd.Series([()] * len(index), index=index, dtype=object)

    def set(self, i, state: str, message: str, vaults=()) -> None:
        self.state.at[i] = state
        self.message.at[i] = message
        self.vaults.at[i] = tuple(vaults)


def pol001(view: pd.DataFrame, params: dict) -> _Verdicts:
    extra = params.get("geo_codes") or {}
    out = _Verdicts(view.index)
    for i, r in view.iterrows():
        regions = dict(r["pe_regions"])
        ms, why = _gate(r, (arm.POLICY_DNS_BACKUP,), f"af783da1 (backup private DNS zones, {ZONE_PARAM})")
        if ms is None:
            out.set(i, "na", why)
            continue
        dine = [x for x in ms if (x.effect or "").lower() == DINE]
        if not dine:
            out.set(i, "na", f"{_who(r)} applies af783da1 with {_effect_text(ms)}: it deploys nothing")
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
    for _, r in view.iterrows():
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
    for i, r in view.iterrows():
        pe_vaults = {p: [v for v, _ in vs] for p, vs in r["pe_regions"]}
        ms, why = _gate(r, (arm.POLICY_DNS_ASR,), "942bd215 (Site Recovery private DNS zones)")
        if ms is None:
            out.set(i, "na", why)
            continue
        if not any((x.effect or "").lower() == DINE for x in ms):
            out.set(i, "na", f"{_who(r)} applies 942bd215 with {_effect_text(ms)}: it deploys nothing")
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
    for i, r in view.iterrows():
        ms, why = _gate(r, (arm.POLICY_PNA_AUDIT_DENY, arm.POLICY_PNA_MODIFY), "9ebbbba3 or 04726aae (vault public "
                                                                              "network access)")
        if ms is None:
            out.set(i, "na", why)
            continue
        acting = [x for x in ms if (x.guid, (x.effect or "").lower()) in (
            (arm.POLICY_PNA_AUDIT_DENY, DENY), (arm.POLICY_PNA_MODIFY, MODIFY))]
        if not acting:
            out.set(i, "na", f"{_who(r)} applies {_effect_text(ms)}: it neither denies nor modifies public access")
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
