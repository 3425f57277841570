"""Region -> Azure Backup geo code (the ``<geo>`` of ``privatelink.<geo>.backup.windowsazure.com``).

Two machine-readable tables ship as package data, verbatim:

* ``data/geo-codes-avm.json``: Azure/terraform-azurerm-avm-utl-regions ``locals.geo.codes.tf.json`` (commit
  733a48b3), 73 regions keyed by ARM name;
* ``data/geo-codes-azure-docs.xml``: the XML block of MicrosoftDocs/azure-docs ``articles/backup/scripts/
  geo-code-list.md`` (commit 78a92811), 64 regions keyed by display name (sovereign regions included).

A region (an ARM ``location``, lower-cased without spaces) is looked up in the first, then in the second (display
names lower-cased without spaces); the regions in both agree (tests/test_geo.py). The POL rules' ``geo_codes``
parameter adds or overrides entries, for regions newer than the tables.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import lru_cache
from importlib import resources


def region_key(location) -> str:
    """An ARM location as the tables key it: lower-cased, without spaces ('West Europe' -> 'westeurope')."""
    return "".join(str(location).split()).lower() if isinstance(location, str) else ""


@lru_cache(maxsize=1)
def avm_table() -> dict[str, str]:
    doc = json.loads((resources.files("auditor") / "data" / "geo-codes-avm.json").read_text(encoding="utf-8"))
    return {region_key(k): str(v).lower() for k, v in doc["locals"]["geo_codes_by_name"].items()}


@lru_cache(maxsize=1)
def docs_table() -> dict[str, str]:
    root = ET.fromstring((resources.files("auditor") / "data" / "geo-codes-azure-docs.xml").read_bytes())
    return {region_key(e.get("RegionName")): e.get("GeoCode", "").lower()
            for e in root.iter("GeoCodeRegionNameMap") if e.get("RegionName") and e.get("GeoCode")}


@lru_cache(maxsize=1)
def table() -> dict[str, str]:
    """Region -> geo code: the documentation's entries, then AVM's over them (AVM first when looking up)."""
    return {**docs_table(), **avm_table()}


def geo_of(location, extra: dict | None = None) -> str | None:
    """The geo code of a region, ``extra`` (the ``geo_codes`` parameter) first; None when no table has it."""
    key = region_key(location)
    if not key:
        return None
    if extra:
        for k, v in extra.items():
            if region_key(k) == key:
                return str(v).lower()
    return table().get(key)
