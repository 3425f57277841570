"""One extractor per ARM type: a routed object in, flat records out (the rows of :mod:`auditor.model`'s frames).

Extractors read ARM's nested shape and ``az``'s flattened one alike (see :func:`auditor.ingest._props`) and raise
:class:`~auditor.ingest.Malformed` on a field of the wrong type, so that one odd object is reported, not guessed at.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

from . import ingest as I
from .ingest import Malformed, _d, _l, _props, _ref, _s, _strs, id_parts, parent_id, vnet_of

import re

BACKUP_GROUPS = {"azurebackup", "azurebackup_secondary"}
_VAULT_PREFIX = re.compile(r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+)")
SECONDARY = "azurebackup_secondary"


class Tables:
    """Record lists per entity, filled by the extractors."""

    NAMES = ("vaults", "conns", "pes", "pe_nics", "pe_fqdns", "nics", "nic_ipconfigs", "nic_fqdns", "vnets",
             "subnets", "zones", "records", "links", "zone_groups", "roles", "role_defs", "subs", "providers",
             "events", "storage_configs", "protected_items")

    def __init__(self) -> None:
        for n in self.NAMES:
            setattr(self, n, [])


def _fields(obj: dict, key: str, field: str) -> list[str]:
    """The non-empty string ``field`` of every object in the list ``obj[key]`` (shape-checked)."""
    out = []
    for item in _l(obj, key):
        if not isinstance(item, dict):
            raise Malformed(f"{key} holds a non-object")
        v = _s(item, field, f"{key}[].{field}")
        if v:
            out.append(v)
    return out


def _name(obj: dict, rid: str) -> str:
    n = obj.get("name")
    return n if isinstance(n, str) and n else rid.rstrip("/").split("/")[-1]


def _conn_state(p: dict) -> str | None:
    st = _d(p, "privateLinkServiceConnectionState")
    status = _s(st, "status", "privateLinkServiceConnectionState.status")
    return status.lower() if status else None


def _groups(p: dict) -> list[str]:
    return [g.lower() for g in _strs(_l(p, "groupIds"), "groupIds")]


def vault(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = _props(o, "vault")
    ident = _d(o, "identity")
    sys_data = _d(o, "systemData")
    created = _s(sys_data, "createdAt", "systemData.createdAt") or _s(o, "createdTime")
    sub, rg, _ = id_parts(rid)
    red = _d(p, "redundancySettings")
    t.vaults.append(dict(
        id=rid, rid=o.get("id"), name=_name(o, rid), sub=sub, rg=rg, location=_s(o, "location"),
        pna=_s(p, "publicNetworkAccess"), identity_type=_s(ident, "type", "identity.type"),
        principal_id=(_s(ident, "principalId", "identity.principalId") or "").lower() or None,
        identity_tenant=(_s(ident, "tenantId", "identity.tenantId") or "").lower() or None,
        crr=_s(red, "crossRegionRestore", "redundancySettings.crossRegionRestore"), created=created))
    for c in _l(p, "privateEndpointConnections"):
        _vault_connection(t, rid, c)


def _vault_connection(t: Tables, vault_id: str, c: dict, conn_id: str | None = None) -> None:
    cp = _props(c, "privateEndpointConnections[]")
    groups = _groups(cp)
    pe = _ref(cp, "privateEndpoint")
    if not pe:
        raise Malformed("a privateEndpointConnection names no privateEndpoint.id")
    cid = conn_id or (c.get("id") if isinstance(c.get("id"), str) else None)
    t.conns.append(dict(vault_id=vault_id, pe_id=pe, groups=",".join(groups),
                        backup=bool(BACKUP_GROUPS.intersection(groups)), secondary=SECONDARY in groups,
                        status=_conn_state(cp), side="vault", conn_id=(cid or "").lower()))


def vault_pe_connection(t: Tables, raw: I.RawObject) -> None:
    _vault_connection(t, parent_id(raw.id, "privateEndpointConnections"), raw.obj, raw.id)


def private_endpoint(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = _props(o, "private endpoint")
    sub, rg, _ = id_parts(rid)
    subnet = _ref(p, "subnet")
    prov = _s(p, "provisioningState")
    for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
        for c in _l(p, key):
            cp = _props(c, key + "[]")
            target = (_s(cp, "privateLinkServiceId") or "").lower()
            if "/providers/microsoft.recoveryservices/vaults/" not in target:
                continue
            groups = _groups(cp)
            t.conns.append(dict(vault_id=target.rstrip("/"), pe_id=rid, groups=",".join(groups),
                                backup=bool(BACKUP_GROUPS.intersection(groups)), secondary=SECONDARY in groups,
                                status=_conn_state(cp), side="pe",
                                conn_id=(c.get("id") or "").lower() if isinstance(c.get("id"), str) else ""))
    for nid in _fields(p, "networkInterfaces", "id"):
        t.pe_nics.append(dict(pe_id=rid, nic_id=nid.lower()))
    for cfg in _l(p, "customDnsConfigs"):
        if not isinstance(cfg, dict):
            raise Malformed("customDnsConfigs holds a non-object")
        fqdn = _s(cfg, "fqdn", "customDnsConfigs[].fqdn")
        ips = _strs(_l(cfg, "ipAddresses"), "customDnsConfigs[].ipAddresses")
        if fqdn:
            for ip in ips or [None]:
                t.pe_fqdns.append(dict(pe_id=rid, fqdn=fqdn, ip=ip))
    t.pes.append(dict(id=rid, rid=o.get("id"), name=_name(o, rid), sub=sub, rg=rg, subnet_id=subnet,
                      vnet_id=vnet_of(subnet), prov_state=prov))


def zone_group(t: Tables, raw: I.RawObject) -> None:
    p = _props(raw.obj, "private DNS zone group")
    zones = []
    for cfg in _l(p, "privateDnsZoneConfigs"):
        zid = _s(_props(cfg, "privateDnsZoneConfigs[]"), "privateDnsZoneId")
        if zid:
            zones.append(zid.lower())
    t.zone_groups.append(dict(id=raw.id, pe_id=parent_id(raw.id, "privateDnsZoneGroups"), zone_ids=tuple(zones)))


def nic(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = _props(o, "network interface")
    t.nics.append(dict(nic_id=rid, pe_id=_ref(p, "privateEndpoint")))
    for ipc in _l(p, "ipConfigurations"):
        ip = _props(ipc, "ipConfigurations[]")
        ipc_id = ipc.get("id") if isinstance(ipc.get("id"), str) else None
        if not ipc_id:
            ipc_id = f"{rid}/ipconfigurations/{_s(ipc, 'name') or len(t.nic_ipconfigs)}"
        addr = _s(ip, "privateIPAddress")
        version = (_s(ip, "privateIPAddressVersion") or "IPv4").lower()
        t.nic_ipconfigs.append(dict(ipc_id=ipc_id.lower(), nic_id=rid, subnet_id=_ref(ip, "subnet"), ip=addr,
                                    ipv4=version == "ipv4"))
        plc = _d(ip, "privateLinkConnectionProperties")
        for fqdn in _strs(_l(plc, "fqdns"), "privateLinkConnectionProperties.fqdns"):
            t.nic_fqdns.append(dict(nic_id=rid, fqdn=fqdn, ip=addr))


def _prefixes(p: dict) -> tuple[str, ...]:
    one = _s(p, "addressPrefix")
    many = _strs(_l(p, "addressPrefixes"), "addressPrefixes")
    return tuple(dict.fromkeys(([one] if one else []) + many))


def _subnet(t: Tables, obj: dict, rid: str, vnet_id: str) -> None:
    p = _props(obj, "subnet")
    ipcs = tuple(c.lower() for c in _fields(p, "ipConfigurations", "id"))
    t.subnets.append(dict(id=rid, name=_name(obj, rid), vnet_id=vnet_id, prefixes=_prefixes(p), ipc_ids=ipcs))


def vnet(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = _props(o, "virtual network")
    dns = _strs(_l(_d(p, "dhcpOptions"), "dnsServers"), "dhcpOptions.dnsServers")
    sub, rg, _ = id_parts(rid)
    t.vnets.append(dict(id=rid, rid=o.get("id"), name=_name(o, rid), sub=sub, rg=rg, dns_servers=tuple(dns)))
    for s in _l(p, "subnets"):
        if not isinstance(s, dict):
            raise Malformed("subnets holds a non-object")
        sid = _s(s, "id", "subnets[].id")
        sid = sid.lower() if sid else f"{rid}/subnets/{(_s(s, 'name') or '').lower()}"
        _subnet(t, s, sid, rid)


def subnet(t: Tables, raw: I.RawObject) -> None:
    _subnet(t, raw.obj, raw.id, parent_id(raw.id, "subnets"))


def zone(t: Tables, raw: I.RawObject) -> None:
    sub, rg, name = id_parts(raw.id)
    t.zones.append(dict(id=raw.id, rid=raw.obj.get("id"), name=name.lower(), sub=sub, rg=rg))


def a_record(t: Tables, raw: I.RawObject) -> None:
    p = _props(raw.obj, "A record set")
    ips = _fields(p, "aRecords", "ipv4Address")
    zone_id = parent_id(raw.id, "A")
    t.records.append(dict(id=raw.id, zone_id=zone_id, zone_name=zone_id.rsplit("/", 1)[-1],
                          rel=raw.id.rsplit("/", 1)[-1], ips=tuple(ips)))


def vnet_link(t: Tables, raw: I.RawObject) -> None:
    p = _props(raw.obj, "virtual network link")
    zone_id = parent_id(raw.id, "virtualNetworkLinks")
    t.links.append(dict(id=raw.id, zone_id=zone_id, zone_name=zone_id.rsplit("/", 1)[-1],
                        vnet_id=_ref(p, "virtualNetwork")))


def role_assignment(t: Tables, raw: I.RawObject) -> None:
    p = _props(raw.obj, "role assignment")
    role = _s(p, "roleDefinitionId") or ""
    scope = _s(p, "scope") or parent_id(raw.id, "providers/Microsoft.Authorization/roleAssignments")
    t.roles.append(dict(id=raw.id, principal_id=(_s(p, "principalId") or "").lower(),
                        principal_type=_s(p, "principalType") or "", role_guid=role.rstrip("/").rsplit("/", 1)[-1].lower(),
                        scope=scope.lower().rstrip("/") or "/"))


def role_definition(t: Tables, raw: I.RawObject) -> None:
    p = _props(raw.obj, "role definition")
    perms = []
    for block in _l(p, "permissions"):
        if not isinstance(block, dict):
            raise Malformed("permissions holds a non-object")
        perms.append((tuple(a.lower() for a in _strs(_l(block, "actions"), "permissions[].actions")),
                      tuple(a.lower() for a in _strs(_l(block, "notActions"), "permissions[].notActions"))))
    name = raw.obj.get("name")
    guid = name if isinstance(name, str) and I._GUID.match(name) else raw.id.rsplit("/", 1)[-1]
    t.role_defs.append(dict(guid=guid.lower(), perms=tuple(perms), role_type=_s(p, "roleType") or ""))


def subscription(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    p = o.get("properties") if isinstance(o.get("properties"), dict) else {}
    tenant = _s(o, "homeTenantId") or _s(p, "homeTenantId") or _s(o, "tenantId") or _s(p, "tenantId")
    name = _s(o, "displayName") or (o.get("name") if isinstance(o.get("name"), str) else None)
    t.subs.append(dict(sub=raw.id.rsplit("/", 1)[-1], tenant=(tenant or "").lower() or None, name=name))


def provider(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    p = o.get("properties") if isinstance(o.get("properties"), dict) else o
    ns = _s(o, "namespace") or _s(p, "namespace") or raw.id.rsplit("/", 1)[-1]
    sub, _, _ = id_parts(raw.id)
    t.providers.append(dict(sub=sub, namespace=ns.lower(), state=_s(p, "registrationState")))


def _value(o: dict, key: str) -> str | None:
    v = o.get(key)
    if isinstance(v, dict):
        return _s(v, "value", f"{key}.value")
    if v is None or isinstance(v, str):
        return v
    raise Malformed(f"{key} is {type(v).__name__}, expected a string or {{value}}")


def event(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    sub = _s(o, "subscriptionId") or id_parts(_s(o, "resourceId") or _s(o, "id") or "")[0]
    t.events.append(dict(sub=(sub or "").lower(), op=(_value(o, "operationName") or "").lower(),
                         status=(_value(o, "status") or "").lower(), ts=_s(o, "eventTimestamp")))


def storage_config(t: Tables, raw: I.RawObject) -> None:
    p = _props(raw.obj, "backup storage config")
    flag = p.get("crossRegionRestoreFlag")
    if flag is not None and not isinstance(flag, bool):
        raise Malformed("crossRegionRestoreFlag is not a boolean")
    t.storage_configs.append(dict(vault_id=parent_id(raw.id, "backupstorageconfig"), crr_flag=flag))


def protected_item(t: Tables, raw: I.RawObject) -> None:
    m = _VAULT_PREFIX.match(raw.id)
    if not m:
        raise Malformed("protected item id names no Recovery Services vault")
    t.protected_items.append(dict(vault_id=m.group(1), id=raw.id))


EXTRACTORS: dict[str, Callable[[Tables, I.RawObject], None]] = {
    I.VAULT: vault, I.VAULT_PE_CONNECTION: vault_pe_connection, I.PRIVATE_ENDPOINT: private_endpoint,
    I.ZONE_GROUP: zone_group, I.NIC: nic, I.VNET: vnet, I.SUBNET: subnet, I.ZONE: zone, I.A_RECORD: a_record,
    I.VNET_LINK: vnet_link, I.ROLE_ASSIGNMENT: role_assignment, I.ROLE_DEFINITION: role_definition,
    I.SUBSCRIPTION: subscription, I.PROVIDER: provider, I.EVENT: event, I.STORAGE_CONFIG: storage_config,
    I.PROTECTED_ITEM: protected_item,
}


def extract(ing: I.Ingested) -> tuple[Tables, dict[str, set[str]]]:
    """Run every extractor; a malformed object becomes a warning and an error record, never a crash.

    Returns the tables and, per type, the ids of the objects that were unreadable."""
    t = Tables()
    bad: dict[str, set[str]] = defaultdict(set)
    lists = [getattr(t, n) for n in Tables.NAMES]
    for raw in ing.objects.values():
        fn = EXTRACTORS.get(raw.type)
        if fn is None:
            continue
        marks = [len(x) for x in lists]
        try:
            fn(t, raw)
        except (Malformed, AttributeError, TypeError, ValueError) as exc:
            for x, n in zip(lists, marks):  # a half-read object leaves nothing behind
                del x[n:]
            label = f"{raw.obj.get('id')!r} (position {raw.source.position})"
            msg = f"{raw.source.path}: object {label} is unreadable: {exc}"
            ing.warnings.append(msg)
            ing.errors.append(I.unreadable(raw.id, raw.type, msg))
            bad[raw.type].add(raw.id)
    return t, bad
