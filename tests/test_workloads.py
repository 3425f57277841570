"""The workload side (WL-*): the published payloads read as the extractors read them, the NSG verdicts, the view, the
HTML chain, and the demo's ground truth for the WL rules. The rule semantics themselves are in
tests/rules/cases/WL-00N.yaml."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from auditor import arm, engine, pipeline
from auditor.extract import extract
from auditor import ingest as I
from auditor.rules import ALL
from auditor.model.workloads import COLUMNS, ENTRA, NsgJudge, holds

from . import synth

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "arm-examples"
DEMO = Path(__file__).resolve().parents[1] / "auditor" / "data" / "demo.json"


def _body(name: str):
    return json.loads((EXAMPLES / name).read_text())["responses"]["200"]["body"]


def _tables(objects: list):
    ing = I.Ingested()
    I.add_objects(ing, objects, "test")
    t, bad = extract(ing)
    assert not bad and not ing.warnings, ing.warnings
    return t


def test_published_payloads_are_routed_and_read():
    nsg, vm, rt = _body("network_networksecuritygroups_get.json"), _body("compute_virtualmachines_get.json"), \
        _body("network_routetables_get.json")
    peer, containers = _body("network_virtualnetworkpeerings_get.json"), _body(
        "recoveryservices_protectioncontainers_list.json")["value"]
    nic = _body("network_networkinterfaces_get.json")
    for o, kind in ((nsg, arm.NSG), (vm, arm.VM), (rt, arm.ROUTE_TABLE), (peer, arm.VNET_PEERING),
                    (containers[0], arm.PROTECTION_CONTAINER)):
        assert I.route(o)[0] == kind
    t = _tables([nsg, vm, rt, peer, nic, *containers])
    assert t.nsgs[0][2:] == ("testnsg", True)
    assert len(t.nsg_rules) == 7 and {r[1] for r in t.nsg_rules if r[10]} >= {"AllowVnetOutBound", "DenyAllOutBound"}
    assert t.vms[0][5].endswith("/networkinterfaces/{mynic}")          # the only (so primary) NIC
    assert t.routes == [(rt["id"].lower(), "route1", "10.0.3.0/24", "virtualnetworkgateway", None)]
    assert t.peerings[0][1:] == (peer["id"].lower().rsplit("/virtualnetworkpeerings/", 1)[0],
                                 "/subscriptions/subid/resourcegroups/peertest/providers/microsoft.network/"
                                 "virtualnetworks/vnet2", "initiated")
    assert t.workload_refs == []                                       # an AzureStorage container is no workload
    (nic_id, nsg_id, subnet_id, ip, asgs, vm_id), = t.wl_nics
    assert (ip, asgs) == ("172.20.2.4", ()) and nsg_id.endswith("/networksecuritygroups/nsg")
    assert subnet_id.endswith("/subnets/default") and vm_id.endswith("/virtualmachines/vm1")


def test_resource_graph_lower_cased_types_route():
    for t in (arm.VM, arm.NSG, arm.ROUTE_TABLE, arm.VNET_PEERING, arm.PROTECTION_CONTAINER):
        assert arm.canonical(t.lower()) == t


def test_nsg_verdicts_on_the_published_nsg_and_az_flattened():
    nsg = _body("network_networksecuritygroups_get.json")
    flat = copy.deepcopy(nsg)
    flat.update(flat.pop("properties"))
    for r in flat["securityRules"] + flat["defaultSecurityRules"]:
        r.update(r.pop("properties"))
    flat["id"] = flat["id"] + "-flat"
    t = _tables([nsg, flat])
    judge = NsgJudge(t)
    for gid in (nsg["id"].lower(), flat["id"].lower()):
        assert judge.decide(gid, "10.0.0.4", (), ENTRA) == ("allow", "AllowInternetOutBound", 65001)
        assert judge.decide(gid, "10.0.0.4", (), "10.1.0.5") == ("allow", "AllowVnetOutBound", 65000)


def test_default_rules_apply_when_absent():
    nsg = _body("network_networksecuritygroups_get.json")
    del nsg["properties"]["defaultSecurityRules"]
    nsg["properties"]["securityRules"].append({"name": "deny-vnet", "properties": {
        "protocol": "Tcp", "destinationPortRanges": ["100-500"], "sourceAddressPrefixes": ["10.0.0.0/24"],
        "destinationAddressPrefix": "VirtualNetwork", "access": "Deny", "priority": "300", "direction": "Outbound"}})
    judge = NsgJudge(_tables([nsg]))
    gid = nsg["id"].lower()
    assert judge.decide(gid, "10.0.0.4", (), "10.1.0.5") == ("deny", "deny-vnet", 300)
    assert judge.decide(gid, "10.0.1.4", (), "10.1.0.5") == ("allow", "AllowVnetOutBound", 65000)
    assert judge.decide(gid, "10.0.0.4", (), ENTRA) == ("allow", "AllowInternetOutBound", 65001)


@pytest.mark.parametrize("prefix,ip,want", [("10.0.0.0/8", "10.2.3.4", True), ("10.0.0.0/24", "10.0.1.4", False),
                                            ("10.0.0.4", "10.0.0.4", True), ("AzureCloud", "10.0.0.4", False),
                                            ("0.0.0.0/0", "172.16.0.1", True), (None, "10.0.0.4", False)])
def test_holds(prefix, ip, want):
    assert holds(prefix, ip) is want


def test_demo_view_columns_chain_and_ground_truth():
    m = pipeline.load([str(DEMO)])
    w = m.workloads
    assert list(w.columns) == list(COLUMNS) and len(w) == 7
    findings = engine.evaluate(m, ALL, engine.Settings())
    wl = findings[findings["rule_id"].str.startswith("WL-")]
    truth = {x for x in synth.demo().expected if x[0].startswith("WL-")}
    assert {(r, i.lower()) for r, i, s in zip(wl["rule_id"], wl["resource_id"], wl["compliance_state"])
            if s == "NonCompliant"} == truth
    for rule in ("WL-001", "WL-002", "WL-003", "WL-004"):
        states = set(wl.loc[wl["rule_id"] == rule, "compliance_state"])
        assert {"Compliant", "NonCompliant"} <= states and "Error" not in states, (rule, states)
    from auditor.model import chains
    by_vault = {c["vault_name"]: c for c in chains(m)}
    hana = by_vault["rsv-prod-v2-01"]["workloads"]
    assert [e["vm_name"] for e in hana] == ["vm-hana-01"] and hana[0]["broken"]
    assert hana[0]["reach"][0] == "bad" and hana[0]["zones"][0] == "bad"
    sql01 = {e["vm_name"]: e for e in by_vault["rsv-prod-sql-01"]["workloads"]}
    assert sql01["vm-sql-01a"]["reach"] == ("ok", "same VNet as the private endpoint")
    assert sql01["vm-sql-01b"]["reach"][1].startswith("peered: vnet-rsv-prod-sql-01")
    assert sql01["vm-sql-decom"]["in_input"] is False
    sql02 = by_vault["rsv-prod-sql-02"]["workloads"][0]
    assert sql02["entra"][0] == "bad" and sql02["endpoints"][0] == "bad"


def test_unreadable_nsg_makes_the_nsg_rules_error(tmp_path):
    objs = json.loads(DEMO.read_text())
    bad = next(o for o in objs if o.get("name") == "nsg-vm-sql-02a-nic")
    bad["properties"]["securityRules"][0]["properties"]["priority"] = {"odd": True}
    p = tmp_path / "estate.json"
    p.write_text(json.dumps(objs))
    m = pipeline.load([str(p)])
    f = engine.evaluate(m, [r for r in ALL if r.id.startswith("WL-")], engine.Settings())
    row = f[f["resource_id"].str.endswith("vm-sql-02a")]
    states = dict(zip(row["rule_id"], row["compliance_state"]))
    assert states == {"WL-001": "Compliant", "WL-002": "Compliant", "WL-003": "Error", "WL-004": "Error"}


def test_html_chain_shows_the_workloads(tmp_path):
    from auditor import cli
    out = tmp_path / "out"
    cli.main(["audit", "--demo", "--out", str(out), "--format", "html", "--fail-on", "never"])
    html = (out / "report.html").read_text()
    assert html.count('class="grid chain-t wl-t"') >= 3
    chains = html.index('id="chains"')
    i = html.index("vm-hana-01", chains)
    row = html[html.rindex("<tr>", 0, i):html.index("</tr>", i)]
    assert row.count('class="bad"') == 3 and "not reachable: no peering to vnet-rsv-prod-v2-01" in row
    assert "not linked: privatelink.blob.core.windows.net" in row
    i = html.index("vm-sql-02a", chains)
    row = html[html.rindex("<tr>", 0, i):html.index("</tr>", i)]
    assert "DenyInternetHttpsOut" in row and "DenySqlTierToVnetOut" in row


def test_vm_registered_in_two_vaults_has_one_finding_id_per_vault(tmp_path):
    objs = json.loads(DEMO.read_text())
    src = next(o for o in objs if o["id"].lower().endswith("/protectioncontainers/vmappcontainer;compute;"
                                                          "rg-app-vm-sql-01a;vm-sql-01a"))
    twin = copy.deepcopy(src)  # a stale registration of the same VM in a second vault
    twin["id"] = twin["id"].replace("rg-rsv-prod-sql-01", "rg-rsv-prod-sql-02").replace("rsv-prod-sql-01",
                                                                                        "rsv-prod-sql-02")
    p = tmp_path / "estate.json"
    p.write_text(json.dumps(objs + [twin]))
    f = engine.evaluate(pipeline.load([str(p)]), [r for r in ALL if r.id.startswith("WL-")], engine.Settings())
    assert f["finding_id"].is_unique
    vm = f[f["resource_id"].str.lower().str.endswith("/virtualmachines/vm-sql-01a")]
    assert len(vm) == 8 and vm.groupby("rule_id")["vault_id"].nunique().eq(2).all()
    for r in vm.itertuples():
        assert r.finding_id == engine.finding_id(r.rule_id, r.resource_id, r.vault_id)
    alone = f[f["resource_id"].str.lower().str.endswith("/virtualmachines/vm-sql-01b")]
    assert len(alone) == 4
    for r in alone.itertuples():  # a VM in one vault keeps the plain key: its id does not change
        assert r.finding_id == engine.finding_id(r.rule_id, r.resource_id)
