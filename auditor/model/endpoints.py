"""The endpoints view: every private endpoint in the input or referenced by a vault's backup connection, which vaults
it serves (backup endpoints directly, storage endpoints through the backup endpoint they were created for), and
the DNS, connection, zone group and NIC evidence the PE and DNS rules read."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .. import arm
from .helpers import agg_tuple, first_or_none, group_pairs, grouped, identify, objects, subscriptions_of, tuples

# storage PEs: named <backup PE>_ecs…/_prot… and ending _blob/_queue
_STORAGE_INFIX = re.compile(r"_(?:ecs|prot)", re.I)


def backup_connections(conns: pd.DataFrame) -> pd.DataFrame:
    """The connections in a Backup group (AzureBackup, AzureBackup_secondary)."""
    return conns[conns["backup"].astype(bool)]


def endpoint_base(pes: pd.DataFrame, backup_conns: pd.DataFrame, bad: dict[str, set[str]]) -> pd.DataFrame:
    """The endpoints in the input, those only a vault's backup connection names, and the malformed ones (stubs),
    with their identity columns and the vaults whose backup connections they are."""
    known = set(pes["id"])
    malformed = bad.get(arm.PRIVATE_ENDPOINT, set())
    vault_side = backup_conns.loc[backup_conns["side"] == "vault", "pe_id"]
    referenced_only = sorted(set(vault_side) - known - malformed)
    stubs = sorted(malformed - known)
    ep = pd.concat([
        pes.assign(in_input=True, malformed=False),
        pd.DataFrame({"id": referenced_only, "in_input": False, "malformed": False}),
        pd.DataFrame({"id": stubs, "in_input": False, "malformed": True}),
    ], ignore_index=True)
    ep = identify(ep)
    ep = ep.join(agg_tuple(backup_conns, "pe_id", "vault_id", "vault_ids"), on="id")
    ep["vault_ids"] = tuples(ep["vault_ids"])
    ep["backup"] = ep["vault_ids"].map(len) > 0
    return ep


def storage_pairs(ep: pd.DataFrame) -> pd.DataFrame:
    """Storage endpoint -> the backup endpoint it was made for (same subscription and group, named
    ``<backup PE>_ecs…/_prot…`` and ending ``_blob``/``_queue``): columns id, sub, rg, base, suffix, backup_pe_id,
    vault_ids."""
    backup = ep[ep["backup"] & ep["in_input"]]
    cand = ep.loc[ep["in_input"] & ~ep["backup"], ["id", "name", "sub", "rg"]]
    lname = cand["name"].str.lower()
    cand = cand[lname.str.endswith("_blob") | lname.str.endswith("_queue")]
    rows = [(pid, sub, rg, name[:m.start()].lower(), name[m.start():])
            for pid, name, sub, rg in zip(*(cand[c].tolist() for c in ("id", "name", "sub", "rg")))
            for m in _STORAGE_INFIX.finditer(name) if m.start() > 0]
    pairs = pd.DataFrame(rows, columns=["id", "sub", "rg", "base", "suffix"]).merge(
        backup.assign(base=backup["name"].str.lower())[["id", "sub", "rg", "base", "vault_ids"]].rename(
            columns={"id": "backup_pe_id"}), on=["sub", "rg", "base"])
    return pairs.drop_duplicates("id")


def attach_storage(ep: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """backup_pe_id, storage, related_vaults (the vaults an endpoint serves, directly or as a storage PE) and
    vault_id (the lowest of them)."""
    ep = ep.merge(pairs[["id", "backup_pe_id"]], on="id", how="left")
    ep["storage"] = ep["backup_pe_id"].notna()
    storage_vaults = pairs.set_index("id")["vault_ids"].to_dict()
    ep["related_vaults"] = [v if v else storage_vaults.get(i, ())
                            for i, v in zip(ep["id"].tolist(), ep["vault_ids"].tolist())]
    ep["vault_id"] = first_or_none(ep["related_vaults"])
    return ep


def add_dns_evidence(ep: pd.DataFrame, vnets: pd.DataFrame, per_pe: dict[str, list]) -> None:
    """The VNet's DNS servers and the FQDN evidence of each endpoint (see ``fqdns.evidence_by_endpoint``)."""
    ep["vnet_in_input"] = ep["vnet_id"].isin(set(vnets["id"]))
    ep["dns_servers"] = ep["vnet_id"].map(vnets.set_index("id")["dns_servers"])
    ep["dns_servers"] = tuples(ep["dns_servers"])
    ep["custom_dns"] = ep["dns_servers"].map(len) > 0
    acc = [per_pe.get(i) for i in ep["id"].tolist()]
    ep["n_fqdns"] = np.array([a[0] if a else 0 for a in acc], dtype=np.int64)
    for c, j in (("fq_missing", 1), ("fq_stale", 2), ("fq_unlinked", 3)):
        ep[c] = objects([tuple(sorted(a[j])) if a else () for a in acc], ep.index)
    ep["storage_fqdn"] = np.array([bool(a[4]) if a else False for a in acc], dtype=bool)
    for c, j in (("fq_zone_ids", 5), ("fq_absent", 6)):
        ep[c] = objects([tuple(sorted(a[j])) if a else () for a in acc], ep.index)


def add_links(ep: pd.DataFrame, backup_conns: pd.DataFrame, zone_groups: dict[str, list],
              nic_pe: list[tuple[str, str]]) -> None:
    """Connection states (both sides) of each backup endpoint, its zone groups' zones and its NICs."""
    states = grouped(backup_conns["pe_id"].tolist(),
                     [f"{side}:{st}" if isinstance(st, str) and st else None
                      for side, st in zip(backup_conns["side"].tolist(), backup_conns["status"].tolist())])
    ids = ep["id"].tolist()
    ep["conn_states"] = objects([states.get(i, ()) for i in ids], ep.index)
    zg_zones = group_pairs((p, z) for p, zs in zip(zone_groups["pe_id"], zone_groups["zone_ids"]) for z in zs)
    ep["zg_zone_ids"] = objects([zg_zones.get(i, ()) for i in ids], ep.index)
    ep["has_zone_group"] = ep["id"].isin(set(zone_groups["pe_id"]))
    nic_ids = grouped([p for _, p in nic_pe], [n for n, _ in nic_pe])
    ep["nic_ids"] = objects([nic_ids.get(i, ()) for i in ids], ep.index)


def finish_endpoints(ep: pd.DataFrame, vaults: pd.DataFrame, v2: set, present: set[str]) -> None:
    """deps, the vault's subscription and experience, the zone groups' zones in other subscriptions and empty
    resolution columns (filled by ``auditor.dns`` with --resolve)."""
    # "zone:<name>": the verdict rests on a zone of that name (or its record or link) NOT being found anywhere
    ep["deps"] = [(i,) + v + n + tuple(x for x in (vn, sn) if isinstance(x, str)) + z + zg + a
                  for i, v, n, vn, sn, z, zg, a in zip(*(ep[c].tolist() for c in (
                      "id", "related_vaults", "nic_ids", "vnet_id", "subnet_id", "fq_zone_ids", "zg_zone_ids",
                      "fq_absent")))]
    ep["vnet_known_anywhere"] = arm.VNET in present
    ep["vault_sub"] = subscriptions_of(ep["vault_id"].fillna(""))
    ep["foreign_zones"] = [tuple(z for z in zs if arm.loose_subscription(z) != vs)
                           for zs, vs in zip(ep["zg_zone_ids"].tolist(), ep["vault_sub"].tolist())]
    for c in ("res_bad", "res_ok", "res_unreachable"):
        ep[c] = [()] * len(ep)
    ep["experience"] = ep["vault_id"].map(vaults.set_index("id")["experience"]).astype(object).fillna("undetermined")
    ep["v2"] = [not v2.isdisjoint(vs) for vs in ep["related_vaults"].tolist()]


def experiences(ep: pd.DataFrame, backup_conns: pd.DataFrame, pairs: pd.DataFrame) -> tuple[set, set]:
    """(v1 vaults, v2 vaults): v2 where a backup endpoint has a storage FQDN or a secondary connection exists, v1
    where a storage endpoint exists (and not v2)."""
    v2_fq = ep.loc[ep["backup"] & ep["storage_fqdn"], ["vault_ids"]].explode("vault_ids")["vault_ids"]
    secondary = backup_conns[backup_conns["secondary"].astype(bool)]
    v2 = set(v2_fq) | set(secondary["vault_id"])
    v1 = set(pairs.explode("vault_ids")["vault_ids"]) - v2
    return v1, v2
