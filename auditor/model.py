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
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from . import ingest as I
from .extract import Tables

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
DNS_ZONE_CONTRIBUTOR = "b12aa53e-6015-4669-85d0-8515ebb3ae7f"
# IAM-001's three needs: the built-in roles that meet each, and the action a custom role must grant.
NEEDS = {
    "rg": ({OWNER, CONTRIBUTOR}, "microsoft.network/privateendpoints/write", "Contributor or Owner"),
    "vnet": ({OWNER, CONTRIBUTOR, NETWORK_CONTRIBUTOR}, "microsoft.network/virtualnetworks/subnets/join/action",
             "Network Contributor, Contributor or Owner"),
    "zone": ({OWNER, CONTRIBUTOR, DNS_ZONE_CONTRIBUTOR}, "microsoft.network/privatednszones/a/write",
             "Private DNS Zone Contributor, Contributor or Owner"),
}
REREGISTER_CUTOFF = pd.Timestamp("2020-05-01T00:00:00Z")
TEXT_COLUMNS = ("rid", "name", "sub", "rg", "location", "pna", "identity_type", "principal_id", "identity_tenant", "crr",
                "created", "sub_tenant", "crr_flag", "prov_state", "subnet_id", "vnet_id", "vault_id", "backup_pe_id",
                "state", "oldest_vault", "experience", "vault_sub")

COLUMNS = {
    "vaults": ["id", "rid", "name", "sub", "rg", "location", "pna", "identity_type", "principal_id",
               "identity_tenant", "crr", "created"],
    "conns": ["vault_id", "pe_id", "groups", "backup", "secondary", "status", "side", "conn_id"],
    "pes": ["id", "rid", "name", "sub", "rg", "subnet_id", "vnet_id", "prov_state"],
    "pe_nics": ["pe_id", "nic_id"], "pe_fqdns": ["pe_id", "fqdn", "ip"], "nics": ["nic_id", "pe_id"],
    "nic_ipconfigs": ["ipc_id", "nic_id", "subnet_id", "ip", "ipv4"], "nic_fqdns": ["nic_id", "fqdn", "ip"],
    "vnets": ["id", "rid", "name", "sub", "rg", "dns_servers"],
    "subnets": ["id", "name", "vnet_id", "prefixes", "ipc_ids"],
    "zones": ["id", "rid", "name", "sub", "rg"], "records": ["id", "zone_id", "zone_name", "rel", "ips"],
    "links": ["id", "zone_id", "zone_name", "vnet_id"], "zone_groups": ["id", "pe_id", "zone_ids"],
    "roles": ["id", "principal_id", "principal_type", "role_guid", "scope"],
    "role_defs": ["guid", "perms", "role_type"], "subs": ["sub", "tenant", "name"],
    "providers": ["sub", "namespace", "state"], "events": ["sub", "op", "status", "ts"],
    "storage_configs": ["vault_id", "crr_flag"], "protected_items": ["vault_id", "id"],
}


def frame(rows: list[dict], name: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS[name]) if rows else pd.DataFrame(
        {c: pd.Series(dtype=object) for c in COLUMNS[name]})


def _txt(s: pd.Series) -> pd.Series:
    """Strings, '' for missing, object dtype even when empty (so .str works on an empty estate)."""
    return s.astype(object).where(s.notna(), "")


def _sub_of(ids: pd.Series) -> pd.Series:
    return _txt(ids).str.extract(r"^/subscriptions/([^/]+)", expand=False).fillna("")


def _rg_of(ids: pd.Series) -> pd.Series:
    return _txt(ids).str.extract(r"/resourcegroups/([^/]+)", expand=False).fillna("")


def _rg_id(ids: pd.Series) -> pd.Series:
    return _txt(ids).str.extract(r"^(/subscriptions/[^/]+/resourcegroups/[^/]+)", expand=False)


def _last(ids: pd.Series) -> pd.Series:
    return _txt(ids).str.rsplit("/", n=1).str[-1]


def _identify(df: pd.DataFrame) -> pd.DataFrame:
    """rid (the id as ARM spelled it), name, subscription and resource group of every row, also for rows known
    only by their (lower-cased) id."""
    if "rid" not in df:
        df["rid"] = df["id"]
    if "name" not in df:
        df["name"] = None
    df["rid"] = df["rid"].where(df["rid"].notna(), df["id"])
    df["name"] = df["name"].where(df["name"].notna(), _last(df["id"]))
    df["sub"] = _sub_of(df["id"])
    df["rg"] = _rg_of(df["id"])
    return df


def _holding(view: pd.DataFrame, endpoints: pd.DataFrame, where: str, vaults: str) -> pd.DataFrame:
    """For each row of a subnet or VNet view: the endpoints it holds (``where`` is their subnet_id or vnet_id), their
    names and vaults, and the lowest vault id (the row's vault_id)."""
    held = endpoints.dropna(subset=[where])
    for col, src, data in (("vault_ids", vaults, held.explode(vaults)), ("pe_names", "name", held),
                           ("pe_ids", "id", held)):
        view = view.join(_agg_tuple(data, where, src, col), on="id")
        view[col] = _tuples(view[col])
    view["vault_id"] = view["vault_ids"].map(lambda v: v[0] if v else None)
    return view


def _tuples(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v if isinstance(v, tuple) else ())


def _grouped(keys: list, values: list) -> dict:
    """key -> sorted tuple of the distinct non-null values: one pass over plain lists."""
    acc: dict = {}
    for k, v in zip(keys, values):
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


def _texts(df: pd.DataFrame, mask: pd.Series, text: pd.Series, name: str) -> pd.Series:
    """Per PE, the tuple of ``text`` on the rows where ``mask`` holds."""
    return _agg_tuple(pd.DataFrame({"pe_id": df["pe_id"], "t": text})[mask.to_numpy(dtype=bool)], "pe_id", "t", name)


def _join(t: pd.Series, sep: str = ", ") -> pd.Series:
    return t.map(sep.join)


def _zone_sub(zone_id: str) -> str:
    parts = zone_id.split("/")
    return parts[2] if len(parts) > 2 else ""


def covers(scope: str, rid: str) -> bool:
    """A role assignment scope covers a resource id (both lower-cased)."""
    if scope in ("", "/") or scope.startswith("/providers/microsoft.management/managementgroups/"):
        return True
    return rid == scope or rid.startswith(scope + "/")


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


def _split_one(fqdn: str) -> tuple[str, str]:
    labels = fqdn.split(".")
    if "privatelink" in labels[1:]:
        i = labels.index("privatelink", 1)
        return ".".join(labels[i:]), ".".join(labels[:i])
    return "privatelink." + ".".join(labels[1:]), labels[0]


def split_fqdn(fqdns: pd.Series) -> pd.DataFrame:
    """Zone and record name of each FQDN (RULES.md: the suffix from the ``privatelink`` label, else
    ``privatelink.`` inserted after the first label)."""
    pairs = [_split_one(f) for f in fqdns.tolist()]
    return pd.DataFrame({"zone_name": [z for z, _ in pairs], "rec_name": [r for _, r in pairs]}, index=fqdns.index,
                        dtype=object)


def _ipv4_capacity(prefixes: tuple) -> int | None:
    total, seen = 0, False
    for p in prefixes:
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
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def view(self, subject: str) -> pd.DataFrame:
        return getattr(self, subject)

    def vault_rids(self) -> dict[str, str]:
        """Lower-cased vault id -> the id as ARM spelled it."""
        if "_vault_rids" not in self.__dict__:
            self.__dict__["_vault_rids"] = dict(zip(self.vaults["id"].tolist(), self.vaults["rid"].astype(str).tolist()))
        return self.__dict__["_vault_rids"]


def build(t: Tables, bad: dict[str, set[str]], present: Iterable[str], errors: list[dict]) -> Model:
    F = {n: frame(getattr(t, n), n) for n in Tables.NAMES}
    present = set(present)
    for name in ("vaults", "pes", "vnets", "subnets", "zones", "records", "links", "roles", "subs", "nics"):
        F[name] = F[name].drop_duplicates("id" if "id" in F[name] else F[name].columns[0], keep="first")
    conns = F["conns"].drop_duplicates(["vault_id", "pe_id", "side", "groups"])
    pes = F["pes"]

    # ---------------------------------------------------------------- connections, backup and storage PEs
    bconn = conns[conns["backup"].astype(bool)]
    backup_pe_vaults = _agg_tuple(bconn, "pe_id", "vault_id", "vault_ids")
    known_pe_ids = set(pes["id"])
    ref_only = sorted(set(bconn.loc[bconn["side"] == "vault", "pe_id"]) - known_pe_ids - bad.get(I.PRIVATE_ENDPOINT, set()))
    stub_pes = sorted(bad.get(I.PRIVATE_ENDPOINT, set()) - known_pe_ids)
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
            for pid, name, sub, rg in zip(cand["id"], cand["name"], cand["sub"], cand["rg"])
            for m in re.finditer(r"_(?:ecs|prot)", name, re.I) if m.start() > 0]
    storage_pairs = pd.DataFrame(rows, columns=["id", "sub", "rg", "base", "suffix"]).merge(
        bpe.assign(base=bpe["name"].str.lower())[["id", "sub", "rg", "base", "vault_ids"]].rename(
            columns={"id": "backup_pe_id"}), on=["sub", "rg", "base"])
    storage_pairs = storage_pairs.drop_duplicates("id")
    ep = ep.merge(storage_pairs[["id", "backup_pe_id"]], on="id", how="left")
    ep["storage"] = ep["backup_pe_id"].notna()
    st_vaults = storage_pairs.set_index("id")["vault_ids"]
    st_vaults = st_vaults.to_dict()
    ep["related_vaults"] = [v if v else st_vaults.get(i, ()) for i, v in zip(ep["id"], ep["vault_ids"])]
    ep["vault_id"] = ep["related_vaults"].map(lambda v: v[0] if v else None)

    # ---------------------------------------------------------------- FQDNs, zones, records, links
    nic_pe = pd.concat([F["pe_nics"][["nic_id", "pe_id"]], F["nics"].loc[F["nics"]["pe_id"].notna(), ["nic_id", "pe_id"]]]
                       ).drop_duplicates()
    fq = pd.concat([F["pe_fqdns"][["pe_id", "fqdn", "ip"]],
                    F["nic_fqdns"].merge(nic_pe, on="nic_id")[["pe_id", "fqdn", "ip"]]], ignore_index=True)
    fq["fqdn"] = fq["fqdn"].str.lower().str.rstrip(".")
    fq = fq[fq["fqdn"].str.len() > 0]
    # one string key per (endpoint, FQDN): single-column hashing and dict lookups instead of two-column joins
    fq["k"] = fq["pe_id"] + "|" + fq["fqdn"]
    exp_ips = fq[["k", "ip"]].dropna()
    fqv = fq.drop_duplicates("k")[["k", "pe_id", "fqdn"]].reset_index(drop=True)
    expected = _grouped(exp_ips["k"].tolist(), exp_ips["ip"].tolist())
    fqv["expected"] = [expected.get(k, ()) for k in fqv["k"].tolist()]
    fqv = pd.concat([fqv, split_fqdn(fqv["fqdn"])], axis=1)
    fqv["vnet_id"] = fqv["pe_id"].map(dict(zip(ep["id"].tolist(), ep["vnet_id"].tolist())))
    links = F["links"].dropna(subset=["vnet_id"])
    linked = _grouped((links["zone_name"] + "|" + links["vnet_id"]).tolist(), links["zone_id"].tolist())
    fqv["linked_zone_ids"] = [linked.get(f"{z}|{v}", ()) for z, v in zip(fqv["zone_name"].tolist(),
                                                                         fqv["vnet_id"].tolist())]
    fqv["linked"] = fqv["linked_zone_ids"].map(len) > 0
    recs = F["records"][F["records"]["ips"].map(len) > 0]
    m1 = fqv.loc[fqv["linked"], ["k", "linked_zone_ids", "rec_name"]].explode("linked_zone_ids").astype(object).merge(
        recs, left_on=["linked_zone_ids", "rec_name"], right_on=["zone_id", "rel"])
    m2 = fqv.loc[~fqv["linked"], ["k", "zone_name", "rec_name"]].merge(
        recs, left_on=["zone_name", "rec_name"], right_on=["zone_name", "rel"])
    found = pd.concat([m1[["k", "zone_id", "ips"]], m2[["k", "zone_id", "ips"]]], ignore_index=True)
    rec_ips = found.explode("ips").dropna(subset=["ips"])
    record_ips = _grouped(rec_ips["k"].tolist(), rec_ips["ips"].tolist())
    record_zones = _grouped(found["k"].tolist(), found["zone_id"].tolist())
    fqv["record_ips"] = [record_ips.get(k, ()) for k in fqv["k"].tolist()]
    fqv["record_zone_ids"] = [record_zones.get(k, ()) for k in fqv["k"].tolist()]
    fqv["has_record"] = fqv["record_ips"].map(len) > 0
    hit = {k for k, ip in zip(rec_ips["k"].tolist(), rec_ips["ips"].tolist()) if ip in expected.get(k, ())}
    fqv["ip_match"] = fqv["k"].isin(hit)
    fqv["stale"] = fqv["has_record"] & ~fqv["ip_match"]
    fqv["storage_zone"] = fqv["zone_name"].str.startswith(("privatelink.blob.", "privatelink.queue."))
    zone_lookup = F["zones"].set_index("id")["rid"]
    fqv["zone_id"] = [l[0] if l else (r[0] if r else None) for l, r in zip(fqv["linked_zone_ids"], fqv["record_zone_ids"])]

    # ---------------------------------------------------------------- endpoints view
    vnets = F["vnets"]
    vnet_dns = vnets.set_index("id")["dns_servers"]
    ep["vnet_in_input"] = ep["vnet_id"].isin(set(vnets["id"]))
    ep["dns_servers"] = ep["vnet_id"].map(vnet_dns)
    ep["dns_servers"] = _tuples(ep["dns_servers"])
    ep["custom_dns"] = ep["dns_servers"].map(len) > 0
    g = fqv.groupby("pe_id", sort=False)
    exp_txt = _join(fqv["expected"]).replace("", "no IP")
    zones_long = pd.concat([fqv[["pe_id", "linked_zone_ids"]].explode("linked_zone_ids").set_axis(["pe_id", "z"], axis=1),
                            fqv[["pe_id", "record_zone_ids"]].explode("record_zone_ids").set_axis(["pe_id", "z"], axis=1)])
    per_pe = pd.DataFrame({
        "n_fqdns": g.size(),
        "fq_missing": _texts(fqv, ~fqv["has_record"], fqv["fqdn"] + " (expected " + exp_txt + "; zone "
                             + fqv["zone_name"] + ")", "fq_missing"),
        "fq_stale": _texts(fqv, fqv["stale"], fqv["fqdn"] + " -> " + _join(fqv["record_ips"]) + " (expected "
                           + exp_txt + ")", "fq_stale"),
        "fq_unlinked": _texts(fqv, ~fqv["linked"], fqv["fqdn"] + " (zone " + fqv["zone_name"] + ")", "fq_unlinked"),
        "storage_fqdn": g["storage_zone"].any(),
        "fq_zone_ids": _agg_tuple(zones_long, "pe_id", "z", "fq_zone_ids"),
        "fq_absent": _agg_tuple(fqv.assign(t="zone:" + fqv["zone_name"])[~fqv["has_record"] | ~fqv["linked"]],
                                "pe_id", "t", "fq_absent"),
    }) if len(fqv) else pd.DataFrame(columns=["n_fqdns", "fq_missing", "fq_stale", "fq_unlinked", "storage_fqdn",
                                              "fq_zone_ids", "fq_absent"])
    ep = ep.join(per_pe, on="id")
    ep["n_fqdns"] = ep["n_fqdns"].fillna(0).astype(int)
    for c in ("fq_missing", "fq_stale", "fq_unlinked", "fq_zone_ids"):
        ep[c] = _tuples(ep[c])
    ep["storage_fqdn"] = ep["storage_fqdn"].fillna(False).astype(bool)
    ep["fq_absent"] = _tuples(ep["fq_absent"])

    # connection states (both sides) of each backup PE
    st = bconn.assign(status=bconn["status"].fillna(""))
    st = st.assign(label=st["side"] + ":" + st["status"])
    ep = ep.join(_agg_tuple(st[st["status"] != ""], "pe_id", "label", "conn_states"), on="id")
    ep["conn_states"] = _tuples(ep["conn_states"])

    # zone groups
    zg = F["zone_groups"].explode("zone_ids").dropna(subset=["zone_ids"])
    ep = ep.join(_agg_tuple(zg, "pe_id", "zone_ids", "zg_zone_ids"), on="id")
    ep["zg_zone_ids"] = _tuples(ep["zg_zone_ids"])
    ep["has_zone_group"] = ep["id"].isin(set(F["zone_groups"]["pe_id"]))
    nic_ids = _agg_tuple(nic_pe, "pe_id", "nic_id", "nic_ids")
    ep = ep.join(nic_ids, on="id")
    ep["nic_ids"] = _tuples(ep["nic_ids"])

    # ---------------------------------------------------------------- vault experience
    v2_fq = ep.loc[ep["backup"] & ep["storage_fqdn"], ["vault_ids"]].explode("vault_ids")["vault_ids"]
    sec = bconn[bconn["secondary"].astype(bool)]
    v2 = set(v2_fq) | set(sec["vault_id"])
    v1 = set(storage_pairs.explode("vault_ids")["vault_ids"]) - v2

    # ---------------------------------------------------------------- vaults view
    vaults = F["vaults"].assign(malformed=False, in_input=True)
    stub_vaults = sorted(bad.get(I.VAULT, set()) - set(vaults["id"]))
    vaults = pd.concat([vaults, pd.DataFrame({"id": stub_vaults, "malformed": True, "in_input": False})],
                       ignore_index=True)
    vaults = _identify(vaults)
    allc = conns.drop_duplicates(["vault_id", "pe_id", "secondary"])
    vb = bconn.drop_duplicates(["vault_id", "pe_id"])
    vaults["n_backup"] = vaults["id"].map(vb.groupby("vault_id").size()).fillna(0).astype(int)
    vaults["uses_pe"] = vaults["n_backup"] > 0
    vaults["n_any_conn"] = vaults["id"].map(allc.drop_duplicates(["vault_id", "pe_id"]).groupby("vault_id").size()
                                            ).fillna(0).astype(int)
    vaults["n_primary"] = vaults["id"].map(allc[~allc["secondary"].astype(bool)].groupby("vault_id")["pe_id"].nunique()
                                           ).fillna(0).astype(int)
    vaults["n_secondary"] = vaults["id"].map(allc[allc["secondary"].astype(bool)].groupby("vault_id")["pe_id"].nunique()
                                             ).fillna(0).astype(int)
    # approved AzureBackup_secondary: the vault side's word where it has one, else the PE side's
    sec_state = sec.dropna(subset=["status"]).sort_values("side", key=lambda s: s.map({"vault": 0, "pe": 1}))
    sec_state = sec_state.drop_duplicates(["vault_id", "pe_id"])
    approved_sec = set(sec_state.loc[sec_state["status"] == "approved", "vault_id"])
    vaults["secondary_approved"] = vaults["id"].isin(approved_sec)
    vaults["experience"] = ["v2" if i in v2 else "v1" if i in v1 else "undetermined" for i in vaults["id"]]
    it = vaults["identity_type"].fillna("").str.lower().str.replace(" ", "")
    vaults["system_identity"] = it.str.split(",").map(lambda parts: "systemassigned" in parts)
    sc = F["storage_configs"].dropna(subset=["crr_flag"])
    vaults["crr_flag"] = vaults["id"].map(sc.groupby("vault_id")["crr_flag"].any())
    subs = F["subs"]
    vaults["sub_tenant"] = vaults["sub"].map(subs.dropna(subset=["tenant"]).set_index("sub")["tenant"])
    if I.PROTECTED_ITEM in present:
        vaults["protected_count"] = vaults["id"].map(F["protected_items"].groupby("vault_id").size()).fillna(0).astype(int)
    else:
        vaults["protected_count"] = pd.NA
    vaults["created_ts"] = pd.to_datetime(vaults["created"], utc=True, errors="coerce", format="ISO8601")

    # related ids of each vault: its PEs (both kinds), their NICs, VNets and zones
    vpe = ep[["id", "related_vaults", "nic_ids", "vnet_id", "subnet_id", "fq_zone_ids", "zg_zone_ids", "fq_absent"]
             ].explode("related_vaults").dropna(subset=["related_vaults"])
    vconn_pes = _agg_tuple(conns, "vault_id", "pe_id", "conn_pes")
    vaults = vaults.join(vconn_pes, on="id")
    vaults["conn_pes"] = _tuples(vaults["conn_pes"])
    vpe = vpe.rename(columns={"related_vaults": "v"})
    # zones a vault's verdicts rest on: IAM-001 (c) reads the blob/queue zones linked to its storage endpoints'
    # VNets (and, where none is linked, rests on no zone of that name being linked anywhere)
    sfq = fqv[fqv["storage_zone"] & fqv["pe_id"].isin(set(ep.loc[ep["storage"], "id"]))]
    sfq = sfq.merge(vpe[["id", "v"]].rename(columns={"id": "pe_id"}), on="pe_id")
    dep_long = pd.concat([vpe[["v", "id"]].set_axis(["v", "d"], axis=1),
                          vpe[["v", "nic_ids"]].explode("nic_ids").set_axis(["v", "d"], axis=1),
                          vpe[["v", "vnet_id"]].set_axis(["v", "d"], axis=1),
                          vpe[["v", "subnet_id"]].set_axis(["v", "d"], axis=1),
                          sfq[["v", "linked_zone_ids"]].explode("linked_zone_ids").set_axis(["v", "d"], axis=1),
                          pd.DataFrame({"v": sfq.loc[~sfq["linked"], "v"],
                                        "d": "zone:" + sfq.loc[~sfq["linked"], "zone_name"]})])
    vdeps = _agg_tuple(dep_long, "v", "d").to_dict()
    vaults["deps"] = [(i,) + c + (vdeps.get(i, ()) or ()) for i, c in zip(vaults["id"], vaults["conn_pes"])]
    vaults["iam_missing"], vaults["iam_group_note"] = _iam(vaults, ep, fqv, F)

    # endpoint deps
    # "zone:<name>": the verdict rests on a zone of that name (or its record or link) NOT being found anywhere
    ep["deps"] = [(i,) + v + n + tuple(x for x in (vn, sn) if isinstance(x, str)) + z + zg + a
                  for i, v, n, vn, sn, z, zg, a in zip(ep["id"], ep["related_vaults"], ep["nic_ids"], ep["vnet_id"],
                                                       ep["subnet_id"], ep["fq_zone_ids"], ep["zg_zone_ids"], ep["fq_absent"])]
    ep["vnet_known_anywhere"] = I.VNET in present
    ep["vault_sub"] = _sub_of(ep["vault_id"].fillna(""))
    ep["foreign_zones"] = [tuple(z for z in zs if _zone_sub(z) != vs) for zs, vs in zip(ep["zg_zone_ids"], ep["vault_sub"])]
    for c in ("res_bad", "res_ok", "res_unreachable"):
        ep[c] = [()] * len(ep)
    exp_map = vaults.set_index("id")["experience"]
    ep["experience"] = ep["vault_id"].map(exp_map).astype(object).fillna("undetermined")
    ep["v2"] = [any(v in v2 for v in vs) for vs in ep["related_vaults"]]

    # ---------------------------------------------------------------- subnets view
    subnets = F["subnets"]
    # a subnet seen twice (inline in its VNet and standalone) is one subnet: union of prefixes and configurations
    prefixes = _agg_tuple(subnets[["id", "prefixes"]].explode("prefixes"), "id", "prefixes")
    nic_ipc = F["nic_ipconfigs"].dropna(subset=["subnet_id"])
    ipcs = pd.concat([subnets[["id", "ipc_ids"]].explode("ipc_ids").set_axis(["id", "ipc"], axis=1),
                      nic_ipc[["subnet_id", "ipc_id"]].set_axis(["id", "ipc"], axis=1)]).dropna().drop_duplicates()
    subnets = subnets.drop_duplicates("id")[["id", "name", "vnet_id"]].reset_index(drop=True)
    subnets["prefixes"] = subnets["id"].map(prefixes.to_dict())
    subnets["used"] = subnets["id"].map(ipcs.groupby("id").size().to_dict())
    subnets["in_input"] = True
    ref_subnets = set(ep.loc[ep["backup"] & ep["in_input"], "subnet_id"].dropna()) - set(subnets["id"])
    subnets = pd.concat([subnets, pd.DataFrame({"id": sorted(ref_subnets), "in_input": False})], ignore_index=True)
    subnets["vnet_id"] = subnets["vnet_id"].where(subnets["vnet_id"].notna(), subnets["id"].map(I.vnet_of))
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
    subnets["malformed"] = subnets["vnet_id"].isin(bad.get(I.VNET, set())) | subnets["id"].isin(bad.get(I.SUBNET, set()))

    # ---------------------------------------------------------------- vnets view
    holders = ep[(ep["backup"] | ep["storage"]) & ep["in_input"]].dropna(subset=["vnet_id"])
    vn = vnets.assign(in_input=True, malformed=False)
    ref_vnets = set(holders["vnet_id"]) - set(vn["id"])
    stub = bad.get(I.VNET, set()) - set(vn["id"])
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
    return Model(vaults=vaults, endpoints=ep, subnets=subnets, vnets=vn, providers=pv, fqdns=fqv, present=present,
                 errors=errors, subscriptions=all_subs, tables=F)


def _iam(vaults: pd.DataFrame, ep: pd.DataFrame, fqv: pd.DataFrame, F: dict) -> tuple[list, list]:
    """For each vault, the IAM-001 needs its identity does not meet (a tuple of texts) and a note on groups."""
    target = vaults[vaults["uses_pe"] & vaults["system_identity"] & vaults["principal_id"].notna()]
    empty = [()] * len(vaults), [""] * len(vaults)
    if target.empty:
        return empty
    bpe = ep[ep["backup"]].explode("vault_ids").rename(columns={"vault_ids": "v"})
    bpe = bpe[bpe["v"].isin(set(target["id"]))]
    needs = [pd.DataFrame({"v": bpe["v"], "need": "rg", "target": _rg_id(bpe["id"])}),
             pd.DataFrame({"v": bpe["v"], "need": "vnet", "target": bpe["vnet_id"]})]
    spe = ep[ep["storage"]].explode("related_vaults").rename(columns={"related_vaults": "v"})
    spe = spe[spe["v"].isin(set(target["id"]))]
    sz = fqv[fqv["storage_zone"] & fqv["linked"]].explode("linked_zone_ids")
    sz = sz.merge(spe[["id", "v"]], left_on="pe_id", right_on="id")
    needs.append(pd.DataFrame({"v": sz["v"], "need": "zone", "target": sz["linked_zone_ids"]}))
    nd = pd.concat(needs, ignore_index=True).dropna(subset=["target"]).drop_duplicates()
    nd = nd.merge(target[["id", "principal_id"]], left_on="v", right_on="id")[["v", "need", "target", "principal_id"]]
    roles = F["roles"]
    grants = custom_grants(F["role_defs"])
    j = nd.merge(roles[["principal_id", "principal_type", "role_guid", "scope"]], on="principal_id")
    ok = [covers(s, t) and (g in NEEDS[n][0] or n in grants.get(g, ()))
          for s, t, g, n in zip(j["scope"].tolist(), j["target"].tolist(), j["role_guid"].tolist(), j["need"].tolist())]
    met = j[pd.Series(ok, index=j.index, dtype=bool)][["v", "need", "target"]].drop_duplicates()
    miss = nd.merge(met.assign(ok=True), on=["v", "need", "target"], how="left")
    miss = miss[miss["ok"].isna()]
    kinds = {"rg": "resource group", "vnet": "virtual network", "zone": "private DNS zone"}
    miss = miss.assign(text=[f"{NEEDS[n][2]} on {kinds[n]} {t}" for n, t in zip(miss["need"], miss["target"])])
    missing = _agg_tuple(miss, "v", "text").to_dict()
    has_groups = roles["principal_type"].str.lower().eq("group").any()
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
