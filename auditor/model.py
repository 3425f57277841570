"""Tidy frames and the joins every rule reads, computed once.

``build`` turns the extractors' records into pandas frames and then into five subject views, one per rule subject
(vaults, endpoints, subnets, vnets, providers). Each view carries the evidence its rules read and a ``deps`` column:
the lower-cased ids of everything the row's verdict rests on (``zone:<name>`` when it rests on the *absence* of a
private DNS zone, record or link of that zone name, which could live anywhere), matched by the engine against error
records.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pandas as pd

from . import arm
from .arm import CONTRIBUTOR, DNS_ZONE_CONTRIBUTOR, NETWORK_CONTRIBUTOR, OWNER, covers
from .extract import COLUMNS as TABLE_COLUMNS, Tables
# IAM-001's three needs: the built-in roles that meet each, and the action a custom role must grant.
NEEDS = {
    "rg": ({OWNER, CONTRIBUTOR}, "microsoft.network/privateendpoints/write", "Contributor or Owner"),
    "vnet": ({OWNER, CONTRIBUTOR, NETWORK_CONTRIBUTOR}, "microsoft.network/virtualnetworks/subnets/join/action",
             "Network Contributor, Contributor or Owner"),
    "zone": ({OWNER, CONTRIBUTOR, DNS_ZONE_CONTRIBUTOR}, "microsoft.network/privatednszones/a/write",
             "Private DNS Zone Contributor, Contributor or Owner"),
}
REREGISTER_CUTOFF = pd.Timestamp(arm.REREGISTER_CUTOFF)
TEXT_COLUMNS = ("id", "rid", "name", "sub", "rg", "location", "pna", "identity_type", "principal_id", "identity_tenant",
                "crr", "created", "sub_tenant", "crr_flag", "prov_state", "subnet_id", "vnet_id", "vault_id",
                "backup_pe_id", "state", "oldest_vault", "experience", "vault_sub")

COLUMNS = {name: list(cols) for name, cols in TABLE_COLUMNS.items()}


# Entities seen more than once (inline and standalone, or in two files) are one: the first record of each id counts.
UNIQUE = {"vaults": "id", "pes": "id", "vnets": "id", "subnets": "id", "zones": "id", "records": "id", "links": "id",
          "roles": "id", "subs": "sub", "nics": "nic_id"}


def frame(t: Tables, name: str) -> pd.DataFrame:
    """One entity's records as a frame, built from column lists (much cheaper than from row dicts or tuples)."""
    if not getattr(t, name):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS[name]})
    return pd.DataFrame(t.columns(name))


def records(t: Tables, name: str) -> dict[str, list]:
    """One entity's records as plain column lists, one record per id for the entities in ``UNIQUE``."""
    cols = t.columns(name)
    return _first_of_each(cols, (UNIQUE[name],)) if name in UNIQUE else cols


def _first_of_each(cols: dict[str, list], key: tuple[str, ...]) -> dict[str, list]:
    """The rows of the first occurrence of each value of the ``key`` columns (``drop_duplicates(key)``)."""
    seen: set = set()
    keys = cols[key[0]] if len(key) == 1 else zip(*(cols[k] for k in key))
    keep = [i for i, k in enumerate(keys) if not (k in seen or seen.add(k))]
    if len(keep) == len(next(iter(cols.values()))):
        return cols
    return {c: [v[i] for i in keep] for c, v in cols.items()}


class Frames(Mapping):
    """The entity frames (``Model.tables``), each built from the extractors' records when first read (``build``
    reads the large ones as plain lists, which is much cheaper), one row per id for the entities in ``UNIQUE``."""

    def __init__(self, t: Tables) -> None:
        self._t = t
        self._built: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._built:
            if name not in COLUMNS:
                raise KeyError(name)
            df = frame(self._t, name)
            self._built[name] = df.drop_duplicates(UNIQUE[name], keep="first") if name in UNIQUE else df
        return self._built[name]

    def __iter__(self):
        return iter(COLUMNS)

    def __len__(self) -> int:
        return len(COLUMNS)


def _texts_of(ids: pd.Series) -> list[str]:
    return [i if isinstance(i, str) else "" for i in ids.tolist()]


def _sub_of(ids: pd.Series) -> pd.Series:
    return pd.Series([arm.sub_and_group(i)[0] for i in _texts_of(ids)], index=ids.index, dtype=object)


def _identify(df: pd.DataFrame) -> pd.DataFrame:
    """rid (the id as ARM spelled it), name, subscription and resource group of every row, also for rows known
    only by their (lower-cased) id."""
    if "rid" not in df:
        df["rid"] = df["id"]
    if "name" not in df:
        df["name"] = None
    ids = _texts_of(df["id"])
    df["rid"] = df["rid"].where(df["rid"].notna(), df["id"])
    df["name"] = df["name"].where(df["name"].notna(), pd.Series([i.rsplit("/", 1)[-1] for i in ids], index=df.index,
                                                                dtype=object))
    sub_rg = [arm.sub_and_group(i) for i in ids]
    df["sub"] = pd.Series([s for s, _ in sub_rg], index=df.index, dtype=object)
    df["rg"] = pd.Series([g for _, g in sub_rg], index=df.index, dtype=object)
    return df


def _isna(v) -> bool:
    return v is None or v != v  # None or NaN


def _holding(view: pd.DataFrame, endpoints: pd.DataFrame, where: str, vaults: str) -> pd.DataFrame:
    """For each row of a subnet or VNet view: the endpoints it holds (``where`` is their subnet_id or vnet_id), their
    names and vaults, and the lowest vault id (the row's vault_id)."""
    held: dict[str, tuple[set, set, set]] = {}
    for key, vs, name, pid in zip(endpoints[where].tolist(), endpoints[vaults].tolist(), endpoints["name"].tolist(),
                                  endpoints["id"].tolist()):
        if _isna(key):
            continue
        acc = held.get(key)
        if acc is None:
            held[key] = acc = (set(), set(), set())
        acc[0].update(vs)  # vault id tuples hold no nulls; endpoint names and ids are never null
        acc[1].add(name)
        acc[2].add(pid)
    rows = [held.get(i) for i in view["id"].tolist()]
    for j, col in enumerate(("vault_ids", "pe_names", "pe_ids")):
        view[col] = _objects([tuple(sorted(a[j])) if a else () for a in rows], view.index)
    view["vault_id"] = view["vault_ids"].map(lambda v: v[0] if v else None)
    return view


def _tuples(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v if isinstance(v, tuple) else ())


def _grouped(keys: list, values: list) -> dict:
    """key -> sorted tuple of the distinct non-null values: one pass over plain lists."""
    return _group_pairs(zip(keys, values))


def _group_pairs(pairs: Iterable[tuple]) -> dict:
    """key -> sorted tuple of the distinct non-null values of (key, value) pairs."""
    acc: dict = {}
    for k, v in pairs:
        if v is None or v != v:  # None or NaN
            continue
        bucket = acc.get(k)
        if bucket is None:
            acc[k] = {v}
        else:
            bucket.add(v)
    return {k: tuple(sorted(v)) for k, v in acc.items()}


def _agg_tuple(df: pd.DataFrame, key: str | list[str], col: str, name: str | None = None) -> pd.Series:
    """Group ``col`` by ``key`` into sorted tuples of distinct non-null values (a Series indexed by the key)."""
    keys = key if isinstance(key, list) else [key]
    if len(keys) == 1:
        g = _grouped(df[key].tolist(), df[col].tolist())
        return pd.Series(list(g.values()), index=pd.Index(list(g.keys()), name=key, dtype=object), dtype=object,
                         name=name or col)
    g = _grouped(list(zip(*(df[k].tolist() for k in keys))), df[col].tolist())
    index = pd.MultiIndex.from_tuples(list(g.keys()), names=keys) if g else \
        pd.MultiIndex.from_arrays([[]] * len(keys), names=keys)
    return pd.Series(list(g.values()), index=index, dtype=object, name=name or col)


def _objects(values: list, index: pd.Index | None = None) -> pd.Series:
    """A column of Python objects (tuples), object dtype even when empty."""
    return pd.Series(values, index=index, dtype=object)


def _records_by_name(rec: dict[str, list]) -> dict[tuple, tuple]:
    """(zone name, record name) -> (sorted zone ids, addresses) of the A record sets with addresses."""
    named: dict[tuple, tuple[set, list]] = {}
    for zid, zname, rel, ips in zip(rec["zone_id"], rec["zone_name"], rec["rel"], rec["ips"]):
        if ips:
            zones, found = named.setdefault((zname, rel), (set(), []))
            zones.add(zid)
            found.extend(ips)
    return {key: (tuple(sorted(zones)), tuple(found)) for key, (zones, found) in named.items()}


def _zone_sub(zone_id: str) -> str:
    parts = zone_id.split("/")
    return parts[2] if len(parts) > 2 else ""


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


_PRIVATELINK_LABEL = re.compile(r"\.privatelink(?=\.|\Z)")  # the first "privatelink" label after the first


def _split_one(fqdn: str) -> tuple[str, str]:
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
    pairs = [_split_one(f) for f in fqdns.tolist()]
    return pd.DataFrame({"zone_name": [z for z, _ in pairs], "rec_name": [r for _, r in pairs]}, index=fqdns.index,
                        dtype=object)


# a.b.c.d/n as ipaddress reads it (octets 0-255 without leading zeros, n 0-32): its size without asking ipaddress
_IPV4_CIDR = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                        r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])")
_STORAGE_INFIX = re.compile(r"_(?:ecs|prot)", re.I)


def _ipv4_capacity(prefixes: tuple) -> int | None:
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


@dataclass
class Model:
    """The prepared views the rules read, plus what the engine needs to judge missing data."""
    vaults: pd.DataFrame
    endpoints: pd.DataFrame
    subnets: pd.DataFrame
    vnets: pd.DataFrame
    providers: pd.DataFrame
    fqdns: pd.DataFrame
    present: set[str]
    errors: list[dict]
    warnings: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # the entity frames (built when read)
    steps: list = field(default_factory=list)  # the concrete fixes (auditor.fixes.Step), for `auditor plan`

    def view(self, subject: str) -> pd.DataFrame:
        return getattr(self, subject)

    def vault_rids(self) -> dict[str, str]:
        """Lower-cased vault id -> the id as ARM spelled it."""
        if "_vault_rids" not in self.__dict__:
            self.__dict__["_vault_rids"] = dict(zip(self.vaults["id"].tolist(), self.vaults["rid"].astype(str).tolist()))
        return self.__dict__["_vault_rids"]


def build(t: Tables, bad: dict[str, set[str]], present: Iterable[str], errors: list[dict]) -> Model:
    F = Frames(t)
    present = set(present)
    # a connection seen from both sides stays two rows (vault side, PE side); the same one twice is one
    conns = _first_of_each(t.columns("conns"), ("vault_id", "pe_id", "side", "groups"))
    conns = pd.DataFrame(conns) if t.conns else F["conns"]
    pes = F["pes"]

    # ---------------------------------------------------------------- connections, backup and storage PEs
    bconn = conns[conns["backup"].astype(bool)]
    backup_pe_vaults = _agg_tuple(bconn, "pe_id", "vault_id", "vault_ids")
    known_pe_ids = set(pes["id"])
    ref_only = sorted(set(bconn.loc[bconn["side"] == "vault", "pe_id"]) - known_pe_ids - bad.get(arm.PRIVATE_ENDPOINT, set()))
    stub_pes = sorted(bad.get(arm.PRIVATE_ENDPOINT, set()) - known_pe_ids)
    ep = pd.concat([
        pes.assign(in_input=True, malformed=False),
        pd.DataFrame({"id": ref_only, "in_input": False, "malformed": False}),
        pd.DataFrame({"id": stub_pes, "in_input": False, "malformed": True}),
    ], ignore_index=True)
    ep = _identify(ep)
    ep = ep.join(backup_pe_vaults, on="id")
    ep["vault_ids"] = _tuples(ep["vault_ids"])
    ep["backup"] = ep["vault_ids"].map(len) > 0

    # storage PEs: same subscription and group, named <backup PE>_ecs…/_prot… and ending _blob/_queue
    bpe = ep[ep["backup"] & ep["in_input"]]
    cand = ep.loc[ep["in_input"] & ~ep["backup"], ["id", "name", "sub", "rg"]]
    lname = cand["name"].str.lower()
    cand = cand[lname.str.endswith("_blob") | lname.str.endswith("_queue")]
    rows = [(pid, sub, rg, name[:m.start()].lower(), name[m.start():])
            for pid, name, sub, rg in zip(*(cand[c].tolist() for c in ("id", "name", "sub", "rg")))
            for m in _STORAGE_INFIX.finditer(name) if m.start() > 0]
    storage_pairs = pd.DataFrame(rows, columns=["id", "sub", "rg", "base", "suffix"]).merge(
        bpe.assign(base=bpe["name"].str.lower())[["id", "sub", "rg", "base", "vault_ids"]].rename(
            columns={"id": "backup_pe_id"}), on=["sub", "rg", "base"])
    storage_pairs = storage_pairs.drop_duplicates("id")
    ep = ep.merge(storage_pairs[["id", "backup_pe_id"]], on="id", how="left")
    ep["storage"] = ep["backup_pe_id"].notna()
    st_vaults = storage_pairs.set_index("id")["vault_ids"]
    st_vaults = st_vaults.to_dict()
    ep["related_vaults"] = [v if v else st_vaults.get(i, ()) for i, v in zip(ep["id"].tolist(), ep["vault_ids"].tolist())]
    ep["vault_id"] = ep["related_vaults"].map(lambda v: v[0] if v else None)

    # ---------------------------------------------------------------- FQDNs, zones, records, links
    # plain lists and dicts: one pass each instead of concat/merge/explode/groupby round trips
    # (NIC, endpoint) pairs, first seen first: the NICs each endpoint lists, then the endpoint each NIC names
    nics, pe_nics = records(t, "nics"), records(t, "pe_nics")
    nic_pe = list(dict.fromkeys(chain(
        zip(pe_nics["nic_id"], pe_nics["pe_id"]),
        ((n, p) for n, p in zip(nics["nic_id"], nics["pe_id"]) if isinstance(p, str)))))
    pes_of_nic: dict[str, list[str]] = {}
    for n, p in nic_pe:
        pes_of_nic.setdefault(n, []).append(p)
    # (endpoint, FQDN, IP): the endpoints' customDnsConfigs, then their NICs' private link FQDNs
    pf, nf = records(t, "pe_fqdns"), records(t, "nic_fqdns")
    fq_rows = chain(zip(pf["pe_id"], pf["fqdn"], pf["ip"]),
                    ((p, f, ip) for n, f, ip in zip(nf["nic_id"], nf["fqdn"], nf["ip"]) for p in pes_of_nic.get(n, ())))
    # one row per (endpoint, lower-cased FQDN), keyed "<pe id>|<fqdn>", with the IPs the endpoint expects for it
    keys: list[str] = []
    fq_pe: list[str] = []
    fqdns: list[str] = []
    exp_acc: dict[str, list] = {}
    for p, f, ip in fq_rows:
        f = f.lower().rstrip(".")
        if not f:
            continue
        k = p + "|" + f
        ips = exp_acc.get(k)
        if ips is None:
            exp_acc[k] = ips = []
            keys.append(k)
            fq_pe.append(p)
            fqdns.append(f)
        if isinstance(ip, str):
            ips.append(ip)
    expected = [tuple(ips) if len(ips) < 2 else tuple(sorted(set(ips))) for ips in exp_acc.values()]
    fqv = pd.DataFrame({"k": keys, "pe_id": fq_pe, "fqdn": fqdns} if keys else
                       {c: pd.Series(dtype=object) for c in ("k", "pe_id", "fqdn")})
    vnet_id = fqv["pe_id"].map(dict(zip(ep["id"].tolist(), ep["vnet_id"].tolist())))
    # zones linked to each VNet, by zone name
    lk = records(t, "links")
    linked = _grouped([z + "|" + v if isinstance(v, str) else None for z, v in zip(lk["zone_name"], lk["vnet_id"])],
                      lk["zone_id"])
    # A record sets with addresses: by (zone id, name) for FQDNs whose VNet has the zone linked, else by
    # (zone name, name) for any zone of that name
    rec = records(t, "records")
    rec_zone, rec_name, rec_ips = rec["zone_id"], rec["rel"], rec["ips"]
    by_zone: dict[tuple, tuple] = {}
    for zid, rel, ips in zip(rec_zone, rec_name, rec_ips):
        if ips:
            prev = by_zone.get((zid, rel))
            by_zone[zid, rel] = ips if prev is None else prev + ips
    by_name: dict[tuple, tuple] | None = None  # built on first need

    # one pass over the FQDNs: zone and record name, linked zones, the record and its addresses; and per endpoint
    # the evidence texts and the zones its verdicts rest on
    zone_names, rec_names, linked_ids, record_ips, record_zones = [], [], [], [], []
    has_record, is_linked, ip_match, stale, storage_zone = [], [], [], [], []
    per_pe: dict[str, list] = {}  # n, missing, stale, unlinked, storage FQDN, zone ids, absent zones
    for pid, f, exp, vnet in zip(fq_pe, fqdns, expected, vnet_id.tolist()):
        zn, rn = _split_one(f)
        lz = linked.get(f"{zn}|{vnet}", ())
        if len(lz) == 1:
            ips = by_zone.get((lz[0], rn), ())
            zones = lz if ips else ()
        elif lz:
            found = [(z, by_zone[z, rn]) for z in lz if (z, rn) in by_zone]
            ips = tuple(ip for _, r in found for ip in r)
            zones = tuple(z for z, _ in found)
        else:
            if by_name is None:
                by_name = _records_by_name(rec)
            zones, ips = by_name.get((zn, rn), ((), ()))
        ips = ips if len(ips) < 2 else tuple(sorted(set(ips)))
        has, link = len(ips) > 0, len(lz) > 0
        match = ips[0] in exp if len(ips) == 1 else not set(ips).isdisjoint(exp)
        is_stale = has and not match
        storage = zn.startswith(("privatelink.blob.", "privatelink.queue."))
        zone_names.append(zn)
        rec_names.append(rn)
        linked_ids.append(lz)
        record_ips.append(ips)
        record_zones.append(zones)
        has_record.append(has)
        is_linked.append(link)
        ip_match.append(match)
        stale.append(is_stale)
        storage_zone.append(storage)
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
    fqv["expected"] = expected
    fqv["zone_name"] = pd.Series(zone_names, dtype=object)
    fqv["rec_name"] = pd.Series(rec_names, dtype=object)
    fqv["vnet_id"] = vnet_id
    fqv["linked_zone_ids"] = linked_ids
    fqv["linked"] = np.array(is_linked, dtype=bool)
    fqv["record_ips"] = record_ips
    fqv["record_zone_ids"] = record_zones
    for c, v in (("has_record", has_record), ("ip_match", ip_match), ("stale", stale), ("storage_zone", storage_zone)):
        fqv[c] = np.array(v, dtype=bool)
    zone_lookup = F["zones"].set_index("id")["rid"]
    fqv["zone_id"] = [l[0] if l else (r[0] if r else None) for l, r in zip(linked_ids, record_zones)]

    # ---------------------------------------------------------------- endpoints view
    vnets = F["vnets"]
    vnet_dns = vnets.set_index("id")["dns_servers"]
    ep["vnet_in_input"] = ep["vnet_id"].isin(set(vnets["id"]))
    ep["dns_servers"] = ep["vnet_id"].map(vnet_dns)
    ep["dns_servers"] = _tuples(ep["dns_servers"])
    ep["custom_dns"] = ep["dns_servers"].map(len) > 0
    pe_acc = [per_pe.get(i) for i in ep["id"].tolist()]
    ep["n_fqdns"] = np.array([a[0] if a else 0 for a in pe_acc], dtype=np.int64)
    for c, j in (("fq_missing", 1), ("fq_stale", 2), ("fq_unlinked", 3)):
        ep[c] = _objects([tuple(sorted(a[j])) if a else () for a in pe_acc], ep.index)
    ep["storage_fqdn"] = np.array([bool(a[4]) if a else False for a in pe_acc], dtype=bool)
    for c, j in (("fq_zone_ids", 5), ("fq_absent", 6)):
        ep[c] = _objects([tuple(sorted(a[j])) if a else () for a in pe_acc], ep.index)

    # connection states (both sides) of each backup PE
    conn_states = _grouped(bconn["pe_id"].tolist(), [f"{side}:{st}" if isinstance(st, str) and st else None
                                                     for side, st in zip(bconn["side"].tolist(),
                                                                         bconn["status"].tolist())])
    ep_ids = ep["id"].tolist()
    ep["conn_states"] = _objects([conn_states.get(i, ()) for i in ep_ids], ep.index)

    # zone groups
    zg = records(t, "zone_groups")
    zg_zones = _group_pairs((p, z) for p, zs in zip(zg["pe_id"], zg["zone_ids"]) for z in zs)
    ep["zg_zone_ids"] = _objects([zg_zones.get(i, ()) for i in ep_ids], ep.index)
    ep["has_zone_group"] = ep["id"].isin(set(zg["pe_id"]))
    nic_ids = _grouped([p for _, p in nic_pe], [n for n, _ in nic_pe])
    ep["nic_ids"] = _objects([nic_ids.get(i, ()) for i in ep_ids], ep.index)

    # ---------------------------------------------------------------- vault experience
    v2_fq = ep.loc[ep["backup"] & ep["storage_fqdn"], ["vault_ids"]].explode("vault_ids")["vault_ids"]
    sec = bconn[bconn["secondary"].astype(bool)]
    v2 = set(v2_fq) | set(sec["vault_id"])
    v1 = set(storage_pairs.explode("vault_ids")["vault_ids"]) - v2

    # ---------------------------------------------------------------- vaults view
    vaults = F["vaults"].assign(malformed=False, in_input=True)
    stub_vaults = sorted(bad.get(arm.VAULT, set()) - set(vaults["id"]))
    vaults = pd.concat([vaults, pd.DataFrame({"id": stub_vaults, "malformed": True, "in_input": False})],
                       ignore_index=True)
    vaults = _identify(vaults)
    # distinct endpoints per vault: backup ones, any, primary (not AzureBackup_secondary) and secondary ones
    pe_sets: tuple[dict, dict, dict, dict] = ({}, {}, {}, {})
    backup_pes, any_pes, primary_pes, secondary_pes = pe_sets
    for v, pe, backup, secondary in zip(*(conns[c].tolist() for c in ("vault_id", "pe_id", "backup", "secondary"))):
        any_pes.setdefault(v, set()).add(pe)
        (secondary_pes if secondary else primary_pes).setdefault(v, set()).add(pe)
        if backup:
            backup_pes.setdefault(v, set()).add(pe)
    vault_ids = vaults["id"].tolist()
    for c, pes_of in zip(("n_backup", "n_any_conn", "n_primary", "n_secondary"), pe_sets):
        vaults[c] = np.array([len(pes_of.get(i, ())) for i in vault_ids], dtype=np.int64)
    vaults.insert(vaults.columns.get_loc("n_backup") + 1, "uses_pe", vaults["n_backup"] > 0)
    # approved AzureBackup_secondary: the vault side's word where it has one, else the PE side's
    sec_state = sec.dropna(subset=["status"]).sort_values("side", key=lambda s: s.map({"vault": 0, "pe": 1}))
    sec_state = sec_state.drop_duplicates(["vault_id", "pe_id"])
    approved_sec = set(sec_state.loc[sec_state["status"] == "approved", "vault_id"])
    vaults["secondary_approved"] = vaults["id"].isin(approved_sec)
    vaults["experience"] = ["v2" if i in v2 else "v1" if i in v1 else "undetermined" for i in vaults["id"].tolist()]
    it = vaults["identity_type"].fillna("").str.lower().str.replace(" ", "")
    vaults["system_identity"] = it.str.split(",").map(lambda parts: "systemassigned" in parts)
    sc = F["storage_configs"].dropna(subset=["crr_flag"])
    vaults["crr_flag"] = vaults["id"].map(sc.groupby("vault_id")["crr_flag"].any())
    subs = F["subs"]
    vaults["sub_tenant"] = vaults["sub"].map(subs.dropna(subset=["tenant"]).set_index("sub")["tenant"])
    if arm.PROTECTED_ITEM in present:
        vaults["protected_count"] = vaults["id"].map(F["protected_items"].groupby("vault_id").size()).fillna(0).astype(int)
    else:
        vaults["protected_count"] = pd.NA
    vaults["created_ts"] = pd.to_datetime(vaults["created"], utc=True, errors="coerce", format="ISO8601")

    # related ids of each vault: its PEs (both kinds), their NICs, VNets and zones
    vconn_pes = _grouped(conns["vault_id"].tolist(), conns["pe_id"].tolist())
    vaults["conn_pes"] = _objects([vconn_pes.get(i, ()) for i in vault_ids], vaults.index)
    # zones a vault's verdicts rest on: IAM-001 (c) reads the blob/queue zones linked to its storage endpoints'
    # VNets (and, where none is linked, rests on no zone of that name being linked anywhere)
    storage_ids = set(ep.loc[ep["storage"], "id"])
    storage_deps: dict[str, list] = {}
    for pid, storage, lz, zn in zip(fq_pe, storage_zone, linked_ids, zone_names):
        if storage and pid in storage_ids:
            storage_deps.setdefault(pid, []).extend(lz if lz else ("zone:" + zn,))
    # related ids of each vault: its PEs (both kinds), their NICs, VNets and zones
    vdep_acc: dict[str, set] = {}
    for pid, vs, nics_, vnet, sn in zip(ep_ids, ep["related_vaults"].tolist(), ep["nic_ids"].tolist(),
                                        ep["vnet_id"].tolist(), ep["subnet_id"].tolist()):
        if not vs:
            continue
        ds = {pid, *nics_, *(x for x in (vnet, sn) if not _isna(x)), *storage_deps.get(pid, ())}
        for v in vs:
            if not _isna(v):
                vdep_acc.setdefault(v, set()).update(ds)
    vdeps = {v: tuple(sorted(d)) for v, d in vdep_acc.items()}
    vaults["deps"] = [(i,) + c + vdeps.get(i, ()) for i, c in zip(vault_ids, vaults["conn_pes"].tolist())]
    vaults["iam_missing"], vaults["iam_group_note"] = _iam(vaults, ep, fqv, t, F)

    # endpoint deps
    # "zone:<name>": the verdict rests on a zone of that name (or its record or link) NOT being found anywhere
    ep["deps"] = [(i,) + v + n + tuple(x for x in (vn, sn) if isinstance(x, str)) + z + zg + a
                  for i, v, n, vn, sn, z, zg, a in zip(*(ep[c].tolist() for c in (
                      "id", "related_vaults", "nic_ids", "vnet_id", "subnet_id", "fq_zone_ids", "zg_zone_ids",
                      "fq_absent")))]
    ep["vnet_known_anywhere"] = arm.VNET in present
    ep["vault_sub"] = _sub_of(ep["vault_id"].fillna(""))
    ep["foreign_zones"] = [tuple(z for z in zs if _zone_sub(z) != vs)
                           for zs, vs in zip(ep["zg_zone_ids"].tolist(), ep["vault_sub"].tolist())]
    for c in ("res_bad", "res_ok", "res_unreachable"):
        ep[c] = [()] * len(ep)
    exp_map = vaults.set_index("id")["experience"]
    ep["experience"] = ep["vault_id"].map(exp_map).astype(object).fillna("undetermined")
    ep["v2"] = [not v2.isdisjoint(vs) for vs in ep["related_vaults"].tolist()]

    # ---------------------------------------------------------------- subnets view
    subnets = F["subnets"]
    # a subnet seen twice (inline in its VNet and standalone) is one subnet: union of prefixes and configurations
    prefixes = _group_pairs((i, p) for i, ps in zip(subnets["id"].tolist(), subnets["prefixes"].tolist()) for p in ps)
    # IP configurations in each subnet: the subnet's list and the NICs' (distinct)
    nic_ipc = records(t, "nic_ipconfigs")
    ipcs = set(chain(((i, c) for i, cs in zip(subnets["id"].tolist(), subnets["ipc_ids"].tolist()) for c in cs),
                     zip(nic_ipc["subnet_id"], nic_ipc["ipc_id"])))
    used: dict[str, int] = {}
    for i, c in ipcs:
        if not (_isna(i) or _isna(c)):
            used[i] = used.get(i, 0) + 1
    subnets = subnets.drop_duplicates("id")[["id", "name", "vnet_id"]].reset_index(drop=True)
    subnets["prefixes"] = subnets["id"].map(prefixes)
    subnets["used"] = subnets["id"].map(used)
    subnets["in_input"] = True
    ref_subnets = set(ep.loc[ep["backup"] & ep["in_input"], "subnet_id"].dropna()) - set(subnets["id"])
    subnets = pd.concat([subnets, pd.DataFrame({"id": sorted(ref_subnets), "in_input": False})], ignore_index=True)
    subnets["vnet_id"] = subnets["vnet_id"].where(subnets["vnet_id"].notna(), subnets["id"].map(arm.vnet_of))
    subnets["prefixes"] = _tuples(subnets["prefixes"])
    cap = {p: _ipv4_capacity((p,)) for p in {p for t in subnets["prefixes"] for p in t}}
    subnets["capacity"] = [sum(cap[p] for p in t if cap[p] is not None) if any(cap[p] is not None for p in t)
                           else None for t in subnets["prefixes"]]
    subnets["used"] = subnets["used"].fillna(0).astype(int)
    subnets["free"] = subnets["capacity"] - subnets["used"]
    subnets = _holding(subnets, ep[ep["backup"] & ep["in_input"]], "subnet_id", "vault_ids")
    subnets["holds_backup_pe"] = subnets["pe_ids"].map(len) > 0
    subnets = _identify(subnets)
    subnets["deps"] = [(i,) + ((v,) if isinstance(v, str) else ()) + p for i, v, p in
                       zip(subnets["id"], subnets["vnet_id"], subnets["pe_ids"])]
    subnets["malformed"] = subnets["vnet_id"].isin(bad.get(arm.VNET, set())) | subnets["id"].isin(bad.get(arm.SUBNET, set()))

    # ---------------------------------------------------------------- vnets view
    holders = ep[(ep["backup"] | ep["storage"]) & ep["in_input"]].dropna(subset=["vnet_id"])
    vn = vnets.assign(in_input=True, malformed=False)
    ref_vnets = set(holders["vnet_id"]) - set(vn["id"])
    stub = bad.get(arm.VNET, set()) - set(vn["id"])
    vn = pd.concat([vn, pd.DataFrame({"id": sorted(ref_vnets - stub), "in_input": False, "malformed": False}),
                    pd.DataFrame({"id": sorted(stub), "in_input": False, "malformed": True})], ignore_index=True)
    vn = _identify(vn)
    vn["dns_servers"] = _tuples(vn["dns_servers"])
    vn = _holding(vn, holders, "vnet_id", "related_vaults")
    vn["holds_pe"] = vn["pe_ids"].map(len) > 0
    vn["deps"] = [(i,) + p for i, p in zip(vn["id"], vn["pe_ids"])]

    # ---------------------------------------------------------------- providers view (one per subscription)
    prov = F["providers"]
    rs = prov[prov["namespace"] == "microsoft.recoveryservices"].drop_duplicates("sub")
    vault_subs = vaults.dropna(subset=["sub"])
    # every subscription known: one whose vaults could not be read still gets its rows (Error, not silence)
    psubs = sorted((set(vault_subs["sub"]) | set(rs["sub"]) | set(F["subs"]["sub"])) - {""})
    pv = pd.DataFrame({"sub": pd.Series(psubs, dtype=object)})
    pv["id"] = "/subscriptions/" + pv["sub"] + "/providers/microsoft.recoveryservices"
    pv["rid"] = "/subscriptions/" + pv["sub"] + "/providers/Microsoft.RecoveryServices"
    pv["name"] = "Microsoft.RecoveryServices"
    pv["rg"] = ""
    pv["state"] = pv["sub"].map(rs.set_index("sub")["state"]).astype(object)
    pv["provider_in_input"] = pv["sub"].isin(set(rs["sub"]))
    by_sub = vaults.groupby("sub")
    pv["n_vaults"] = pv["sub"].map(by_sub.size()).fillna(0).astype(int)
    pv["n_pe_vaults"] = pv["sub"].map(by_sub["uses_pe"].sum()).fillna(0).astype(int)
    pv["oldest"] = pd.to_datetime(pv["sub"].map(by_sub["created_ts"].min().to_dict()), utc=True)
    pv["oldest_vault"] = pv["sub"].map(vaults.dropna(subset=["created_ts"]).sort_values("created_ts")
                                        .drop_duplicates("sub").set_index("sub")["name"]).astype(object)
    ev = F["events"]
    ev = ev[(ev["op"] == "microsoft.recoveryservices/register/action") & (ev["status"] == "succeeded")]
    ev_ts = pd.to_datetime(ev["ts"], utc=True, errors="coerce", format="ISO8601")
    ev = ev.assign(ts=ev_ts)[ev_ts >= REREGISTER_CUTOFF]
    pv["reregistered"] = pd.to_datetime(pv["sub"].map(ev.groupby("sub")["ts"].max().to_dict()), utc=True)
    pv["vault_id"] = pv["sub"].map(vaults.sort_values("id").drop_duplicates("sub").set_index("sub")["id"])
    pv["deps"] = [(i,) for i in pv["id"]]
    pv["malformed"] = False
    pv["in_input"] = True

    for view in (vaults, ep, subnets, vn, pv):
        view["malformed"] = view["malformed"].fillna(False).astype(bool)
        # text columns stay text (object) even when an estate leaves them all empty, so rules can fillna/.str them
        for c in TEXT_COLUMNS:
            if c in view:
                view[c] = view[c].astype(object)

    all_subs = sorted(set(subs["sub"]) | set(vaults["sub"]) | set(ep["sub"]) - {""})
    fqv["zone_rid"] = fqv["zone_id"].map(zone_lookup)
    model = Model(vaults=vaults, endpoints=ep, subnets=subnets, vnets=vn, providers=pv, fqdns=fqv, present=present,
                  errors=errors, subscriptions=all_subs, tables=F)
    # --- concrete fixes (auditor.fixes): a `fixes` column on every view and model.steps for `auditor plan` ---
    from .fixes import attach
    attach(model)
    # --- end of concrete fixes ---
    return model




def _iam(vaults: pd.DataFrame, ep: pd.DataFrame, fqv: pd.DataFrame, t: Tables, F: Frames) -> tuple[list, list]:
    """For each vault, the IAM-001 needs its identity does not meet (a tuple of texts) and a note on groups."""
    target = vaults["uses_pe"] & vaults["system_identity"] & vaults["principal_id"].notna()
    principal = dict(zip(vaults.loc[target, "id"].tolist(), vaults.loc[target, "principal_id"].tolist()))
    empty = [()] * len(vaults), [""] * len(vaults)
    if not principal:
        return empty
    # what each vault's identity must be granted: (need, target id) pairs
    needs: dict[str, set[tuple[str, str]]] = {}
    for pid, vs, vnet in zip(ep["id"].tolist(), ep["vault_ids"].tolist(), ep["vnet_id"].tolist()):
        for v in vs:  # backup PEs: their resource group and VNet
            if v in principal:
                rg = arm.RG_PREFIX.match(pid)
                want = needs.setdefault(v, set())
                if rg:
                    want.add(("rg", rg.group(1)))
                if isinstance(vnet, str):
                    want.add(("vnet", vnet))
    # storage PEs: the blob/queue zones linked to their VNets
    zones: dict[str, set[str]] = {}
    for pid, storage, linked, lz in zip(fqv["pe_id"].tolist(), fqv["storage_zone"].tolist(),
                                        fqv["linked"].tolist(), fqv["linked_zone_ids"].tolist()):
        if storage and linked:
            zones.setdefault(pid, set()).update(lz)
    storage = ep["storage"].to_numpy(dtype=bool)
    for pid, vs in zip(ep.loc[storage, "id"].tolist(), ep.loc[storage, "related_vaults"].tolist()):
        for v in vs:
            if v in principal and pid in zones:
                needs.setdefault(v, set()).update(("zone", z) for z in zones[pid])
    roles = records(t, "roles")
    grants = custom_grants(F["role_defs"])
    granting: dict[tuple[str, str], list[str]] = {}  # (principal, need) -> scopes of its roles that meet the need
    for pr, g, sc in zip(roles["principal_id"], roles["role_guid"], roles["scope"]):
        for n, (builtin, _, _) in NEEDS.items():
            if g in builtin or n in grants.get(g, ()):
                granting.setdefault((pr, n), []).append(sc)
    kinds = {"rg": "resource group", "vnet": "virtual network", "zone": "private DNS zone"}
    missing = {}
    for v, want in needs.items():
        pr = principal[v]
        texts = {f"{NEEDS[n][2]} on {kinds[n]} {target}" for n, target in want
                 if not any(covers(sc, target) for sc in granting.get((pr, n), ()))}
        if texts:
            missing[v] = tuple(sorted(texts))
    has_groups = any(pt.lower() == "group" for pt in roles["principal_type"])
    note = " Role assignments to groups are not expanded." if has_groups else ""
    ids = vaults["id"].tolist()
    return [missing.get(i, ()) for i in ids], [note if missing.get(i) else "" for i in ids]


def chains(m: Model) -> list[dict]:
    """The per-vault resolution chain for the HTML report: vault -> endpoints -> FQDNs -> zone -> record -> link.

    Built from the prepared views with column operations; the only loops are over the output rows."""
    ep, fq = m.endpoints, m.fqdns
    pes = ep[ep["backup"] | ep["storage"]]
    if "resolved" not in fq:
        fq = fq.assign(resolved=None)
    fq = fq.merge(pes[["id", "custom_dns"]].rename(columns={"id": "pe_id"}), on="pe_id")
    broken = np.select([fq["custom_dns"], ~fq["linked"], ~fq["has_record"], fq["stale"]],
                       [None, "no zone linked to the VNet", "no A record", "stale A record"], default=None)
    zone_rid = fq["zone_rid"].where(fq["zone_rid"].notna(), fq["zone_id"])
    recs = [dict(fqdn=f, expected_ips=list(e), zone_name=z, zone_id=zi if isinstance(zi, str) else None,
                 linked=bool(li), record_ips=list(r), resolved=rv, broken=b)
            for f, e, z, zi, li, r, rv, b in zip(fq["fqdn"], fq["expected"], fq["zone_name"], zone_rid, fq["linked"],
                                                   fq["record_ips"], fq["resolved"], broken)]
    by_pe: dict[str, list] = {}
    for pid, rec in zip(fq["pe_id"], recs):
        by_pe.setdefault(pid, []).append(rec)
    status = [", ".join(c) or (p if isinstance(p, str) else "") for c, p in zip(pes["conn_states"], pes["prov_state"])]
    pe_recs = [(vs, dict(pe_id=rid, pe_name=n, kind="backup" if b else "storage", status=st, in_input=bool(ii),
                         custom_dns=bool(cd), fqdns=by_pe.get(i, [])))
               for i, rid, n, b, st, ii, cd, vs in zip(pes["id"], pes["rid"], pes["name"], pes["backup"], status,
                                                        pes["in_input"], pes["custom_dns"], pes["related_vaults"])]
    by_vault: dict[str, list] = {}
    for vs, rec in pe_recs:
        for v in vs:
            by_vault.setdefault(v, []).append(rec)
    bad_status = ("pending", "rejected", "disconnected", "failed")
    out = []
    users = m.vaults[m.vaults["uses_pe"]]
    for vid, rid, name, sub, exp in zip(users["id"], users["rid"], users["name"], users["sub"], users["experience"]):
        eps = sorted(by_vault.get(vid, []), key=lambda r: (r["kind"] != "backup", r["pe_name"] or ""))
        n_broken = sum(1 for e in eps for f in e["fqdns"] if f["broken"]) + sum(
            1 for e in eps if any(b in e["status"].lower() for b in bad_status))
        out.append(dict(vault_id=rid, vault_name=name, subscription_id=sub, experience=exp, endpoints=eps,
                        broken_links=n_broken))
    return out
