"""Extractors for the vault side: vaults, their private endpoint connections, storage config, protected items
and containers, and the hardening evidence (resource guard proxies, resource guards, key vaults)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import arm
from .. import ingest as I
from ..arm import BACKUP_GROUPS, SECONDARY, VAULT_PREFIX as _VAULT_PREFIX, id_parts, parent as parent_id
from ..fields import Malformed, items, mapping, props, ref, text
from ._common import _conn_state, _groups, _name

if TYPE_CHECKING:
    from . import Tables


def vault(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "vault")
    ident = mapping(o, "identity")
    sys_data = mapping(o, "systemData")
    created = text(sys_data, "createdAt", "systemData.createdAt") or text(o, "createdTime")
    sub, rg, _ = id_parts(rid)
    red = mapping(p, "redundancySettings")
    t.vaults.append((  # id, rid, name, sub, rg, location, pna, identity_type, principal_id, identity_tenant, crr, created
        rid, o.get("id"), _name(o, rid), sub, rg, text(o, "location"), text(p, "publicNetworkAccess"),
        text(ident, "type", "identity.type"), (text(ident, "principalId", "identity.principalId") or "").lower() or None,
        (text(ident, "tenantId", "identity.tenantId") or "").lower() or None,
        text(red, "crossRegionRestore", "redundancySettings.crossRegionRestore"), created))
    _vault_security(t, rid, p)
    for c in items(p, "privateEndpointConnections"):
        _vault_connection(t, rid, c)


def _vault_security(t: Tables, rid: str, p: dict) -> None:
    sec = mapping(p, "securitySettings")
    imm = mapping(sec, "immutabilitySettings")
    sd = mapping(sec, "softDeleteSettings")
    days = sd.get("softDeleteRetentionPeriodInDays")
    if isinstance(days, float) and days.is_integer():
        days = int(days)
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
        raise Malformed("softDeleteSettings.softDeleteRetentionPeriodInDays is not an integer")
    kv = mapping(mapping(p, "encryption"), "keyVaultProperties")
    csr = mapping(mapping(p, "restoreSettings"), "crossSubscriptionRestoreSettings")
    t.vault_security.append((  # vault_id, immutability, soft_delete, sd_days, enhanced_security, mua, key_uri, csr_state
        rid, text(imm, "state", "immutabilitySettings.state"), text(sd, "softDeleteState", "softDeleteState"), days,
        text(sd, "enhancedSecurityState", "enhancedSecurityState"),
        text(sec, "multiUserAuthorization", "securitySettings.multiUserAuthorization"),
        text(kv, "keyUri", "encryption.keyVaultProperties.keyUri"),
        text(csr, "crossSubscriptionRestoreState", "crossSubscriptionRestoreSettings.crossSubscriptionRestoreState")))


def _vault_connection(t: Tables, vault_id: str, c: dict, conn_id: str | None = None) -> None:
    cp = props(c, "privateEndpointConnections[]")
    pe = ref(cp, "privateEndpoint")
    if not pe:
        raise Malformed("a privateEndpointConnection names no privateEndpoint.id")
    cid = conn_id or (c.get("id") if isinstance(c.get("id"), str) else None)
    # no groupIds (API versions before 2023-04-01): the connection's name says whether it is a backup one
    name = c.get("name") if isinstance(c.get("name"), str) else None
    groups = _groups(cp) or sorted(arm.connection_groups((), cid, name))
    t.conns.append((  # vault_id, pe_id, groups, backup, secondary, status, side, conn_id, conn_prov
        vault_id, pe, ",".join(groups), bool(BACKUP_GROUPS.intersection(groups)), SECONDARY in groups,
        _conn_state(cp), "vault", (cid or "").lower(), (text(cp, "provisioningState") or "").lower() or None))
    t.conn_prov.append((vault_id, pe, (text(cp, "provisioningState") or "").lower()))  # vault_id, pe_id, prov


def vault_pe_connection(t: Tables, raw: I.RawObject) -> None:
    _vault_connection(t, parent_id(raw.id, "privateEndpointConnections"), raw.obj, raw.id)


def storage_config(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "backup storage config")
    flag = p.get("crossRegionRestoreFlag")
    if flag is not None and not isinstance(flag, bool):
        raise Malformed("crossRegionRestoreFlag is not a boolean")
    t.storage_configs.append((parent_id(raw.id, "backupstorageconfig"), flag))  # vault_id, crr_flag


def protected_item(t: Tables, raw: I.RawObject) -> None:
    m = _VAULT_PREFIX.match(raw.id)
    if not m:
        raise Malformed("protected item id names no Recovery Services vault")
    t.protected_items.append((m.group(1), raw.id))  # vault_id, id
    _workload_ref(t, m.group(1), raw)


def _workload_ref(t: Tables, vault_id: str, raw: I.RawObject) -> None:
    """A protected workload: an AzureWorkload container or item whose sourceResourceId is a VM (read leniently: a
    protected item's other fields were never judged, and an odd one must not start to be)."""
    p = raw.obj.get("properties") if isinstance(raw.obj.get("properties"), dict) else raw.obj
    bmt, src = p.get("backupManagementType"), p.get("sourceResourceId")
    if isinstance(bmt, str) and bmt.lower() == arm.WORKLOAD_MANAGEMENT and isinstance(src, str) \
            and arm.VM_IN_ID in src.lower():
        t.workload_refs.append((vault_id, src.lower().rstrip("/"), raw.id))  # vault_id, vm_id, source_id


def protection_container(t: Tables, raw: I.RawObject) -> None:
    m = _VAULT_PREFIX.match(raw.id)
    if not m:
        raise Malformed("protection container id names no Recovery Services vault")
    _workload_ref(t, m.group(1), raw)


def guard_proxy(t: Tables, raw: I.RawObject) -> None:
    m = _VAULT_PREFIX.match(raw.id)
    if not m:
        raise Malformed("resource guard proxy id names no Recovery Services vault")
    guard = text(props(raw.obj, "resource guard proxy"), "resourceGuardResourceId")
    t.guard_proxies.append((raw.id, m.group(1), guard.lower().rstrip("/") if guard else None))  # id, vault_id, guard_id


def resource_guard(t: Tables, raw: I.RawObject) -> None:
    sub, _, _ = id_parts(raw.id)
    t.guards.append((raw.id, raw.obj.get("id"), _name(raw.obj, raw.id), sub))  # id, rid, name, sub


def key_vault(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "key vault")
    sub, _, _ = id_parts(rid)
    host = arm.host_of(text(p, "vaultUri"))
    acls = mapping(p, "networkAcls")
    # a listing of resources (`az keyvault list`, ARM's /resources) names the vault but carries none of its settings
    stub = p is o and not any(k in o for k in _KEY_VAULT_SETTINGS)
    # id, rid, name, sub, host, pna, default_action, n_pe_conns, stub
    t.key_vaults.append((rid, o.get("id"), _name(o, rid), sub, host, text(p, "publicNetworkAccess"),
                         text(acls, "defaultAction", "networkAcls.defaultAction"),
                         len(items(p, "privateEndpointConnections")), stub))


# fields of a key vault's properties (any one of them, printed flattened, says the settings were exported)
_KEY_VAULT_SETTINGS = ("vaultUri", "tenantId", "networkAcls", "publicNetworkAccess", "privateEndpointConnections",
                       "enableSoftDelete", "enablePurgeProtection", "accessPolicies", "provisioningState")
