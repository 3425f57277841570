"""The load path's bookkeeping: what each extractor may write, what a malformed object leaves behind, and the entity
frames the model keeps (``Model.tables``), which ``build`` itself reads as plain lists."""
from __future__ import annotations

import copy

import pandas as pd
import pytest

from auditor import engine
from auditor import ingest as I
from auditor.extract import COLUMNS, EXTRACTORS, Tables, extract
from auditor.model import UNIQUE, records

from . import synth
from .rules.base import base_estate


def _routed(objects: list) -> list[I.RawObject]:
    ing = I.Ingested()
    I.add_objects(ing, copy.deepcopy(objects), "t.json")
    return list(ing.objects.values())


def _estate() -> list:
    return base_estate()[0] + synth.demo().objects


def test_every_type_has_an_extractor():
    assert set(EXTRACTORS) == set(I.KNOWN_TYPES)


def test_extractors_write_only_the_tables_they_declare():
    """A malformed object is undone table by table: an extractor must declare every table it appends to."""
    seen = set()
    for raw in _routed(_estate()):
        fn, writes = EXTRACTORS[raw.type]
        t = Tables()
        fn(t, raw)
        grown = {n for n in Tables.NAMES if getattr(t, n)}
        assert grown <= set(writes), (raw.type, grown - set(writes))
        for n in grown:
            assert all(len(row) == len(COLUMNS[n]) for row in getattr(t, n)), n
        seen.add(raw.type)
    assert len(seen) >= 12  # the estates exercise most types


@pytest.mark.parametrize("kind,breaks", [
    (I.VAULT, lambda o: o["properties"]["privateEndpointConnections"].append(7)),
    (I.PRIVATE_ENDPOINT, lambda o: o["properties"]["customDnsConfigs"].append({"fqdn": 5})),
    (I.NIC, lambda o: o["properties"]["ipConfigurations"].append([])),
    (I.VNET, lambda o: o["properties"]["subnets"].append("x")),
])
def test_a_half_read_object_leaves_nothing_behind(kind, breaks):
    objects = _estate()
    target = next(o for o in objects if o.get("type") == kind and o.get("properties"))
    clean = extract(_ingested(objects))[0]
    breaks(target)
    ing = _ingested(objects)
    t, bad = extract(ing)
    assert bad[kind] == {target["id"].lower()}
    assert len(ing.warnings) == 1 and target["id"] in ing.warnings[0]
    for n in EXTRACTORS[kind][1]:
        before, after = getattr(clean, n), getattr(t, n)
        assert len(after) < len(before) and set(after) <= set(before), n


def _ingested(objects: list) -> I.Ingested:
    ing = I.Ingested()
    I.add_objects(ing, copy.deepcopy(objects), "t.json")
    return ing


def test_tables_are_the_records_as_frames():
    objects = _estate()
    vnet = next(o for o in objects if o.get("type") == I.VNET)
    objects += [{**copy.deepcopy(s), "type": I.SUBNET} for s in vnet["properties"]["subnets"]]  # also standalone
    ing = _ingested(objects)
    t, _ = extract(ing)
    m = engine.model_from(_ingested(objects))
    assert list(m.tables) == list(Tables.NAMES) and len(m.tables) == len(Tables.NAMES)
    for name in Tables.NAMES:
        got = m.tables[name]
        assert list(got.columns) == list(COLUMNS[name])
        want = records(t, name)
        if getattr(t, name):
            pd.testing.assert_frame_equal(got.reset_index(drop=True), pd.DataFrame(want), obj=name)
        else:
            assert got.empty and all(want[c] == [] for c in COLUMNS[name])
        if name in UNIQUE and len(got):
            assert got[UNIQUE[name]].is_unique
    assert len(m.tables["subnets"]) < len(t.subnets)  # a subnet inline in its VNet and standalone is one
    with pytest.raises(KeyError):
        m.tables["nope"]


def test_records_keep_the_first_of_each_id():
    t = Tables()
    t.records.extend([("a", "z", "zn", "r", ("1",)), ("b", "z", "zn", "s", ()), ("a", "y", "yn", "q", ("2",))])
    cols = records(t, "records")
    assert cols["id"] == ["a", "b"] and cols["zone_id"] == ["z", "z"] and cols["ips"] == [("1",), ()]
    assert records(t, "pe_fqdns") == {"pe_id": [], "fqdn": [], "ip": []}
    assert pd.DataFrame(records(t, "records")).shape == (2, 5)
