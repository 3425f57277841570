"""The load path's bookkeeping: what each extractor may write, what a malformed object leaves behind, and the entity
frames the model keeps (``Model.tables``), which ``build`` itself reads as plain lists."""
from __future__ import annotations

import copy

import pandas as pd
import pytest

from auditor import pipeline
from auditor import arm
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
    assert set(EXTRACTORS) == set(arm.KNOWN_TYPES)


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
    (arm.VAULT, lambda o: o["properties"]["privateEndpointConnections"].append(7)),
    (arm.PRIVATE_ENDPOINT, lambda o: o["properties"]["customDnsConfigs"].append({"fqdn": 5})),
    (arm.NIC, lambda o: o["properties"]["ipConfigurations"].append([])),
    (arm.VNET, lambda o: o["properties"]["subnets"].append("x")),
    (arm.NSG, lambda o: o["properties"]["securityRules"].append({"name": "x", "properties": {"priority": "high"}})),
    (arm.VM, lambda o: o["properties"]["networkProfile"].update(networkInterfaces={"id": "x"})),
])
def test_a_half_read_object_leaves_nothing_behind(kind, breaks):
    objects = _estate()
    target = next(o for o in objects if o.get("type") == kind and o.get("properties"))
    clean = extract(_ingested(objects))[0]
    alone = Tables()  # the tables the target itself writes (a VNet without peerings writes none)
    EXTRACTORS[kind][0](alone, _routed([target])[0])
    breaks(target)
    ing = _ingested(objects)
    t, bad = extract(ing)
    assert bad[kind] == {target["id"].lower()}
    assert len(ing.warnings) == 1 and target["id"] in ing.warnings[0]
    for n in (n for n in EXTRACTORS[kind][1] if getattr(alone, n)):
        before, after = getattr(clean, n), getattr(t, n)
        assert len(after) < len(before) and set(after) <= set(before), n


def _ingested(objects: list) -> I.Ingested:
    ing = I.Ingested()
    I.add_objects(ing, copy.deepcopy(objects), "t.json")
    return ing


def test_tables_are_the_records_as_frames():
    objects = _estate()
    vnet = next(o for o in objects if o.get("type") == arm.VNET)
    objects += [{**copy.deepcopy(s), "type": arm.SUBNET} for s in vnet["properties"]["subnets"]]  # also standalone
    ing = _ingested(objects)
    t, _ = extract(ing)
    m = pipeline.model_from(_ingested(objects))
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


def _capacity_by_ipaddress(prefixes: tuple) -> int | None:
    import ipaddress
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


def test_subnet_capacity_reads_prefixes_as_ipaddress_does():
    import random
    from auditor.model import ipv4_capacity
    rnd = random.Random(5)
    odd = ["10.0.0.0/24", "10.0.0.0/0", "10.0.0.0/32", "10.0.0.0/33", "10.0.0.0/024", "010.0.0.0/24", "10.0.0.256/8",
           "10.0.0.0", "10.0.0.0/255.255.255.0", "10.0.0.0/", "/24", "10.0.0/24", "fd00::/64", "::/0", " 10.0.0.0/24",
           "10.0.0.0/24 ", "10.0.0.0/2\u0664", "\u06610.0.0.0/24", "10.0.0.0/+24", "10.0.0.0/24\n", "1.2.3.4/31", ""]
    for _ in range(3000):
        parts = [str(rnd.choice([0, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255, 256, 300])) for _ in range(4)]
        if rnd.random() < 0.1:
            parts[rnd.randrange(4)] = "0" + parts[0]
        odd.append(".".join(parts) + "/" + str(rnd.choice([0, 1, 8, 9, 10, 19, 20, 29, 30, 32, 33, 40])))
    for p in odd:
        assert ipv4_capacity((p,)) == _capacity_by_ipaddress((p,)), p
    assert ipv4_capacity(tuple(odd)) == _capacity_by_ipaddress(tuple(odd))


def _split_by_labels(fqdn: str) -> tuple[str, str]:
    labels = fqdn.split(".")
    if "privatelink" in labels[1:]:
        i = labels.index("privatelink", 1)
        return ".".join(labels[i:]), ".".join(labels[:i])
    return "privatelink." + ".".join(labels[1:]), labels[0]


def test_fqdn_split_follows_the_labels():
    from auditor.model import zone_and_record
    names = ["a.privatelink.blob.core.windows.net", "a.blob.core.windows.net", "privatelink.a.b", "a.privatelink",
             "a.privatelinkx.privatelink.b", "a.xprivatelink.b", "a..privatelink.b", "a.b.privatelink.privatelink.c",
             "privatelink", "a", "", ".", "a.", ".privatelink", "x.privatelink\n.y", "x.privatelink.", "x.PRIVATELINK.y",
             "6bf46c69-ab-pod01-fc1.privatelink.we.backup.windowsazure.com", "sa.privatelink.queue.core.windows.net"]
    for n in names:
        assert zone_and_record(n) == _split_by_labels(n), n


def test_subscription_and_group_of_an_id_follow_the_patterns():
    import re
    from auditor.arm import sub_and_group as _sub_rg
    sub, rg = re.compile(r"^/subscriptions/([^/]+)"), re.compile(r"/resourcegroups/([^/]+)")
    ids = ["/subscriptions/s/resourcegroups/g/providers/p/t/n", "/subscriptions/s", "/subscriptions/", "/subscriptions",
           "subscriptions/s/resourcegroups/g", "x/resourcegroups/g", "/subscriptions//resourcegroups//resourcegroups/h",
           "/subscriptions/s/resourcegroups/", "/subscriptions/s/resourcegroups", "/resourcegroups/resourcegroups/x",
           "/subscriptions/S/resourceGroups/G", "", "/", "//", "/subscriptions/s/x/resourcegroups/g/resourcegroups/h",
           "/subscriptions/s\n/resourcegroups/g\n", "resourcegroups/g", "/a/resourcegroupsx/g/resourcegroups/h"]
    for i in ids:
        want = tuple(m.group(1) if m else "" for m in (sub.search(i), rg.search(i)))
        assert _sub_rg(i) == want, i


def test_published_hardening_examples_are_read():
    """The published payloads of the new types: a CMK + MUA vault, key vaults (one network-restricted), a resource
    guard; the proxy example's non-ARM id is reported as unreadable, never attributed to a vault."""
    import json
    from pathlib import Path
    from auditor import pipeline
    d = Path(__file__).parent / "fixtures" / "enhanced"
    objs = []
    for f in ("recoveryservices_vaults_put_cmk_mua.json", "keyvault_vaults_create_with_network_acls.json",
              "keyvault_vaults_get.json", "dataprotection_resourceguards_list_in_subscription.json"):
        body = json.loads((d / f).read_text())["responses"]
        body = body.get("200", next(iter(body.values())))["body"]
        objs += body["value"] if "value" in body else [body]
    ing = I.Ingested()
    I.add_objects(ing, objs, "examples")
    m = pipeline.model_from(ing)
    v = m.vaults.iloc[0]
    assert v["key_uri"].startswith("https://cmk2xkv.vault.azure.net/keys/") and v["kv_host"] == "cmk2xkv.vault.azure.net"
    assert len(m.tables["guards"]) == 1
    kvs = m.tables["key_vaults"]   # both examples describe the same id: the first read (network-restricted) counts
    assert len(kvs) == 1 and kvs["default_action"].tolist() == ["Deny"] and kvs["host"].tolist() == [
        "sample-vault.vault.azure.net"]
    ing = I.Ingested()
    I.add_objects(ing, json.loads((d / "recoveryservicesbackup_resourceguardproxies_list.json").read_text())
                  ["responses"]["200"]["body"]["value"], "examples")
    t, bad = extract(ing)
    assert not t.guard_proxies and bad[arm.GUARD_PROXY] and ing.warnings
