"""IAM-001's evidence: the grants a v1 vault's system identity needs and which of them its role assignments miss."""
from __future__ import annotations

import re

import pandas as pd

from .. import arm

# IAM-001's three needs: the built-in roles that meet each, and the action a custom role must grant.
NEEDS = {
    "rg": ({arm.OWNER, arm.CONTRIBUTOR}, arm.CREATE_PE_ACTION, "Contributor or Owner"),
    "vnet": ({arm.OWNER, arm.CONTRIBUTOR, arm.NETWORK_CONTRIBUTOR}, arm.JOIN_SUBNET_ACTION,
             "Network Contributor, Contributor or Owner"),
    "zone": ({arm.OWNER, arm.CONTRIBUTOR, arm.DNS_ZONE_CONTRIBUTOR}, arm.WRITE_DNS_A_ACTION,
             "Private DNS Zone Contributor, Contributor or Owner"),
}
_KINDS = {"rg": "resource group", "vnet": "virtual network", "zone": "private DNS zone"}


def _action_regex(pattern: str) -> re.Pattern:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")


def custom_grants(role_defs: pd.DataFrame) -> dict[str, set[str]]:
    """role GUID -> the IAM-001 needs ("rg", "vnet", "zone") its permissions meet (wildcards, notActions)."""
    out: dict[str, set[str]] = {}
    for guid, perms in zip(role_defs["guid"], role_defs["perms"]):
        met = set()
        for need, (_, action, _) in NEEDS.items():
            for actions, not_actions in perms:
                if any(_action_regex(a).match(action) for a in actions) and not any(
                        _action_regex(n).match(action) for n in not_actions):
                    met.add(need)
        out[guid] = met
    return out


def _needs(principal: dict, endpoints: pd.DataFrame, fqdns: pd.DataFrame) -> dict[str, set[tuple[str, str]]]:
    """What each vault's identity must be granted: (need, target id) pairs. Backup endpoints: their resource group
    and VNet; storage endpoints: the blob/queue zones linked to their VNets."""
    needs: dict[str, set[tuple[str, str]]] = {}
    for pid, vs, vnet in zip(*(endpoints[c].tolist() for c in ("id", "vault_ids", "vnet_id"))):
        for v in vs:
            if v in principal:
                rg = arm.RG_PREFIX.match(pid)
                want = needs.setdefault(v, set())
                if rg:
                    want.add(("rg", rg.group(1)))
                if isinstance(vnet, str):
                    want.add(("vnet", vnet))
    zones: dict[str, set[str]] = {}
    for pid, storage, linked, lz in zip(*(fqdns[c].tolist() for c in (
            "pe_id", "storage_zone", "linked", "linked_zone_ids"))):
        if storage and linked:
            zones.setdefault(pid, set()).update(lz)
    storage = endpoints["storage"].to_numpy(dtype=bool)
    for pid, vs in zip(endpoints.loc[storage, "id"].tolist(), endpoints.loc[storage, "related_vaults"].tolist()):
        for v in vs:
            if v in principal and pid in zones:
                needs.setdefault(v, set()).update(("zone", z) for z in zones[pid])
    return needs


def _granting(roles: dict[str, list], role_defs: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(principal, need) -> the scopes of its role assignments whose role meets the need."""
    grants = custom_grants(role_defs)
    granting: dict[tuple[str, str], list[str]] = {}
    for principal, guid, scope in zip(roles["principal_id"], roles["role_guid"], roles["scope"]):
        for need, (builtin, _, _) in NEEDS.items():
            if guid in builtin or need in grants.get(guid, ()):
                granting.setdefault((principal, need), []).append(scope)
    return granting


def identity_gaps(vaults: pd.DataFrame, endpoints: pd.DataFrame, fqdns: pd.DataFrame, roles: dict[str, list],
                  role_defs: pd.DataFrame) -> tuple[list, list]:
    """For each vault, the IAM-001 needs its identity does not meet (a tuple of texts) and a note on groups.
    ``roles``: the role assignments as column lists; ``role_defs``: the custom role definitions."""
    target = vaults["uses_pe"] & vaults["system_identity"] & vaults["principal_id"].notna()
    principal = dict(zip(vaults.loc[target, "id"].tolist(), vaults.loc[target, "principal_id"].tolist()))
    if not principal:
        return [()] * len(vaults), [""] * len(vaults)
    needs = _needs(principal, endpoints, fqdns)
    granting = _granting(roles, role_defs)
    missing = {}
    for v, want in needs.items():
        pr = principal[v]
        texts = {f"{NEEDS[n][2]} on {_KINDS[n]} {scope_target}" for n, scope_target in want
                 if not any(arm.covers(sc, scope_target) for sc in granting.get((pr, n), ()))}
        if texts:
            missing[v] = tuple(sorted(texts))
    has_groups = any(pt.lower() == "group" for pt in roles["principal_type"])
    note = " Role assignments to groups are not expanded." if has_groups else ""
    ids = vaults["id"].tolist()
    return [missing.get(i, ()) for i in ids], [note if missing.get(i) else "" for i in ids]
