"""The workload side (WL-001..004, docs/rules.md): the ``workloads`` view, one row per (vault, protected
VM), with the VM's NIC, IP, subnet, VNet, DNS servers, peerings to the vault's endpoint VNets, linked zone names,
route-table next hops and NSG verdicts for TCP 443, computed once from the extractors' records.

The NSG verdicts are evaluated per distinct (NSG, source IP, application security groups, destination) over plain
lists of the NSG's outbound rules, pre-filtered and sorted once per NSG; nothing here loops over rules per row.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache

import pandas as pd

from .. import arm
from ..extract import Tables

# The view's columns, each with its meaning.
COLUMNS = {
    "id": "the VM id (lower-cased): the subject",
    "rid": "the VM id as ARM spelled it (as the container or item names it when the VM is not in the input)",
    "name": "the VM's name", "sub": "its subscription", "rg": "its resource group",
    "vault_id": "the vault whose AzureWorkload container or item names the VM",
    "in_input": "the VM, its NIC and its VNet (with the subnet) are all in the input",
    "not_in_input": "what is not in the input, as the NotApplicable message says it",
    "malformed": "the VM, its NIC or its VNet was in the input but unreadable",
    "vault_uses_pe": "the vault has a backup private endpoint connection",
    "nic_id": "the VM's primary NIC (networkProfile entry with primary true, else the first)",
    "ip": "the private IP of the NIC's primary ipConfiguration (else the first)",
    "asg_ids": "the application security groups that ipConfiguration lists",
    "subnet_id": "that ipConfiguration's subnet", "vnet_id": "the subnet's VNet",
    "dns_servers": "the workload VNet's dhcpOptions.dnsServers", "custom_dns": "dns_servers is not empty",
    "endpoint_vnets": "the VNets of the vault's backup PEs and their storage PEs",
    "endpoint_ips": "the expected IPs of those PEs' FQDNs", "endpoint_zones": "the zone names of those FQDNs",
    "in_endpoint_vnet": "the workload VNet is an endpoint VNet",
    "peered_with": "endpoint VNets peered (Connected, either side) with the workload VNet: 'vnet (peering name)'",
    "peering_notes": "peerings between the workload VNet and an endpoint VNet that are not Connected",
    "linked_zones": "endpoint zone names with a private DNS zone linked to the workload VNet",
    "missing_zones": "endpoint zone names with no zone of that name linked to the workload VNet",
    "route_table_id": "the workload subnet's route table", "route_table_missing": "referenced, not in the input",
    "forwarding_routes": "routes holding an endpoint IP with next hop VirtualAppliance/VirtualNetworkGateway",
    "forced_tunnel": "next hop IP of a 0.0.0.0/0 route to a VirtualAppliance (None: none)",
    "nsg_ids": "the NSGs that apply: the NIC's, then the subnet's", "nsg_missing": "of those, not in the input",
    "entra_blocks": "the NSG rules that deny outbound TCP 443 to Microsoft Entra ID ('NSG x rule y (priority p)')",
    "entra_allows": "for the other NSGs, the rule that decides (or that none does)",
    "pe_blocks": "per blocking rule, the endpoint IPs it denies outbound TCP 443 to",
    "pe_blocked_ips": "the endpoint IPs some NSG blocks",
    "deps": "the ids the row's verdicts rest on (zone:<name> for zone names not linked)",
}
TEXT = ("id", "rid", "name", "sub", "rg", "vault_id", "nic_id", "ip", "subnet_id", "vnet_id", "route_table_id",
        "forced_tunnel", "not_in_input")
TUPLES = ("asg_ids", "dns_servers", "endpoint_vnets", "endpoint_ips", "endpoint_zones", "peered_with",
          "peering_notes", "linked_zones", "missing_zones", "forwarding_routes", "nsg_ids", "nsg_missing",
          "entra_blocks", "entra_allows", "pe_blocks", "pe_blocked_ips", "deps")
ENTRA = "entra"   # the destination "Microsoft Entra ID" (any other destination is an IP)


def _first(records: dict, key: str) -> dict:
    """key value -> the first record (a dict of the columns) with it."""
    out: dict = {}
    cols = list(records)
    for row in zip(*records.values()):
        k = row[cols.index(key)]
        if k not in out:
            out[k] = dict(zip(cols, row))
    return out


@lru_cache(maxsize=4096)
def _net(prefix: str):
    try:
        return ipaddress.ip_network(prefix.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _addr(ip: str):
    try:
        return ipaddress.ip_address(ip.split("/")[0].strip())
    except ValueError:
        return None


def _ip_key(ip: str):
    a = _addr(ip)
    return (0, a.version, int(a), "") if a is not None else (1, 0, 0, ip)


def holds(prefix, ip) -> bool:
    """A CIDR (or a single address) holds an IP."""
    if not isinstance(prefix, str) or not isinstance(ip, str):
        return False
    net, a = _net(prefix), _addr(ip)
    return net is not None and a is not None and net.version == a.version and a in net


def _covers_443(ports: tuple) -> bool:
    for p in ports:
        p = p.strip()
        if p in ("*", "443"):
            return True
        lo, sep, hi = p.partition("-")
        if sep and lo.strip().isdecimal() and hi.strip().isdecimal() and int(lo) <= 443 <= int(hi):
            return True
    return False


def _source_covers(sources: tuple, src_asgs: tuple, ip, asgs: tuple) -> bool:
    if any(s.lower() in ("*", "virtualnetwork") or holds(s, ip) for s in sources):
        return True
    return bool(set(src_asgs) & set(asgs))


def _dest_covers(dests: tuple, target: str) -> bool:
    if target == ENTRA:
        return any(d.lower() in arm.ENTRA_DESTINATIONS for d in dests)
    return any(d.lower() in ("*", "virtualnetwork") or holds(d, target) for d in dests)


class NsgJudge:
    """NSG verdicts for outbound TCP 443: each NSG's candidate rules (outbound, TCP or any protocol, a destination
    port covering 443) sorted by priority once; a verdict per distinct (NSG, IP, ASGs, destination), cached."""

    def __init__(self, t: Tables):
        nsgs = _first(t.columns("nsgs"), "id")
        self.names = {i: r["name"] for i, r in nsgs.items()}
        rules: dict[str, dict] = {i: {} for i in nsgs}
        for r in zip(*t.columns("nsg_rules").values()):
            nsg_id, name, prio, direction, access, protocol, ports, sources, src_asgs, dests, default = r
            if nsg_id in rules and direction == "outbound" and protocol in ("*", "tcp") and _covers_443(ports):
                rules[nsg_id].setdefault((default, name.lower()), (prio, name, access, sources, src_asgs, dests))
        for i, r in nsgs.items():
            if not r["has_defaults"]:  # Azure's defaults apply when the NSG lists none
                for name, prio, src, dst, access in arm.NSG_DEFAULT_OUTBOUND:
                    rules[i].setdefault((True, name.lower()), (prio, name, access.lower(), (src,), (), (dst,)))
        self.rules = {i: sorted(v.values(), key=lambda x: x[0]) for i, v in rules.items()}
        self._cache: dict = {}

    def __contains__(self, nsg_id) -> bool:
        return nsg_id in self.rules

    def decide(self, nsg_id: str, ip, asgs: tuple, target: str):
        """(access, rule name, priority) of the first rule that matches, None when none does."""
        key = (nsg_id, ip, asgs, target)
        hit = self._cache.get(key, False)
        if hit is False:
            hit = None
            for prio, name, access, sources, src_asgs, dests in self.rules.get(nsg_id, ()):
                if _source_covers(sources, src_asgs, ip, asgs) and _dest_covers(dests, target):
                    hit = (access, name, prio)
                    break
            self._cache[key] = hit
        return hit

    def label(self, nsg_id: str, hit) -> str:
        name = self.names.get(nsg_id) or nsg_id.rsplit("/", 1)[-1]
        return f"NSG {name} rule {hit[1]} (priority {hit[2]})" if hit else f"NSG {name} (no rule matches)"


def _last(rid) -> str:
    return rid.rsplit("/", 1)[-1] if isinstance(rid, str) else "?"


class _Lookups:
    """What every workload row reads, indexed once: the network records, the NSG judge, each vault's endpoint side,
    the peerings between VNets and the zones linked to each VNet."""

    def __init__(self, t: Tables, bad: dict, vaults: pd.DataFrame, ep: pd.DataFrame, fqv: pd.DataFrame) -> None:
        self.vms = _first(t.columns("vms"), "id")
        self.nics = _first(t.columns("wl_nics"), "nic_id")
        self.subnets = _first(t.columns("subnets"), "id")
        self.subnet_refs = _first(t.columns("subnet_refs"), "id")
        self.vnet_dns = {i: d for i, d in zip(*(t.columns("vnets")[c] for c in ("id", "dns_servers")))}
        self.route_tables = {i for i in t.columns("route_tables")["id"]}
        self.routes: dict[str, list] = {}
        for rt, name, prefix, hop, hop_ip in zip(*t.columns("routes").values()):
            self.routes.setdefault(rt, []).append((name, prefix, hop, hop_ip))
        self.judge = NsgJudge(t)
        self.uses_pe = dict(zip(vaults["id"].tolist(), vaults["uses_pe"].tolist()))
        self.endpoints = _endpoint_sides(ep, fqv)
        self.connected, self.other = _peerings(t)
        self.linked = _linked_zones(t)
        self.bad_ids = set().union(*(bad.get(k, set()) for k in (arm.VM, arm.NIC, arm.VNET)))


def _endpoint_sides(ep: pd.DataFrame, fqv: pd.DataFrame) -> dict[str, list]:
    """vault id -> [endpoint VNets, IPs, zone names, PEs]: its backup PEs and their storage PEs."""
    ev: dict[str, list] = {}
    held = ep[(ep["backup"] | ep["storage"]) & ep["in_input"]]
    pe_vaults = dict(zip(held["id"].tolist(), held["related_vaults"].tolist()))
    for pid, vnet in zip(held["id"].tolist(), held["vnet_id"].tolist()):
        for v in pe_vaults[pid]:
            acc = ev.setdefault(v, [set(), set(), set(), set()])
            acc[3].add(pid)
            if isinstance(vnet, str):
                acc[0].add(vnet)
    for pid, exp, zn in zip(fqv["pe_id"].tolist(), fqv["expected"].tolist(), fqv["zone_name"].tolist()):
        for v in pe_vaults.get(pid, ()):
            acc = ev[v]
            acc[1].update(exp)
            acc[2].add(zn)
    return ev


def _peerings(t: Tables) -> tuple[dict[tuple, str], dict[tuple, list]]:
    """Peerings between any two VNets: the Connected pairs (either side) and notes on the others."""
    peer = _first(t.columns("peerings"), "id")
    connected: dict[tuple, str] = {}
    other: dict[tuple, list] = {}
    for pid, r in peer.items():
        a, b, st = r["vnet_id"], r["remote_vnet_id"], r["state"]
        if not isinstance(b, str):
            continue
        if st == "connected":
            connected.setdefault((a, b), _last(pid))
            connected.setdefault((b, a), _last(pid) + f" on {_last(a)}")
        else:
            note = f"peering {_last(pid)} on {_last(a)} to {_last(b)}: {st or 'state unknown'}"
            other.setdefault((a, b), []).append(note)
            other.setdefault((b, a), []).append(note)
    return connected, other


def _linked_zones(t: Tables) -> dict[str, set]:
    """VNet id -> the names of the private DNS zones linked to it."""
    lk = t.columns("links")
    linked: dict[str, set] = {}
    for zn, vnet in zip(lk["zone_name"], lk["vnet_id"]):
        if isinstance(vnet, str):
            linked.setdefault(vnet, set()).add(zn)
    return linked


def _missing(lk: _Lookups, vm_id: str, vm, nic_id, nic, subnet_id, vnet_id, sn) -> str | None:
    """Why the workload's network cannot be judged (the first link of VM -> NIC -> subnet -> VNet not in the input)."""
    return (f"the VM {vm_id} is not in the input" if vm is None else
            "the VM lists no network interface" if not nic_id else
            f"the VM's network interface {nic_id} is not in the input" if nic is None else
            "the VM's network interface names no subnet" if not subnet_id else
            f"the workload's virtual network {vnet_id} is not in the input" if vnet_id not in lk.vnet_dns else
            f"the workload's subnet {subnet_id} is not in the input" if sn is None else None)


def _forwarding(routes, e_ips: tuple) -> tuple[list, str | None]:
    """The routes that forward the endpoint IPs through an appliance or gateway, and the forced-tunnel next hop."""
    fwd, forced = [], None
    for name, prefix, hop, hop_ip in routes:
        if hop in arm.FORWARDING_HOPS and any(holds(prefix, x) for x in e_ips):
            kind = "VirtualAppliance" if hop == "virtualappliance" else "VirtualNetworkGateway"
            fwd.append(f"{kind} {hop_ip or ''}".strip() + f" (route {name}, {prefix})")
        if hop == "virtualappliance" and isinstance(prefix, str) and prefix.strip() == "0.0.0.0/0":
            forced = hop_ip or "a virtual appliance"
    return fwd, forced


def _nsg_verdicts(judge: NsgJudge, present: tuple, ip, asgs, e_ips: tuple) -> tuple[list, list, dict, list]:
    """(Entra ID blocks, Entra ID allows, PE blocks: NSG label -> endpoint IPs, blocked endpoint IPs) for TCP 443."""
    entra_blocks, entra_allows = [], []
    for n in present:
        hit = judge.decide(n, ip, asgs, ENTRA)
        (entra_blocks if hit and hit[0] == "deny" else entra_allows).append(judge.label(n, hit))
    pe_blocks: dict[str, list] = {}
    blocked_ips = []
    for x in e_ips:
        for n in present:
            hit = judge.decide(n, ip, asgs, x)
            if hit and hit[0] == "deny":
                pe_blocks.setdefault(judge.label(n, hit), []).append(x)
                if not blocked_ips or blocked_ips[-1] != x:
                    blocked_ips.append(x)
    return entra_blocks, entra_allows, pe_blocks, blocked_ips


def _workload_row(lk: _Lookups, vault_id: str, vm_id: str) -> tuple:
    """One (vault, protected VM) row, its fields in :data:`_ROW_COLUMNS` order."""
    vm = lk.vms.get(vm_id)
    nic_id = vm["nic_id"] if vm else None
    nic = lk.nics.get(nic_id) if nic_id else None
    subnet_id = nic["subnet_id"] if nic else None
    vnet_id = arm.vnet_of(subnet_id)
    sn = lk.subnets.get(subnet_id) if subnet_id else None
    missing = _missing(lk, vm_id, vm, nic_id, nic, subnet_id, vnet_id, sn)
    e_vnets, e_ips, e_zones, e_pes = lk.endpoints.get(vault_id, (set(), set(), set(), set()))
    e_vnets, e_zones, e_pes = tuple(sorted(e_vnets)), tuple(sorted(e_zones)), tuple(sorted(e_pes))
    e_ips = tuple(sorted(e_ips, key=_ip_key))
    ip, asgs = (nic["ip"], nic["asg_ids"]) if nic else (None, ())
    sref = lk.subnet_refs.get(subnet_id) or {}
    nsg_ids = tuple(dict.fromkeys(x for x in ((nic or {}).get("nsg_id"), sref.get("nsg_id")) if x))
    rt = sref.get("route_table_id")
    dns = tuple(lk.vnet_dns.get(vnet_id) or ())
    peered = tuple(f"{_last(x)} ({lk.connected[(vnet_id, x)]})" for x in e_vnets if (vnet_id, x) in lk.connected)
    notes = tuple(n for x in e_vnets for n in lk.other.get((vnet_id, x), ()))
    have = lk.linked.get(vnet_id, set())
    lz = tuple(z for z in e_zones if z in have)
    mz = tuple(z for z in e_zones if z not in have)
    fwd, forced = _forwarding(lk.routes.get(rt, ()) if rt else (), e_ips)
    judge = lk.judge
    present = tuple(n for n in nsg_ids if n in judge)
    entra_blocks, entra_allows, pe_blocks, blocked_ips = _nsg_verdicts(judge, present, ip, asgs, e_ips)
    deps = (vm_id, vault_id) + tuple(x for x in (nic_id, subnet_id, vnet_id, rt) if x) + nsg_ids + e_vnets \
        + e_pes + tuple("zone:" + z for z in mz)
    bad_ids = lk.bad_ids
    return (
        vm_id, vm["rid"] if vm else vm_id, vm["name"] if vm else _last(vm_id), vault_id, missing is None, missing,
        bool(vm_id in bad_ids or (nic_id in bad_ids) or (vnet_id in bad_ids)), bool(lk.uses_pe.get(vault_id, False)),
        nic_id, ip, tuple(asgs), subnet_id, vnet_id, dns, bool(dns), e_vnets, e_ips, e_zones,
        vnet_id in e_vnets, peered, notes, lz, mz, rt, bool(rt) and rt not in lk.route_tables, tuple(fwd), forced,
        nsg_ids, tuple(n for n in nsg_ids if n not in judge), tuple(entra_blocks), tuple(entra_allows),
        tuple(f"{', '.join(v)} blocked by {k}" for k, v in pe_blocks.items()), tuple(blocked_ips), deps)


# The fields of a workload row (:func:`_workload_row`), before sub and rg are added.
_ROW_COLUMNS = ("id", "rid", "name", "vault_id", "in_input", "not_in_input", "malformed", "vault_uses_pe", "nic_id",
                "ip", "asg_ids", "subnet_id", "vnet_id", "dns_servers", "custom_dns", "endpoint_vnets", "endpoint_ips",
                "endpoint_zones", "in_endpoint_vnet", "peered_with", "peering_notes", "linked_zones", "missing_zones",
                "route_table_id", "route_table_missing", "forwarding_routes", "forced_tunnel", "nsg_ids",
                "nsg_missing", "entra_blocks", "entra_allows", "pe_blocks", "pe_blocked_ips", "deps")


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """The rows as the view: object columns, sub and rg from the VM id, the flags as bools, in :data:`COLUMNS` order."""
    w = pd.DataFrame({c: pd.Series(list(v), dtype=object) for c, v in zip(_ROW_COLUMNS, zip(*rows))})
    sub_rg = [arm.sub_and_group(i) for i in w["id"].tolist()]
    w["sub"] = pd.Series([s for s, _ in sub_rg], dtype=object)
    w["rg"] = pd.Series([g for _, g in sub_rg], dtype=object)
    for c in ("in_input", "malformed", "vault_uses_pe", "custom_dns", "in_endpoint_vnet", "route_table_missing"):
        w[c] = w[c].astype(bool)
    return w[list(COLUMNS)]


def build_workloads(t: Tables, bad: dict, vaults: pd.DataFrame, ep: pd.DataFrame, fqv: pd.DataFrame) -> pd.DataFrame:
    """The ``workloads`` view (see :data:`COLUMNS`): one row per (vault, protected VM)."""
    refs = t.columns("workload_refs")
    pairs = list(dict.fromkeys(zip(refs["vault_id"], refs["vm_id"])))
    if not pairs:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    lk = _Lookups(t, bad, vaults, ep, fqv)
    return _frame([_workload_row(lk, vault_id, vm_id) for vault_id, vm_id in pairs])


def chain_entries(w: pd.DataFrame) -> dict[str, list[dict]]:
    """vault id -> its workloads for the HTML resolution chain: VM -> VNet -> reach -> linked zones -> NSG verdicts
    (each link with its state: ok, bad or na, and ``broken`` when any link is bad)."""
    out: dict[str, list[dict]] = {}
    if w is None or w.empty:
        return out
    for r in w.to_dict("records"):
        if not r["in_input"]:
            entry = dict(vm_id=r["rid"], vm_name=r["name"], in_input=False, note=r["not_in_input"] or "",
                         vnet=None, reach=("na", "—"), zones=("na", "—"), entra=("na", "—"), endpoints=("na", "—"),
                         broken=False)
            out.setdefault(r["vault_id"], []).append(entry)
            continue
        pe = r["vault_uses_pe"]
        if not pe:
            reach = ("na", "vault uses no private endpoints")
        elif r["in_endpoint_vnet"]:
            reach = ("ok", "same VNet as the private endpoint")
        elif r["peered_with"]:
            reach = ("ok", "peered: " + ", ".join(r["peered_with"]))
        elif r["forwarding_routes"]:
            reach = ("na", "through " + "; ".join(r["forwarding_routes"]) + ": not verifiable from configuration")
        elif r["route_table_missing"]:
            reach = ("na", f"route table {r['route_table_id']} not in the input")
        else:
            reach = ("bad", "not reachable: no peering to " + ", ".join(_last(v) for v in r["endpoint_vnets"])
                     + ("; " + "; ".join(r["peering_notes"]) if r["peering_notes"] else ""))
        if not pe or r["in_endpoint_vnet"]:
            zones = ("na", "the endpoint's VNet (see the endpoints above)" if pe else "—")
        elif r["custom_dns"]:
            zones = ("na", "custom DNS " + ", ".join(r["dns_servers"]) + ": run --resolve from a VM in this VNet")
        elif r["missing_zones"]:
            zones = ("bad", "not linked: " + ", ".join(r["missing_zones"]))
        else:
            zones = ("ok", "linked: " + ", ".join(r["linked_zones"]) if r["linked_zones"] else "no zones needed")
        if r["nsg_missing"]:
            entra = endpoints = ("na", "NSG not in the input: " + ", ".join(r["nsg_missing"]))
        else:
            entra = ("bad", "; ".join(r["entra_blocks"])) if r["entra_blocks"] else (
                "ok", "; ".join(r["entra_allows"]) or "no NSG applies")
            if r["forced_tunnel"]:
                entra = (entra[0], entra[1] + f" · outbound forced through {r['forced_tunnel']}")
            if not pe:
                endpoints = ("na", "—")
            elif r["pe_blocks"]:
                endpoints = ("bad", "; ".join(r["pe_blocks"]))
            else:
                endpoints = ("ok", f"{len(r['endpoint_ips'])} endpoint IP(s) allowed")
        entry = dict(vm_id=r["rid"], vm_name=r["name"], in_input=True, note=f"{r['ip'] or '?'} · NIC {_last(r['nic_id'])}",
                     vnet=r["vnet_id"], reach=reach, zones=zones, entra=entra, endpoints=endpoints,
                     broken=any(c[0] == "bad" for c in (reach, zones, entra, endpoints)))
        out.setdefault(r["vault_id"], []).append(entry)
    for v in out.values():
        v.sort(key=lambda e: (not e["broken"], e["vm_name"] or ""))
    return out
