"""The subnets and vnets views: the subnets and VNets in the input or holding a backup (or storage) endpoint, the
endpoints and vaults they hold, subnet address capacity and the VNets' DNS servers."""
from __future__ import annotations

import ipaddress
import re
from itertools import chain

import pandas as pd

from .. import arm
from ..extract import Tables
from .frames import records
from .helpers import first_or_none, group_pairs, identify, isna, objects, tuples

# a.b.c.d/n as ipaddress reads it (octets 0-255 without leading zeros, n 0-32): its size without asking ipaddress
_IPV4_CIDR = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                        r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])")


def ipv4_capacity(prefixes: tuple) -> int | None:
    """Usable IPv4 addresses of the prefixes (Azure reserves 5 per subnet), None when none is an IPv4 prefix."""
    total, seen = 0, False
    for p in prefixes:
        m = _IPV4_CIDR.fullmatch(p) if isinstance(p, str) else None
        if m:
            seen = True
            total += max(2 ** (32 - int(m.group(1))) - 5, 0)
            continue
        try:
            net = ipaddress.ip_network(p, strict=False)
        except ValueError:
            continue
        if net.version == 4:
            seen = True
            total += max(net.num_addresses - 5, 0)
    return total if seen else None


def holding(view: pd.DataFrame, endpoints: pd.DataFrame, where: str, vaults: str) -> pd.DataFrame:
    """For each row of a subnet or VNet view: the endpoints it holds (``where`` is their subnet_id or vnet_id), their
    names and vaults (``vaults`` is the endpoints' column of vault id tuples), and the lowest vault id."""
    held: dict[str, tuple[set, set, set]] = {}
    for key, vs, name, pid in zip(*(endpoints[c].tolist() for c in (where, vaults, "name", "id"))):
        if isna(key):
            continue
        acc = held.get(key)
        if acc is None:
            held[key] = acc = (set(), set(), set())
        acc[0].update(vs)  # vault id tuples hold no nulls; endpoint names and ids are never null
        acc[1].add(name)
        acc[2].add(pid)
    rows = [held.get(i) for i in view["id"].tolist()]
    for j, col in enumerate(("vault_ids", "pe_names", "pe_ids")):
        view[col] = objects([tuple(sorted(a[j])) if a else () for a in rows], view.index)
    view["vault_id"] = first_or_none(view["vault_ids"])
    return view


def _prefixes_and_usage(t: Tables, subnets: pd.DataFrame) -> tuple[dict, dict]:
    """A subnet seen twice (inline in its VNet and standalone) is one subnet: the union of its prefixes, and the
    number of distinct IP configurations in it (the subnet's list and the NICs')."""
    ids = subnets["id"].tolist()
    prefixes = group_pairs((i, p) for i, ps in zip(ids, subnets["prefixes"].tolist()) for p in ps)
    nic_ipc = records(t, "nic_ipconfigs")
    ipcs = set(chain(((i, c) for i, cs in zip(ids, subnets["ipc_ids"].tolist()) for c in cs),
                     zip(nic_ipc["subnet_id"], nic_ipc["ipc_id"])))
    used: dict[str, int] = {}
    for i, c in ipcs:
        if not (isna(i) or isna(c)):
            used[i] = used.get(i, 0) + 1
    return prefixes, used


def subnet_view(t: Tables, subnets: pd.DataFrame, endpoints: pd.DataFrame, bad: dict[str, set[str]]) -> pd.DataFrame:
    """The subnets in the input and those only a backup endpoint names, with capacity, use and what they hold."""
    prefixes, used = _prefixes_and_usage(t, subnets)
    sn = subnets.drop_duplicates("id")[["id", "name", "vnet_id"]].reset_index(drop=True)
    sn["prefixes"] = sn["id"].map(prefixes)
    sn["used"] = sn["id"].map(used)
    sn["in_input"] = True
    backup = endpoints[endpoints["backup"] & endpoints["in_input"]]
    referenced = set(backup["subnet_id"].dropna()) - set(sn["id"])
    sn = pd.concat([sn, pd.DataFrame({"id": sorted(referenced), "in_input": False})], ignore_index=True)
    sn["vnet_id"] = sn["vnet_id"].where(sn["vnet_id"].notna(), sn["id"].map(arm.vnet_of))
    sn["prefixes"] = tuples(sn["prefixes"])
    cap = {p: ipv4_capacity((p,)) for p in {p for ps in sn["prefixes"] for p in ps}}
    sn["capacity"] = [sum(cap[p] for p in ps if cap[p] is not None) if any(cap[p] is not None for p in ps)
                      else None for ps in sn["prefixes"]]
    sn["used"] = sn["used"].fillna(0).astype(int)
    sn["free"] = sn["capacity"] - sn["used"]
    sn = holding(sn, backup, "subnet_id", "vault_ids")
    sn["holds_backup_pe"] = sn["pe_ids"].map(len) > 0
    sn = identify(sn)
    sn["deps"] = [(i,) + ((v,) if isinstance(v, str) else ()) + p for i, v, p in
                  zip(sn["id"], sn["vnet_id"], sn["pe_ids"])]
    sn["malformed"] = sn["vnet_id"].isin(bad.get(arm.VNET, set())) | sn["id"].isin(bad.get(arm.SUBNET, set()))
    return sn


def vnet_view(vnets: pd.DataFrame, endpoints: pd.DataFrame, bad: dict[str, set[str]]) -> pd.DataFrame:
    """The VNets in the input, those only a backup or storage endpoint names, and the malformed ones (stubs)."""
    holders = endpoints[(endpoints["backup"] | endpoints["storage"]) & endpoints["in_input"]].dropna(subset=["vnet_id"])
    vn = vnets.assign(in_input=True, malformed=False)
    referenced = set(holders["vnet_id"]) - set(vn["id"])
    stubs = bad.get(arm.VNET, set()) - set(vn["id"])
    vn = pd.concat([vn, pd.DataFrame({"id": sorted(referenced - stubs), "in_input": False, "malformed": False}),
                    pd.DataFrame({"id": sorted(stubs), "in_input": False, "malformed": True})], ignore_index=True)
    vn = identify(vn)
    vn["dns_servers"] = tuples(vn["dns_servers"])
    vn = holding(vn, holders, "vnet_id", "related_vaults")
    vn["holds_pe"] = vn["pe_ids"].map(len) > 0
    vn["deps"] = [(i,) + p for i, p in zip(vn["id"], vn["pe_ids"])]
    return vn
