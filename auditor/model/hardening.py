"""The enhanced experience, vault hardening and guardrail columns (docs/rules.md, RSV-008..014 and PE-003..005): one function per concern, called once from :func:`auditor.model.build` through :func:`derive`.

Every column a function adds is declared in :data:`VAULT_COLUMNS`, :data:`ENDPOINT_COLUMNS` or
:data:`SUBNET_COLUMNS` with its meaning; the rules RSV-001, RSV-008..014, PE-003..005 read them.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from .. import arm

VAULT_COLUMNS = {
    "crr_on": "cross-region restore is on: redundancySettings.crossRegionRestore Enabled or a backupstorageconfig "
              "with crossRegionRestoreFlag true (absent = off)",
    "approved_backup": "the vault has an approved AzureBackup connection: vault side Approved + Succeeded (the test of "
                       "deeddb44), or PE side Approved for a PE the vault side does not list",
    "pe_listing_error": "the vault lists no connection and a private endpoint listing failed (an approved PE-side "
                        "connection may be unlisted), else None",
    "experience_evidence": "why the vault is judged in its experience (v1 / v2 / undetermined), in words",
    "imm_state": "securitySettings.immutabilitySettings.state as given (None when absent)",
    "sd_state": "securitySettings.softDeleteSettings.softDeleteState as given (None when absent)",
    "sd_days": "softDeleteRetentionPeriodInDays (None when absent)",
    "sd_enhanced": "softDeleteSettings.enhancedSecurityState as given (reported, not judged)",
    "mua_field": "securitySettings.multiUserAuthorization as given (None when absent)",
    "mua_on": "MUA is on: the field is Enabled, or absent and a resource guard proxy of the vault names a guard",
    "guard_id": "the resource guard a proxy of the vault names (lower-cased), None when none is known",
    "guard_in_audit": "the guard's subscription is one of the audited subscriptions",
    "guard_same_sub": "the guard is in the vault's subscription",
    "vault_role_holders": "(principal, role GUID, scope, principal type) of the role assignments covering the vault "
                          "(only where RSV-012 (b) is evaluated)",
    "guard_role_holders": "the same for the vault's resource guard",
    "mua_note": "why RSV-012 (b) was not evaluated, in words ('' when it was)",
    "mua_error": "why RSV-012 cannot judge the vault (proxies or role assignments unreadable or absent), else None",
    "key_uri": "encryption.keyVaultProperties.keyUri (None when absent)",
    "kv_host": "host of the keyUri, lower-cased",
    "kv_managed_hsm": "the keyUri names a managed HSM (*.managedhsm.*): not covered",
    "kv_id": "id of the key vault the keyUri names, when it is in the input",
    "kv_restricted": "that key vault is network-restricted (publicNetworkAccess Disabled, networkAcls.defaultAction "
                     "Deny, or private endpoint connections)",
    "kv_evidence": "the key vault's network settings, in words",
    "kv_error": "why RSV-013 cannot judge the key vault (a key vault read failed, or the input holds it without its "
                "properties), else None",
    "csr_state": "restoreSettings.crossSubscriptionRestoreSettings.crossSubscriptionRestoreState (None when absent)",
}
ENDPOINT_COLUMNS = {
    "n_static": "number of static IP configurations (properties.ipConfigurations; 0 = dynamic)",
    "same_name_pes": "other backup PEs of the same vault with the same name (ids), PE side and vault side",
}
SUBNET_COLUMNS = {
    "experiences": "the experiences (v1 / v2 / undetermined) of the vaults whose backup PEs the subnet holds",
    "largest_prefix": "the number of addresses of the subnet's largest IPv4 prefix (None without one)",
}



def _errors_on(errors: Iterable[dict], kind: str, rid: str) -> str | None:
    """The message of the first error record of ``kind`` (or of no stated type) over ``rid`` (or inside it)."""
    for rec in errors:
        types = set(rec.get("types") or [])
        if types and kind not in types:
            continue
        scope = rec.get("scope") or ""
        if not scope or rid == scope or rid.startswith(scope + "/") or scope.startswith(rid + "/"):
            status = rec.get("status")
            return f"could not read {scope or 'the input'}" + (f" ({status})" if status else "")
    return None


def crr(vaults: pd.DataFrame) -> None:
    vaults["crr_on"] = (vaults["crr"].astype(object).fillna("").astype(str).str.casefold().eq("enabled")
                        | vaults["crr_flag"].eq(True)).astype(bool)


def approved_backup(vaults: pd.DataFrame, conns: pd.DataFrame, errors: list[dict]) -> None:
    """The "approved backup PE connection" of docs/rules.md (RSV-008, POL-003)."""
    groups = conns["groups"].fillna("").astype(str)
    label = conns["conn_id"].fillna("").astype(str).str.rsplit("/", n=1).str[-1].str.contains(r"\.backup\.", regex=True)
    primary = groups.str.split(",").map(lambda g: arm.BACKUP in g) | (groups.eq("") & label)
    vault_side = conns["side"].eq("vault")
    ok_vault = vault_side & primary & conns["status"].eq("approved") & conns["conn_prov"].eq("succeeded")
    listed = set(zip(conns.loc[vault_side, "vault_id"], conns.loc[vault_side, "pe_id"]))
    pe_side = ~vault_side & primary & conns["status"].eq("approved")
    ok_pe = pe_side & pd.Series([(v, p) not in listed for v, p in zip(conns["vault_id"], conns["pe_id"])],
                                index=conns.index, dtype=bool)
    good = set(conns.loc[ok_vault | ok_pe, "vault_id"])
    vaults["approved_backup"] = vaults["id"].isin(good)
    failed = next((e for e in errors if arm.PRIVATE_ENDPOINT in (e.get("types") or []) or not e.get("types")), None)
    # the vault side lists every connection of a vault it holds; only a vault listing none rests on the PE side
    lists_none = ~vaults["id"].isin(set(conns.loc[vault_side, "vault_id"]))
    vaults["pe_listing_error"] = pd.Series(None, index=vaults.index, dtype=object).mask(
        lists_none & (failed is not None),
        f"the vault lists no private endpoint connection and private endpoints could not be listed at "
        f"{(failed or {}).get('scope') or 'the input'}")


def experience_evidence(vaults: pd.DataFrame, ep: pd.DataFrame, fqdns: pd.DataFrame, conns: pd.DataFrame) -> None:
    """In words, why each vault is judged v1, v2 or undetermined (docs/rules.md, "Experience")."""
    names = dict(zip(ep["id"].tolist(), ep["name"].tolist()))
    storage_fq: dict[str, str] = {}
    for pid, f, st in zip(fqdns["pe_id"].tolist(), fqdns["fqdn"].tolist(), fqdns["storage_zone"].tolist()):
        if st:
            storage_fq.setdefault(pid, f)
    why: dict[str, str] = {}
    for pid, vs, backup in zip(ep["id"].tolist(), ep["vault_ids"].tolist(), ep["backup"].tolist()):
        if backup and pid in storage_fq:
            for v in vs:
                why.setdefault(v, f"backup endpoint {names.get(pid, pid)} carries the storage FQDN "
                                  f"{storage_fq[pid]} (privatelink.blob/queue zone)")
    for v, pid, sec in zip(conns["vault_id"].tolist(), conns["pe_id"].tolist(), conns["secondary"].tolist()):
        if sec:
            why.setdefault(v, f"AzureBackup_secondary connection of {str(pid).rsplit('/', 1)[-1]}")
    st = ep[ep["storage"]]
    for pid, vs, bpe in zip(st["id"].tolist(), st["related_vaults"].tolist(), st["backup_pe_id"].tolist()):
        for v in vs:
            why.setdefault(v, f"storage endpoint {names.get(pid, pid)} of backup endpoint "
                              f"{names.get(bpe, str(bpe).rsplit('/', 1)[-1])}")
    undetermined = ("no storage FQDN on a backup endpoint, no AzureBackup_secondary connection and no "
                    "storage endpoint; judged as v1 (the classic experience)")
    vaults["experience_evidence"] = [why.get(i) if exp != "undetermined" and why.get(i) else
                                     (undetermined if exp == "undetermined" else exp)
                                     for i, exp in zip(vaults["id"].tolist(), vaults["experience"].tolist())]


def security_settings(vaults: pd.DataFrame, F: Mapping[str, pd.DataFrame]) -> None:
    sec = F["vault_security"].drop_duplicates("vault_id").set_index("vault_id")
    for col, src in (("imm_state", "immutability"), ("sd_state", "soft_delete"), ("sd_days", "sd_days"),
                     ("sd_enhanced", "enhanced_security"), ("mua_field", "mua"), ("key_uri", "key_uri"),
                     ("csr_state", "csr_state")):
        vaults[col] = vaults["id"].map(sec[src]).astype(object) if len(sec) else pd.Series(None, index=vaults.index,
                                                                                              dtype=object)
        vaults[col] = vaults[col].where(vaults[col].notna(), None)


def _role_guids(names: Iterable[str]) -> set[str]:
    return {arm.ROLE_BY_NAME.get(str(n).lower(), str(n).lower()) for n in names}


def _ancestors(rid: str) -> list[str]:
    """The scopes that cover a lower-cased id: itself, each prefix at a ``/``, and ``/``."""
    parts = rid.split("/")
    return ["/"] + ["/".join(parts[:k]) for k in range(2, len(parts) + 1)]


def _holders(by_scope: dict[str, list], mg: list, rid: str) -> tuple:
    """(principal, role GUID, scope, principal type) of every role assignment whose scope covers ``rid``."""
    out = list(mg)
    for sc in _ancestors(rid):
        out.extend(by_scope.get(sc, ()))
    return tuple(out)


def mua(vaults: pd.DataFrame, F: Mapping[str, pd.DataFrame], present: set[str], errors: list[dict],
        audited: set[str]) -> None:
    """RSV-012: MUA state, the vault's guard, and who holds roles on the vault and on its guard (MU)."""
    proxies = F["guard_proxies"].dropna(subset=["guard_id"]).sort_values("id")
    guard_of = proxies.drop_duplicates("vault_id").set_index("vault_id")["guard_id"].to_dict()
    proxies_known = arm.GUARD_PROXY in present
    roles = F["roles"]
    by_scope: dict[str, list] = {}
    mg: list = []
    for pr, ptype, g, sc in zip(roles["principal_id"].tolist(), roles["principal_type"].tolist(),
                                roles["role_guid"].tolist(), roles["scope"].tolist()):
        rec = (pr, g, sc, str(ptype or ""))
        if sc in ("", "/") or sc.startswith(arm.MANAGEMENT_GROUP_PREFIX):
            mg.append(rec)
        else:
            by_scope.setdefault(sc, []).append(rec)
    roles_known = arm.ROLE_ASSIGNMENT in present
    on, guards, in_audit, same, vault_h, guard_h, notes, errs = [], [], [], [], [], [], [], []
    for vid, sub, field in zip(vaults["id"].tolist(), vaults["sub"].tolist(), vaults["mua_field"].tolist()):
        guard = guard_of.get(vid)
        err = None
        if isinstance(field, str):
            is_on = field.casefold() == "enabled"
        else:
            is_on = guard is not None
            if guard is None:
                err = _errors_on(errors, arm.GUARD_PROXY, vid)
                if err is None and not proxies_known:
                    err = "multiUserAuthorization is absent and no resource guard proxies are in the input"
        gsub = arm.subscription_of(guard) if guard else ""
        inside = bool(guard) and gsub in audited
        vh = gh = ()
        note = ""
        if is_on and guard is None:
            note = " (b) not evaluated: no resource guard proxy of the vault in the input, its guard is unknown."
        elif is_on and not inside:
            note = f" (b) not evaluated: the guard's subscription {gsub} is outside the audit."
        elif is_on:
            rerr = _errors_on(errors, arm.ROLE_ASSIGNMENT, guard) or _errors_on(errors, arm.ROLE_ASSIGNMENT, vid)
            if rerr:
                err = err or f"role assignments: {rerr}"
            elif not roles_known:
                err = err or "no role assignments in the input: the resource guard separation cannot be checked"
            else:
                vh, gh = _holders(by_scope, mg, vid), _holders(by_scope, mg, guard)
        on.append(is_on)
        guards.append(guard)
        in_audit.append(inside)
        same.append(bool(guard) and gsub == sub)
        vault_h.append(vh)
        guard_h.append(gh)
        notes.append(note)
        errs.append(err)
    for col, values, dtype in (("mua_on", on, bool), ("guard_id", guards, object), ("guard_in_audit", in_audit, bool),
                               ("guard_same_sub", same, bool), ("vault_role_holders", vault_h, object),
                               ("guard_role_holders", guard_h, object), ("mua_note", notes, object),
                               ("mua_error", errs, object)):
        vaults[col] = pd.Series(values, index=vaults.index, dtype=dtype)


def guard_conflicts(vaults: pd.DataFrame, admin_roles: Iterable[str]) -> pd.Series:
    """RSV-012 (b), per vault: texts naming each principal that holds a vault-admin role (``admin_roles``) on the
    vault and a guard role (Contributor, Backup MUA Admin, Backup MUA Operator; Owner) on its resource guard.
    Principals are compared as given: a group is one principal, its members are not expanded."""
    admin = _role_guids(admin_roles)
    guard_roles = set(arm.GUARD_ROLES)
    name = arm.ROLE_NAMES.get
    out = []
    for vh, gh, guard in zip(vaults["vault_role_holders"].tolist(), vaults["guard_role_holders"].tolist(),
                             vaults["guard_id"].tolist()):
        held_v: dict[str, tuple] = {}
        held_g: dict[str, tuple] = {}
        for pr, g, sc, _ in vh:
            if g in admin:
                held_v.setdefault(pr, (g, sc))
        for pr, g, sc, _ in gh:
            if g in guard_roles:
                held_g.setdefault(pr, (g, sc))
        out.append(tuple(f"{pr} holds {name(held_v[pr][0], held_v[pr][0])} on the vault (scope {held_v[pr][1]}) and "
                         f"{name(held_g[pr][0], held_g[pr][0])} on resource guard {guard} (scope {held_g[pr][1]})"
                         for pr in sorted(set(held_v) & set(held_g))))
    return pd.Series(out, index=vaults.index, dtype=object)


def group_note(vaults: pd.DataFrame) -> pd.Series:
    """' Role assignments to groups are not expanded.' where a group holds a role on the vault or its guard."""
    return pd.Series([" Role assignments to groups are not expanded."
                      if any(t.lower() == "group" for *_, t in vh + gh) else ""
                      for vh, gh in zip(vaults["vault_role_holders"].tolist(), vaults["guard_role_holders"].tolist())],
                     index=vaults.index, dtype=object)


def key_vault(vaults: pd.DataFrame, F: Mapping[str, pd.DataFrame], errors: list[dict]) -> None:
    """RSV-013: the key vault a CMK vault's keyUri names, and whether it is network-restricted."""
    kv = F["key_vaults"]
    by_name, by_host = {}, {}
    for i, rid, name, host, pna, da, n, stub in zip(*(kv[c].tolist() for c in (
            "id", "rid", "name", "host", "pna", "default_action", "n_pe_conns", "stub"))):
        restricted = (str(pna or "").casefold() == "disabled" or str(da or "").casefold() == "deny" or (n or 0) > 0)
        why = (f"publicNetworkAccess={pna or '(absent, Enabled)'}, networkAcls.defaultAction={da or '(absent, Allow)'}"
               f", {n or 0} private endpoint connection(s)")
        # no settings, no verdict: the listing's stub is no evidence that the key vault is open
        unknown = (f"key vault {name} is in the input without its properties (as `az keyvault list` prints it): "
                   f"export it with `az keyvault show` ({rid or i})") if stub else None
        rec = (i, restricted and not stub, why, unknown)
        by_name.setdefault(str(name).lower(), rec)
        if isinstance(host, str):
            by_host.setdefault(host, rec)
    kv_failed = next((e for e in errors if arm.KEY_VAULT in (e.get("types") or [])), None)
    hosts, hsm, ids, restricted, evidence, errs = [], [], [], [], [], []
    for uri in vaults["key_uri"].tolist():
        host = arm.host_of(uri)
        is_hsm = bool(host) and ".managedhsm." in f".{host}."
        rec = (by_host.get(host) or by_name.get(host.split(".", 1)[0])) if host and not is_hsm else None
        hosts.append(host)
        hsm.append(is_hsm)
        ids.append(rec[0] if rec else None)
        restricted.append(bool(rec and rec[1]))
        evidence.append(rec[2] if rec else "")
        errs.append(rec[3] if rec else
                    f"key vault lookup failed: could not read {kv_failed.get('scope') or 'the key vaults'}"
                    if host and not is_hsm and kv_failed else None)
    vaults["kv_host"] = pd.Series(hosts, index=vaults.index, dtype=object)
    vaults["kv_managed_hsm"] = pd.Series(hsm, index=vaults.index, dtype=bool)
    vaults["kv_id"] = pd.Series(ids, index=vaults.index, dtype=object)
    vaults["kv_restricted"] = pd.Series(restricted, index=vaults.index, dtype=bool)
    vaults["kv_evidence"] = pd.Series(evidence, index=vaults.index, dtype=object)
    vaults["kv_error"] = pd.Series(errs, index=vaults.index, dtype=object)


def static_ips(ep: pd.DataFrame, F: Mapping[str, pd.DataFrame]) -> None:
    st = F["pe_static"].groupby("pe_id")["n_static"].max() if len(F["pe_static"]) else pd.Series(dtype=int)
    ep["n_static"] = ep["id"].map(st).fillna(0).astype(int)


def same_names(ep: pd.DataFrame, conns: pd.DataFrame) -> None:
    """PE-005: distinct backup PE ids of one vault (both sides, both groups) sharing a name."""
    b = conns[conns["backup"].astype(bool)]
    by_key: dict[tuple[str, str], set[str]] = {}
    for v, pid in zip(b["vault_id"].tolist(), b["pe_id"].tolist()):
        if isinstance(pid, str):
            by_key.setdefault((v, pid.rstrip("/").rsplit("/", 1)[-1].lower()), set()).add(pid)
    peers: dict[str, set[str]] = {}
    for ids in by_key.values():
        if len(ids) > 1:
            for i in ids:
                peers.setdefault(i, set()).update(ids - {i})
    ep["same_name_pes"] = pd.Series([tuple(sorted(peers.get(i, ()))) for i in ep["id"].tolist()], index=ep.index,
                                    dtype=object)


def subnet_experience(subnets: pd.DataFrame, vaults: pd.DataFrame) -> None:
    exp = dict(zip(vaults["id"].tolist(), vaults["experience"].tolist()))
    subnets["experiences"] = pd.Series([tuple(sorted({exp.get(v, "undetermined") for v in vs}))
                                        for vs in subnets["vault_ids"].tolist()], index=subnets.index, dtype=object)
    import ipaddress
    largest = []
    for prefixes in subnets["prefixes"].tolist():
        best = None
        for p in prefixes:
            try:
                net = ipaddress.ip_network(p, strict=False)
            except ValueError:
                continue
            if net.version == 4 and (best is None or net.num_addresses > best):
                best = net.num_addresses
        largest.append(best)
    subnets["largest_prefix"] = pd.Series(largest, index=subnets.index, dtype=object)


def derive(*, vaults: pd.DataFrame, endpoints: pd.DataFrame, subnets: pd.DataFrame, fqdns: pd.DataFrame,
           conns: pd.DataFrame, frames: Mapping[str, pd.DataFrame], present: set[str], errors: list[dict],
           audited: set[str]) -> None:
    """Add every column declared above to the views, in place. ``audited``: the subscriptions the input holds; a
    subscription whose role assignments are in the input counts too (who holds roles there is known)."""
    audited = set(audited) | {arm.subscription_of(i) for i in frames["roles"]["id"].tolist()}
    audited.discard("")
    crr(vaults)
    approved_backup(vaults, conns, errors)
    experience_evidence(vaults, endpoints, fqdns, conns)
    security_settings(vaults, frames)
    mua(vaults, frames, present, errors, audited)
    key_vault(vaults, frames, errors)
    static_ips(endpoints, frames)
    same_names(endpoints, conns)
    subnet_experience(subnets, vaults)
