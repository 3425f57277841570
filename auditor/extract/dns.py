"""Extractors for private DNS: zones, A record sets and virtual network links."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ingest as I
from ..arm import id_parts, parent as parent_id
from ..fields import props, ref
from ._common import _fields

if TYPE_CHECKING:
    from . import Tables


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
