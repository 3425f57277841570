"""The FQDN view: one row per (endpoint, FQDN), with the private DNS zone, A record and VNet link it resolves through,
and per endpoint the evidence texts its DNS rules report.

Plain lists and dicts: one pass each instead of concat/merge/explode/groupby round trips.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pandas as pd

from ..extract import Tables
from .frames import records
from .helpers import grouped

_PRIVATELINK_LABEL = re.compile(r"\.privatelink(?=\.|\Z)")  # the first "privatelink" label after the first
STORAGE_ZONE_PREFIXES = ("privatelink.blob.", "privatelink.queue.")


def zone_and_record(fqdn: str) -> tuple[str, str]:
    """(zone name, record name): the suffix from the first ``privatelink`` label after the first label, else
    ``privatelink.`` and all labels but the first."""
    m = _PRIVATELINK_LABEL.search(fqdn)
    if m:
        return fqdn[m.start() + 1:], fqdn[:m.start()]
    first, _, rest = fqdn.partition(".")
    return "privatelink." + rest, first


def split_fqdn(fqdns: pd.Series) -> pd.DataFrame:
    """Zone and record name of each FQDN (docs/rules.md terms: the suffix from the ``privatelink`` label, else
    ``privatelink.`` inserted after the first label)."""
    pairs = [zone_and_record(f) for f in fqdns.tolist()]
    return pd.DataFrame({"zone_name": [z for z, _ in pairs], "rec_name": [r for _, r in pairs]}, index=fqdns.index,
                        dtype=object)


def nic_endpoint_pairs(t: Tables) -> list[tuple[str, str]]:
    """(NIC, endpoint) pairs, first seen first: the NICs each endpoint lists, then the endpoint each NIC names."""
    nics, pe_nics = records(t, "nics"), records(t, "pe_nics")
    return list(dict.fromkeys(chain(
        zip(pe_nics["nic_id"], pe_nics["pe_id"]),
        ((n, p) for n, p in zip(nics["nic_id"], nics["pe_id"]) if isinstance(p, str)))))


def _expected_ips(t: Tables, nic_pe: list[tuple[str, str]]) -> tuple[list, list, list, list]:
    """One row per (endpoint, lower-cased FQDN), keyed "<pe id>|<fqdn>": keys, endpoint ids, FQDNs and the IPs the
    endpoint expects for each, from its customDnsConfigs and then its NICs' private link FQDNs."""
    pes_of_nic: dict[str, list[str]] = {}
    for nic, pe in nic_pe:
        pes_of_nic.setdefault(nic, []).append(pe)
    pe_fq, nic_fq = records(t, "pe_fqdns"), records(t, "nic_fqdns")
    rows = chain(zip(pe_fq["pe_id"], pe_fq["fqdn"], pe_fq["ip"]),
                 ((pe, f, ip) for nic, f, ip in zip(nic_fq["nic_id"], nic_fq["fqdn"], nic_fq["ip"])
                  for pe in pes_of_nic.get(nic, ())))
    keys, pe_ids, fqdns = [], [], []
    ips_of: dict[str, list] = {}
    for pe, f, ip in rows:
        f = f.lower().rstrip(".")
        if not f:
            continue
        key = pe + "|" + f
        ips = ips_of.get(key)
        if ips is None:
            ips_of[key] = ips = []
            keys.append(key)
            pe_ids.append(pe)
            fqdns.append(f)
        if isinstance(ip, str):
            ips.append(ip)
    expected = [tuple(ips) if len(ips) < 2 else tuple(sorted(set(ips))) for ips in ips_of.values()]
    return keys, pe_ids, fqdns, expected


def _records_by_name(rec: dict[str, list]) -> dict[tuple, tuple]:
    """(zone name, record name) -> (sorted zone ids, addresses) of the A record sets with addresses."""
    named: dict[tuple, tuple[set, list]] = {}
    for zid, zname, rel, ips in zip(rec["zone_id"], rec["zone_name"], rec["rel"], rec["ips"]):
        if ips:
            zones, found = named.setdefault((zname, rel), (set(), []))
            zones.add(zid)
            found.extend(ips)
    return {key: (tuple(sorted(zones)), tuple(found)) for key, (zones, found) in named.items()}


@dataclass
class _Matches:
    """The per-FQDN columns of the zone/record/link match, as plain lists."""
    zone_names: list = field(default_factory=list)
    rec_names: list = field(default_factory=list)
    linked_ids: list = field(default_factory=list)
    record_ips: list = field(default_factory=list)
    record_zones: list = field(default_factory=list)
    has_record: list = field(default_factory=list)
    is_linked: list = field(default_factory=list)
    ip_match: list = field(default_factory=list)
    stale: list = field(default_factory=list)
    storage_zone: list = field(default_factory=list)


def _match_records(t: Tables, fqdns: list, expected: list, vnet_ids: list) -> _Matches:
    """For each FQDN: its zone and record name, the zones of that name linked to its VNet, and the A record and its
    addresses: by (zone id, name) where the VNet has the zone linked, else by (zone name, name) in any zone."""
    lk = records(t, "links")
    linked = grouped([z + "|" + v if isinstance(v, str) else None for z, v in zip(lk["zone_name"], lk["vnet_id"])],
                     lk["zone_id"])
    rec = records(t, "records")
    by_zone: dict[tuple, tuple] = {}
    for zid, rel, ips in zip(rec["zone_id"], rec["rel"], rec["ips"]):
        if ips:
            prev = by_zone.get((zid, rel))
            by_zone[zid, rel] = ips if prev is None else prev + ips
    by_name: dict[tuple, tuple] | None = None  # built on first need
    out = _Matches()
    for f, exp, vnet in zip(fqdns, expected, vnet_ids):
        zone_name, rec_name = zone_and_record(f)
        linked_zones = linked.get(f"{zone_name}|{vnet}", ())
        if len(linked_zones) == 1:
            ips = by_zone.get((linked_zones[0], rec_name), ())
            zones = linked_zones if ips else ()
        elif linked_zones:
            found = [(z, by_zone[z, rec_name]) for z in linked_zones if (z, rec_name) in by_zone]
            ips = tuple(ip for _, r in found for ip in r)
            zones = tuple(z for z, _ in found)
        else:
            if by_name is None:
                by_name = _records_by_name(rec)
            zones, ips = by_name.get((zone_name, rec_name), ((), ()))
        ips = ips if len(ips) < 2 else tuple(sorted(set(ips)))
        has = len(ips) > 0
        match = ips[0] in exp if len(ips) == 1 else not set(ips).isdisjoint(exp)
        out.zone_names.append(zone_name)
        out.rec_names.append(rec_name)
        out.linked_ids.append(linked_zones)
        out.record_ips.append(ips)
        out.record_zones.append(zones)
        out.has_record.append(has)
        out.is_linked.append(len(linked_zones) > 0)
        out.ip_match.append(match)
        out.stale.append(has and not match)
        out.storage_zone.append(zone_name.startswith(STORAGE_ZONE_PREFIXES))
    return out


def evidence_by_endpoint(pe_ids: list, fqdns: list, expected: list, m: _Matches) -> dict[str, list]:
    """Per endpoint: [number of FQDNs, missing-record texts, stale-record texts, unlinked texts, has a storage FQDN,
    zone ids its verdicts rest on, "zone:<name>" of the zones it rests on the absence of]."""
    per_pe: dict[str, list] = {}
    for pid, f, exp, zn, lz, ips, zones, has, link, is_stale, storage in zip(
            pe_ids, fqdns, expected, m.zone_names, m.linked_ids, m.record_ips, m.record_zones, m.has_record,
            m.is_linked, m.stale, m.storage_zone):
        acc = per_pe.get(pid)
        if acc is None:
            per_pe[pid] = acc = [0, set(), set(), set(), False, set(), set()]
        acc[0] += 1
        if not has:
            acc[1].add(f"{f} (expected {', '.join(exp) or 'no IP'}; zone {zn})")
        if is_stale:
            acc[2].add(f"{f} -> {', '.join(ips)} (expected {', '.join(exp) or 'no IP'})")
        if not link:
            acc[3].add(f"{f} (zone {zn})")
        acc[4] = acc[4] or storage
        acc[5].update(lz)
        acc[5].update(zones)
        if not has or not link:
            acc[6].add("zone:" + zn)
    return per_pe


def fqdn_view(t: Tables, endpoints: pd.DataFrame, zones: pd.DataFrame,
              nic_pe: list[tuple[str, str]]) -> tuple[pd.DataFrame, dict[str, list]]:
    """The FQDN view (columns: ``VIEW_COLUMNS["fqdns"]``) and the per-endpoint evidence (:func:`evidence_by_endpoint`)."""
    keys, pe_ids, fqdns, expected = _expected_ips(t, nic_pe)
    fqv = pd.DataFrame({"k": keys, "pe_id": pe_ids, "fqdn": fqdns} if keys else
                       {c: pd.Series(dtype=object) for c in ("k", "pe_id", "fqdn")})
    vnet_id = fqv["pe_id"].map(dict(zip(endpoints["id"].tolist(), endpoints["vnet_id"].tolist())))
    m = _match_records(t, fqdns, expected, vnet_id.tolist())
    fqv["expected"] = expected
    fqv["zone_name"] = pd.Series(m.zone_names, dtype=object)
    fqv["rec_name"] = pd.Series(m.rec_names, dtype=object)
    fqv["vnet_id"] = vnet_id
    fqv["linked_zone_ids"] = m.linked_ids
    fqv["linked"] = np.array(m.is_linked, dtype=bool)
    fqv["record_ips"] = m.record_ips
    fqv["record_zone_ids"] = m.record_zones
    for c, v in (("has_record", m.has_record), ("ip_match", m.ip_match), ("stale", m.stale),
                 ("storage_zone", m.storage_zone)):
        fqv[c] = np.array(v, dtype=bool)
    fqv["zone_id"] = [lz[0] if lz else (r[0] if r else None) for lz, r in zip(m.linked_ids, m.record_zones)]
    fqv["zone_rid"] = fqv["zone_id"].map(zones.set_index("id")["rid"])
    return fqv, evidence_by_endpoint(pe_ids, fqdns, expected, m)
