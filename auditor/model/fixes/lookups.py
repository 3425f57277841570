"""The lookups every family of fixes reads, built once from the model's tables and views."""
from __future__ import annotations

from dataclasses import dataclass

from ... import arm

EP_COLUMNS = ("id", "rid", "name", "sub", "backup", "storage", "in_input", "custom_dns", "vnet_in_input",
              "vnet_known_anywhere", "n_fqdns", "vault_id", "related_vaults", "vnet_id", "subnet_id", "prov_state",
              "vault_ids")
FQ_COLUMNS = ("pe_id", "fqdn", "expected", "zone_name", "rec_name", "vnet_id", "linked_zone_ids", "has_record",
              "stale", "linked", "record_zone_ids")


@dataclass
class Lookups:
    """Ids to ARM ids and subscriptions, zones by name, records' addresses, and the endpoint and FQDN columns."""
    zone_rid: dict[str, str]                     # zone id -> the zone's id as ARM spells it
    zone_sub: dict[str, str]                     # zone id -> its subscription
    zones_by_name: dict[str, list[str]]          # lower-cased zone name -> zone ids
    rec_ips: dict[tuple[str, str], list[str]]    # (zone id, record name) -> the record's addresses
    vnet_rid: dict[str, str]                     # vnet id -> the VNet's id as ARM spells it
    vault_rid: dict[str, str]                    # vault id -> the vault's id as ARM spells it
    vault_sub: dict[str, str]                    # vault id -> its subscription
    ep: dict[str, list]                          # the endpoints view's EP_COLUMNS, as lists
    pe_row: dict[str, int]                       # endpoint id -> its row in ep
    fq: dict[str, list]                          # the FQDNs view's FQ_COLUMNS, as lists

    def vault_of(self, i: int) -> str:
        """The vault id of endpoint row i ('' when it has none)."""
        v = self.ep["vault_id"][i]
        return v if isinstance(v, str) else ""


def build_lookups(m) -> Lookups:
    t = m.tables
    zones = t["zones"]
    zone_rid = dict(zip(zones["id"].tolist(), zones["rid"].astype(str).tolist()))
    zones_by_name: dict[str, list[str]] = {}
    for zid, name in zip(zones["id"].tolist(), zones["name"].tolist()):
        if isinstance(zid, str) and isinstance(name, str):
            zones_by_name.setdefault(name.lower(), []).append(zid)
    rec = t["records"]
    rec_ips: dict[tuple[str, str], list[str]] = {}
    for zid, rel, ips in zip(rec["zone_id"].tolist(), rec["rel"].tolist(), rec["ips"].tolist()):
        rec_ips.setdefault((zid, rel), []).extend(ips or ())
    vnets = t["vnets"]
    ep = {c: m.endpoints[c].tolist() for c in EP_COLUMNS}
    return Lookups(
        zone_rid=zone_rid,
        zone_sub={z: arm.subscription_of(z) for z in zone_rid},
        zones_by_name=zones_by_name,
        rec_ips=rec_ips,
        vnet_rid=dict(zip(vnets["id"].tolist(), vnets["rid"].astype(str).tolist())),
        vault_rid=m.vault_rids(),
        vault_sub=dict(zip(m.vaults["id"].tolist(), m.vaults["sub"].tolist())),
        ep=ep,
        pe_row={pid: i for i, pid in enumerate(ep["id"])},
        fq={c: m.fqdns[c].tolist() for c in FQ_COLUMNS},
    )
