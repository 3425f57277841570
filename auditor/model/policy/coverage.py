"""Coverage and the view: the management group hierarchy, which resources an assignment covers, and the
assignments view (one row per assignment, columns :data:`COLUMNS`) that the POL rules judge."""
from __future__ import annotations

import itertools

import pandas as pd

from ... import arm, geo
from .parameters import DINE, _lower_keys, _members

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


_TOKENS = itertools.count(1)


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
