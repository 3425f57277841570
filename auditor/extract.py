"""One extractor per ARM type: a routed object in, flat records out (tuples, fields in :data:`COLUMNS` order: the
rows of :mod:`auditor.model`'s frames).

Extractors read ARM's nested shape and ``az``'s flattened one alike (see :func:`auditor.fields.props`) and raise
:class:`~auditor.fields.Malformed` on a field of the wrong type, so that one odd object is reported, not guessed at.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

from . import arm
from . import ingest as I
from .arm import BACKUP, BACKUP_GROUPS, SECONDARY, VAULT_PREFIX as _VAULT_PREFIX, id_parts, parent as parent_id, vnet_of
from .fields import Malformed, items, mapping, props, ref, text, text_items


# The columns of each entity's records: the extractors append one tuple per record, its fields in this order.
COLUMNS = {
    "vaults": ("id", "rid", "name", "sub", "rg", "location", "pna", "identity_type", "principal_id",
               "identity_tenant", "crr", "created"),
    "conns": ("vault_id", "pe_id", "groups", "backup", "secondary", "status", "side", "conn_id", "conn_prov"),
    "pes": ("id", "rid", "name", "sub", "rg", "subnet_id", "vnet_id", "prov_state"),
    "pe_nics": ("pe_id", "nic_id"), "pe_fqdns": ("pe_id", "fqdn", "ip"), "nics": ("nic_id", "pe_id"),
    "nic_ipconfigs": ("ipc_id", "nic_id", "subnet_id", "ip", "ipv4"), "nic_fqdns": ("nic_id", "fqdn", "ip"),
    "vnets": ("id", "rid", "name", "sub", "rg", "dns_servers"),
    "subnets": ("id", "name", "vnet_id", "prefixes", "ipc_ids"),
    "zones": ("id", "rid", "name", "sub", "rg"), "records": ("id", "zone_id", "zone_name", "rel", "ips"),
    "links": ("id", "zone_id", "zone_name", "vnet_id"), "zone_groups": ("id", "pe_id", "zone_ids"),
    "roles": ("id", "principal_id", "principal_type", "role_guid", "scope"),
    "role_defs": ("guid", "perms", "role_type"), "subs": ("sub", "tenant", "name"),
    "providers": ("sub", "namespace", "state"), "events": ("sub", "op", "status", "ts"),
    "storage_configs": ("vault_id", "crr_flag"), "protected_items": ("vault_id", "id"),
    # the vault's hardening settings (RSV-010..014), one record per vault
    "vault_security": ("vault_id", "immutability", "soft_delete", "sd_days", "enhanced_security", "mua", "key_uri",
                       "csr_state"),
    "pe_static": ("pe_id", "n_static"),     # PE-004: static IP configurations (properties.ipConfigurations)
    "guard_proxies": ("id", "vault_id", "guard_id"),
    "guards": ("id", "rid", "name", "sub"),
    "key_vaults": ("id", "rid", "name", "sub", "host", "pna", "default_action", "n_pe_conns"),
    # the workload side (WL-*)
    "workload_refs": ("vault_id", "vm_id", "source_id"),
    "vms": ("id", "rid", "name", "sub", "rg", "nic_id"),
    "wl_nics": ("nic_id", "nsg_id", "subnet_id", "ip", "asg_ids", "vm_id"),
    "subnet_refs": ("id", "nsg_id", "route_table_id"),
    "peerings": ("id", "vnet_id", "remote_vnet_id", "state"),
    "nsgs": ("id", "rid", "name", "has_defaults"),
    "nsg_rules": ("nsg_id", "name", "priority", "direction", "access", "protocol", "ports", "sources", "src_asgs",
                  "destinations", "default"),
    "route_tables": ("id", "rid", "name"), "routes": ("rt_id", "name", "prefix", "hop_type", "hop_ip"),
    # Azure Policy and management groups (auditor.model.policy): parameters are {name: value}, ids lower-cased
    "assignments": ("id", "rid", "name", "display_name", "scope", "definition_id", "enforcement", "params",
                    "not_scopes", "overrides", "locations"),
    "set_defs": ("id", "name", "display_name", "param_defaults", "members"),
    "policy_defs": ("id", "name", "param_defaults", "effect"),
    "mg_nodes": ("id", "name", "display_name"), "mg_edges": ("child", "parent"),
    "pe_policy": ("pe_id", "location", "dine_vaults"), "conn_prov": ("vault_id", "pe_id", "prov"),
}


class Tables:
    """Record lists per entity (tuples, fields in :data:`COLUMNS` order), filled by the extractors."""

    NAMES = tuple(COLUMNS)

    def __init__(self) -> None:
        for n in self.NAMES:
            setattr(self, n, [])

    def columns(self, name: str) -> dict[str, list]:
        """The records of one entity as column lists (the cheap way into a DataFrame)."""
        cols = COLUMNS[name]
        rows = getattr(self, name)
        if not rows:
            return {c: [] for c in cols}
        return dict(zip(cols, map(list, zip(*rows))))


def _fields(obj: dict, key: str, field: str) -> list[str]:
    """The non-empty string ``field`` of every object in the list ``obj[key]`` (shape-checked)."""
    out = []
    for item in items(obj, key):
        if not isinstance(item, dict):
            raise Malformed(f"{key} holds a non-object")
        v = item.get(field)  # text(item, field, f"{key}[].{field}"), without building the label each time
        if v is None:
            continue
        if not isinstance(v, str):
            raise Malformed(f"{key}[].{field} is {type(v).__name__}, expected a string")
        if v:
            out.append(v)
    return out


def _name(obj: dict, rid: str) -> str:
    n = obj.get("name")
    return n if isinstance(n, str) and n else rid.rstrip("/").split("/")[-1]


def _conn_state(p: dict) -> str | None:
    st = mapping(p, "privateLinkServiceConnectionState")
    status = text(st, "status", "privateLinkServiceConnectionState.status")
    return status.lower() if status else None


def _groups(p: dict) -> list[str]:
    return [g.lower() for g in text_items(p, "groupIds", "groupIds")]


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


def private_endpoint(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "private endpoint")
    sub, rg, _ = id_parts(rid)
    subnet = ref(p, "subnet")
    prov = text(p, "provisioningState")
    dine_vaults = []  # what af783da1 acts on: automatic AzureBackup connections to vaults (auditor.model.policy)
    for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
        for c in items(p, key):
            cp = props(c, key + "[]")
            target = (text(cp, "privateLinkServiceId") or "").lower()
            if "/providers/microsoft.recoveryservices/vaults/" not in target:
                continue
            groups = _groups(cp)
            if key == "privateLinkServiceConnections" and BACKUP in groups:
                dine_vaults.append(target.rstrip("/"))
            cid = c.get("id")
            t.conns.append((  # vault_id, pe_id, groups, backup, secondary, status, side, conn_id
                target.rstrip("/"), rid, ",".join(groups), bool(BACKUP_GROUPS.intersection(groups)),
                SECONDARY in groups, _conn_state(cp), "pe", (cid or "").lower() if isinstance(cid, str) else "", None))
    pe_nics = t.pe_nics
    for nid in _fields(p, "networkInterfaces", "id"):
        pe_nics.append((rid, nid.lower()))
    pe_fqdns = t.pe_fqdns
    for cfg in items(p, "customDnsConfigs"):
        if not isinstance(cfg, dict):
            raise Malformed("customDnsConfigs holds a non-object")
        fqdn = text(cfg, "fqdn", "customDnsConfigs[].fqdn")
        ips = text_items(cfg, "ipAddresses", "customDnsConfigs[].ipAddresses")
        if fqdn:
            for ip in ips or [None]:
                pe_fqdns.append((rid, fqdn, ip))  # pe_id, fqdn, ip
    static = items(p, "ipConfigurations")   # the static-IP form (NW: pestaticconfig); [] or absent: dynamic
    t.pe_static.append((rid, len(static)))  # pe_id, n_static
    # id, rid, name, sub, rg, subnet_id, vnet_id, prov_state
    t.pes.append((rid, o.get("id"), _name(o, rid), sub, rg, subnet, vnet_of(subnet), prov))
    t.pe_policy.append((rid, text(o, "location"), tuple(dine_vaults)))  # pe_id, location, dine_vaults


def zone_group(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "private DNS zone group")
    zones = []
    for cfg in items(p, "privateDnsZoneConfigs"):
        zid = text(props(cfg, "privateDnsZoneConfigs[]"), "privateDnsZoneId")
        if zid:
            zones.append(zid.lower())
    t.zone_groups.append((raw.id, parent_id(raw.id, "privateDnsZoneGroups"), tuple(zones)))  # id, pe_id, zone_ids


def nic(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "network interface")
    pe = ref(p, "privateEndpoint")
    t.nics.append((rid, pe))  # nic_id, pe_id
    ipconfigs, fqdns = t.nic_ipconfigs, t.nic_fqdns
    primary = None
    for ipc in items(p, "ipConfigurations"):
        ip = props(ipc, "ipConfigurations[]")
        ipc_id = ipc.get("id")
        if not (ipc_id and isinstance(ipc_id, str)):
            ipc_id = f"{rid}/ipconfigurations/{text(ipc, 'name') or len(ipconfigs)}"
        addr = text(ip, "privateIPAddress")
        version = (text(ip, "privateIPAddressVersion") or "IPv4").lower()
        # ipc_id, nic_id, subnet_id, ip, ipv4
        ipconfigs.append((ipc_id.lower(), rid, ref(ip, "subnet"), addr, version == "ipv4"))
        plc = mapping(ip, "privateLinkConnectionProperties")
        for fqdn in text_items(plc, "fqdns", "privateLinkConnectionProperties.fqdns"):
            fqdns.append((rid, fqdn, addr))  # nic_id, fqdn, ip
        if primary is None or (ip.get("primary") is True and primary[0] is not True):
            primary = (ip.get("primary"), ref(ip, "subnet"), addr,
                       tuple(a.lower() for a in _fields(ip, "applicationSecurityGroups", "id")))
    if pe is None:  # a VM's NIC (a private endpoint's NIC is no workload's)
        _, subnet_id, addr, asgs = primary or (None, None, None, ())
        # nic_id, nsg_id, subnet_id, ip, asg_ids, vm_id (the primary ipConfiguration, else the first)
        t.wl_nics.append((rid, ref(p, "networkSecurityGroup"), subnet_id, addr, asgs, ref(p, "virtualMachine")))


def _prefixes(p: dict) -> tuple[str, ...]:
    one = text(p, "addressPrefix")
    many = text_items(p, "addressPrefixes", "addressPrefixes")
    return tuple(dict.fromkeys(([one] if one else []) + many))


def _subnet(t: Tables, obj: dict, rid: str, vnet_id: str) -> None:
    p = props(obj, "subnet")
    ipcs = tuple(c.lower() for c in _fields(p, "ipConfigurations", "id"))
    t.subnets.append((rid, _name(obj, rid), vnet_id, _prefixes(p), ipcs))  # id, name, vnet_id, prefixes, ipc_ids
    nsg, rt = ref(p, "networkSecurityGroup"), ref(p, "routeTable")
    if nsg or rt:
        t.subnet_refs.append((rid, nsg, rt))  # id, nsg_id, route_table_id


def vnet(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "virtual network")
    dns = text_items(mapping(p, "dhcpOptions"), "dnsServers", "dhcpOptions.dnsServers")
    sub, rg, _ = id_parts(rid)
    t.vnets.append((rid, o.get("id"), _name(o, rid), sub, rg, tuple(dns)))  # id, rid, name, sub, rg, dns_servers
    for s in items(p, "subnets"):
        if not isinstance(s, dict):
            raise Malformed("subnets holds a non-object")
        sid = text(s, "id", "subnets[].id")
        sid = sid.lower() if sid else f"{rid}/subnets/{(text(s, 'name') or '').lower()}"
        _subnet(t, s, sid, rid)
    for peer in items(p, "virtualNetworkPeerings"):
        if not isinstance(peer, dict):
            raise Malformed("virtualNetworkPeerings holds a non-object")
        pid = text(peer, "id", "virtualNetworkPeerings[].id")
        _peering(t, peer, pid.lower() if pid else f"{rid}/virtualnetworkpeerings/{(text(peer, 'name') or '').lower()}",
                 rid)


def _peering(t: Tables, obj: dict, rid: str, vnet_id: str) -> None:
    p = props(obj, "virtual network peering")
    state = text(p, "peeringState", "virtualNetworkPeerings[].peeringState")
    # id, vnet_id, remote_vnet_id, state
    t.peerings.append((rid, vnet_id, ref(p, "remoteVirtualNetwork"), state.lower() if state else None))


def vnet_peering(t: Tables, raw: I.RawObject) -> None:
    _peering(t, raw.obj, raw.id, parent_id(raw.id, "virtualNetworkPeerings"))


def subnet(t: Tables, raw: I.RawObject) -> None:
    _subnet(t, raw.obj, raw.id, parent_id(raw.id, "subnets"))


def zone(t: Tables, raw: I.RawObject) -> None:
    sub, rg, name = id_parts(raw.id)
    t.zones.append((raw.id, raw.obj.get("id"), name.lower(), sub, rg))  # id, rid, name, sub, rg


def a_record(t: Tables, raw: I.RawObject) -> None:
    rid = raw.id
    p = props(raw.obj, "A record set")
    ips = _fields(p, "aRecords", "ipv4Address")
    zone_id = parent_id(rid, "A")
    # id, zone_id, zone_name, rel, ips
    t.records.append((rid, zone_id, zone_id.rsplit("/", 1)[-1], rid.rsplit("/", 1)[-1], tuple(ips)))


def vnet_link(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "virtual network link")
    zone_id = parent_id(raw.id, "virtualNetworkLinks")
    # id, zone_id, zone_name, vnet_id
    t.links.append((raw.id, zone_id, zone_id.rsplit("/", 1)[-1], ref(p, "virtualNetwork")))


def role_assignment(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "role assignment")
    role = text(p, "roleDefinitionId") or ""
    scope = text(p, "scope") or parent_id(raw.id, "providers/Microsoft.Authorization/roleAssignments")
    t.roles.append((  # id, principal_id, principal_type, role_guid, scope
        raw.id, (text(p, "principalId") or "").lower(), text(p, "principalType") or "",
        role.rstrip("/").rsplit("/", 1)[-1].lower(), scope.lower().rstrip("/") or "/"))


def role_definition(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "role definition")
    perms = []
    for block in items(p, "permissions"):
        if not isinstance(block, dict):
            raise Malformed("permissions holds a non-object")
        perms.append((tuple(a.lower() for a in text_items(block, "actions", "permissions[].actions")),
                      tuple(a.lower() for a in text_items(block, "notActions", "permissions[].notActions"))))
    name = raw.obj.get("name")
    guid = name if isinstance(name, str) and arm.GUID.match(name) else raw.id.rsplit("/", 1)[-1]
    t.role_defs.append((guid.lower(), tuple(perms), text(p, "roleType") or ""))  # guid, perms, role_type


def subscription(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    p = o.get("properties") if isinstance(o.get("properties"), dict) else {}
    tenant = text(o, "homeTenantId") or text(p, "homeTenantId") or text(o, "tenantId") or text(p, "tenantId")
    name = text(o, "displayName") or (o.get("name") if isinstance(o.get("name"), str) else None)
    t.subs.append((raw.id.rsplit("/", 1)[-1], (tenant or "").lower() or None, name))  # sub, tenant, name
    # Resource Graph's resourcecontainers rows: the groups above the subscription, its own parent first
    chain = [text(g, "name", "managementGroupAncestorsChain[].name") for g in items(p, "managementGroupAncestorsChain")
             if isinstance(g, dict)]
    child = raw.id
    for name_ in filter(None, chain):
        parent_ = arm.MANAGEMENT_GROUP_PREFIX + name_.lower()
        t.mg_edges.append((child, parent_))  # child, parent
        child = parent_


def provider(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    p = o.get("properties") if isinstance(o.get("properties"), dict) else o
    ns = text(o, "namespace") or text(p, "namespace") or raw.id.rsplit("/", 1)[-1]
    sub, _, _ = id_parts(raw.id)
    t.providers.append((sub, ns.lower(), text(p, "registrationState")))  # sub, namespace, state


def _value(o: dict, key: str) -> str | None:
    v = o.get(key)
    if isinstance(v, dict):
        return text(v, "value", f"{key}.value")
    if v is None or isinstance(v, str):
        return v
    raise Malformed(f"{key} is {type(v).__name__}, expected a string or {{value}}")


def event(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    sub = text(o, "subscriptionId") or id_parts(text(o, "resourceId") or text(o, "id") or "")[0]
    t.events.append((  # sub, op, status, ts
        (sub or "").lower(), (_value(o, "operationName") or "").lower(), (_value(o, "status") or "").lower(),
        text(o, "eventTimestamp")))


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


def vm(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "virtual machine")
    nics = items(mapping(p, "networkProfile"), "networkInterfaces")
    chosen = None
    for n in nics:
        nid = text(n, "id", "networkProfile.networkInterfaces[].id") if isinstance(n, dict) else None
        if not nid:
            continue
        if chosen is None:
            chosen = nid.lower()
        if props(n, "networkProfile.networkInterfaces[]").get("primary") is True:
            chosen = nid.lower()
            break
    sub, rg, _ = id_parts(rid)
    t.vms.append((rid, o.get("id"), _name(o, rid), sub, rg, chosen))  # id, rid, name, sub, rg, nic_id


def _strings(p: dict, one: str, many: str) -> tuple[str, ...]:
    v = text(p, one)
    return tuple(dict.fromkeys(([v] if v else []) + text_items(p, many, many)))


def nsg(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "network security group")
    defaults = items(p, "defaultSecurityRules")
    t.nsgs.append((rid, o.get("id"), _name(o, rid), bool(defaults)))  # id, rid, name, has_defaults
    rules = t.nsg_rules
    for key, default in (("securityRules", False), ("defaultSecurityRules", True)):
        for r in items(p, key):
            rp = props(r, key + "[]")
            prio = rp.get("priority")
            if isinstance(prio, str) and prio.isdigit():
                prio = int(prio)
            if not isinstance(prio, int) or isinstance(prio, bool):
                raise Malformed(f"{key}[].priority is {type(prio).__name__}, expected an integer")
            rules.append((  # nsg_id, name, priority, direction, access, protocol, ports, sources, src_asgs, dests, default
                rid, text(r, "name") or "", prio, (text(rp, "direction") or "").lower(),
                (text(rp, "access") or "").lower(), (text(rp, "protocol") or "").lower(),
                _strings(rp, "destinationPortRange", "destinationPortRanges"),
                _strings(rp, "sourceAddressPrefix", "sourceAddressPrefixes"),
                tuple(a.lower() for a in _fields(rp, "sourceApplicationSecurityGroups", "id")),
                _strings(rp, "destinationAddressPrefix", "destinationAddressPrefixes"), default))


def route_table(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "route table")
    t.route_tables.append((rid, o.get("id"), _name(o, rid)))  # id, rid, name
    for r in items(p, "routes"):
        rp = props(r, "routes[]")
        # rt_id, name, prefix, hop_type, hop_ip
        t.routes.append((rid, text(r, "name") or "", text(rp, "addressPrefix"),
                         (text(rp, "nextHopType") or "").lower(), text(rp, "nextHopIpAddress")))


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
    uri = text(p, "vaultUri") or ""
    host = uri.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower() or None
    acls = mapping(p, "networkAcls")
    # id, rid, name, sub, host, pna, default_action, n_pe_conns
    t.key_vaults.append((rid, o.get("id"), _name(o, rid), sub, host, text(p, "publicNetworkAccess"),
                         text(acls, "defaultAction", "networkAcls.defaultAction"), len(items(p, "privateEndpointConnections"))))


# ---------------------------------------------------------------- Azure Policy and management groups

def _param_values(p: dict, key: str, field: str) -> dict:
    """``{name: {field: v}}`` (assignment ``parameters`` -> value, definition ``parameters`` -> defaultValue) ->
    ``{name: v}`` for the names that have the field."""
    out = {}
    for name, spec in mapping(p, key).items():
        if not isinstance(spec, dict):
            raise Malformed(f"{key}.{name} is {type(spec).__name__}, expected an object")
        if field in spec:
            out[str(name)] = spec[field]
    return out


def _scopes(p: dict, key: str) -> tuple[str, ...]:
    return tuple(s.lower().rstrip("/") or "/" for s in text_items(p, key, key))


def policy_assignment(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "policy assignment")
    scope = text(p, "scope") or parent_id(rid, "providers/Microsoft.Authorization/policyAssignments")
    overrides = []
    for ov in items(p, "overrides"):
        if not isinstance(ov, dict):
            raise Malformed("overrides holds a non-object")
        sels = []
        for sel in items(ov, "selectors"):
            if not isinstance(sel, dict):
                raise Malformed("overrides[].selectors holds a non-object")
            for op in ("in", "notIn"):
                if sel.get(op) is not None:
                    sels.append(((text(sel, "kind", "overrides[].selectors[].kind") or "").lower(), op.lower(),
                                 tuple(v.lower() for v in text_items(sel, op, f"overrides[].selectors[].{op}"))))
        value = ov.get("value")
        overrides.append(((text(ov, "kind", "overrides[].kind") or "").lower(),
                          value if isinstance(value, str) else None, tuple(sels)))
    locations = []  # resourceSelectors[].selectors[] of kind resourceLocation: (op, regions)
    for rs in items(p, "resourceSelectors"):
        if not isinstance(rs, dict):
            raise Malformed("resourceSelectors holds a non-object")
        for sel in items(rs, "selectors"):
            if not isinstance(sel, dict):
                raise Malformed("resourceSelectors[].selectors holds a non-object")
            if (text(sel, "kind", "resourceSelectors[].selectors[].kind") or "").lower() != "resourcelocation":
                continue
            for op in ("in", "notIn"):
                if sel.get(op) is not None:
                    locations.append((op.lower(), tuple("".join(v.split()).lower() for v in text_items(
                        sel, op, f"resourceSelectors[].selectors[].{op}"))))
    t.assignments.append((  # id, rid, name, display_name, scope, definition_id, enforcement, params, not_scopes,
        rid, o.get("id"), _name(o, rid), text(p, "displayName"), scope.lower().rstrip("/") or "/",  # overrides,
        (text(p, "policyDefinitionId") or "").lower().rstrip("/"), text(p, "enforcementMode"),      # locations
        _param_values(p, "parameters", "value"), _scopes(p, "notScopes"), tuple(overrides), tuple(locations)))


def policy_set(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "policy set definition")
    members = []
    for m in items(p, "policyDefinitions"):
        if not isinstance(m, dict):
            raise Malformed("policyDefinitions holds a non-object")
        members.append((text(m, "policyDefinitionReferenceId", "policyDefinitions[].policyDefinitionReferenceId"),
                        (text(m, "policyDefinitionId", "policyDefinitions[].policyDefinitionId") or "").lower(),
                        _param_values(m, "parameters", "value")))
    # id, name, display_name, param_defaults, members
    t.set_defs.append((raw.id, _name(raw.obj, raw.id), text(p, "displayName"),
                       _param_values(p, "parameters", "defaultValue"), tuple(members)))


def policy_definition(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "policy definition")
    then = mapping(mapping(p, "policyRule"), "then")
    effect = then.get("effect") if isinstance(then.get("effect"), str) else None
    # id, name, param_defaults, effect (the rule's literal effect or its parameter expression)
    t.policy_defs.append((raw.id, _name(raw.obj, raw.id), _param_values(p, "parameters", "defaultValue"), effect))


def _parent_ref(p: dict) -> str | None:
    parent = ref(mapping(p, "details"), "parent") or ref(p, "parent")
    return parent.rstrip("/") if parent else None


def management_group(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "management group")
    t.mg_nodes.append((rid, _name(o, rid), text(p, "displayName")))  # id, name, display_name
    parent = _parent_ref(p)
    if parent:
        t.mg_edges.append((rid, parent))  # child, parent
    # $expand=path (root first) / $expand=ancestors (parent first): the groups above it, by name
    details = mapping(p, "details")
    above = [text(g, "name", "details.path[].name") for g in items(details, "path") if isinstance(g, dict)][::-1]
    above = above or [text(g, "name", "details.managementGroupAncestorsChain[].name")
                      for g in items(details, "managementGroupAncestorsChain") if isinstance(g, dict)]
    child = rid
    for name_ in filter(None, above):
        if arm.MANAGEMENT_GROUP_PREFIX + name_.lower() == child:
            continue
        t.mg_edges.append((child, arm.MANAGEMENT_GROUP_PREFIX + name_.lower()))
        child = arm.MANAGEMENT_GROUP_PREFIX + name_.lower()

    def walk(children: list, under: str, depth: int) -> None:  # $expand=children&$recurse=true
        if depth > 10:
            raise Malformed("children nested more than 10 levels (management groups have at most 6)")
        for c in children:
            if not isinstance(c, dict):
                raise Malformed("children holds a non-object")
            cid = text(c, "id", "children[].id")
            if cid:
                t.mg_edges.append((cid.lower().rstrip("/"), under))
                walk(items(c, "children"), cid.lower().rstrip("/"), depth + 1)
    walk(items(p, "children"), rid, 0)


def mg_subscription(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "management group subscription")
    parent = _parent_ref(p)
    if not parent and "/subscriptions/" in raw.id and raw.id.startswith(arm.MANAGEMENT_GROUP_PREFIX):
        parent = raw.id[:raw.id.rindex("/subscriptions/")]
    if parent:
        t.mg_edges.append(("/subscriptions/" + raw.id.rsplit("/", 1)[-1], parent))  # child, parent


Extractor = Callable[[Tables, I.RawObject], None]

# Per ARM type: its extractor and the tables it appends to (what is undone when the object turns out malformed).
EXTRACTORS: dict[str, tuple[Extractor, tuple[str, ...]]] = {
    arm.VAULT: (vault, ("vaults", "vault_security", "conns", "conn_prov")),
    arm.VAULT_PE_CONNECTION: (vault_pe_connection, ("conns", "conn_prov")),
    arm.PRIVATE_ENDPOINT: (private_endpoint, ("conns", "pe_nics", "pe_fqdns", "pe_static", "pes", "pe_policy")),
    arm.ZONE_GROUP: (zone_group, ("zone_groups",)),
    arm.NIC: (nic, ("nics", "nic_ipconfigs", "nic_fqdns", "wl_nics")),
    arm.VNET: (vnet, ("vnets", "subnets", "subnet_refs", "peerings")),
    arm.SUBNET: (subnet, ("subnets", "subnet_refs")),
    arm.ZONE: (zone, ("zones",)),
    arm.A_RECORD: (a_record, ("records",)),
    arm.VNET_LINK: (vnet_link, ("links",)),
    arm.ROLE_ASSIGNMENT: (role_assignment, ("roles",)),
    arm.ROLE_DEFINITION: (role_definition, ("role_defs",)),
    arm.SUBSCRIPTION: (subscription, ("subs", "mg_edges")),
    arm.PROVIDER: (provider, ("providers",)),
    arm.EVENT: (event, ("events",)),
    arm.STORAGE_CONFIG: (storage_config, ("storage_configs",)),
    arm.PROTECTED_ITEM: (protected_item, ("protected_items", "workload_refs")),
    arm.PROTECTION_CONTAINER: (protection_container, ("workload_refs",)),
    arm.VM: (vm, ("vms",)),
    arm.NSG: (nsg, ("nsgs", "nsg_rules")),
    arm.ROUTE_TABLE: (route_table, ("route_tables", "routes")),
    arm.VNET_PEERING: (vnet_peering, ("peerings",)),
    arm.GUARD_PROXY: (guard_proxy, ("guard_proxies",)),
    arm.RESOURCE_GUARD: (resource_guard, ("guards",)),
    arm.KEY_VAULT: (key_vault, ("key_vaults",)),
    arm.POLICY_ASSIGNMENT: (policy_assignment, ("assignments",)),
    arm.POLICY_SET: (policy_set, ("set_defs",)),
    arm.POLICY_DEFINITION: (policy_definition, ("policy_defs",)),
    arm.MANAGEMENT_GROUP: (management_group, ("mg_nodes", "mg_edges")),
    arm.MG_SUBSCRIPTION: (mg_subscription, ("mg_edges",)),
}


def extract(ing: I.Ingested) -> tuple[Tables, dict[str, set[str]]]:
    """Run every extractor; a malformed object becomes a warning and an error record, never a crash.

    Returns the tables and, per type, the ids of the objects that were unreadable."""
    t = Tables()
    bad: dict[str, set[str]] = defaultdict(set)
    plan = {kind: (fn, [getattr(t, n) for n in writes]) for kind, (fn, writes) in EXTRACTORS.items()}
    for raw in ing.objects.values():
        step = plan.get(raw.type)
        if step is None:
            continue
        fn, lists = step
        marks = [*map(len, lists)]
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
