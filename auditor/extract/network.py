"""Extractors for the network: private endpoints, their DNS zone groups, NICs, virtual networks, subnets,
peerings, NSGs, route tables and VMs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ingest as I
from ..arm import BACKUP, BACKUP_GROUPS, SECONDARY, id_parts, parent as parent_id, vnet_of
from ..fields import Malformed, items, mapping, props, ref, text, text_items
from ._common import _conn_state, _fields, _groups, _name

if TYPE_CHECKING:
    from . import Tables


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
