"""The shipped region -> geo code tables: every region maps, both sources agree where they overlap, and the
`geo_codes` parameter adds new regions."""
from __future__ import annotations

import re

from auditor import geo


def test_every_region_in_the_tables_maps_to_a_geo_code():
    for region in geo.table():
        code = geo.geo_of(region)
        assert code and re.fullmatch(r"[a-z0-9]+", code), region


def test_both_sources_agree_where_they_overlap():
    avm, docs = geo.avm_table(), geo.docs_table()
    shared = set(avm) & set(docs)
    assert len(avm) == 73 and len(docs) == 64 and len(shared) == 48
    assert {r: (avm[r], docs[r]) for r in shared if avm[r] != docs[r]} == {}


def test_lookup_spellings_and_examples():
    assert geo.geo_of("westeurope") == geo.geo_of("West Europe") == "we"
    assert geo.geo_of("eastus") == "eus" and geo.geo_of("northeurope") == "ne"
    assert geo.geo_of("chinanorth") == "bjb"          # only in the Azure Backup list (display name China North)
    assert geo.geo_of("marsnorth") is None and geo.geo_of(None) is None


def test_geo_codes_parameter_adds_and_overrides():
    assert geo.geo_of("Mars North", {"marsnorth": "MN"}) == "mn"
    assert geo.geo_of("westeurope", {"West Europe": "x"}) == "x"
