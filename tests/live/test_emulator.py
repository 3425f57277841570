"""The emulator itself: published examples, ARM's request rules, throttling."""
from __future__ import annotations

from pathlib import Path

import requests

from auditor import collect
from tests.emulator import Fault, TokenBucket, example_objects

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "arm-examples"
ZERO = "00000000-0000-0000-0000-000000000000"


def get(emu, path, token=None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(emu.url + path, params=params, headers=headers, verify=emu.ca_file, timeout=10)


def test_requires_bearer_token_and_api_version(emulator, token):
    emulator.set_estate(example_objects(EXAMPLES))
    vnet = f"/subscriptions/{ZERO}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/test-vnet"
    assert get(emulator, vnet, **{"api-version": "2024-05-01"}).status_code == 401
    assert get(emulator, vnet, "wrong", **{"api-version": "2024-05-01"}).status_code == 401
    r = get(emulator, vnet, token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
    ok = get(emulator, vnet.upper().replace("/SUBSCRIPTIONS", "/subscriptions"), token, **{"api-version": "1"})
    assert ok.status_code == 200 and ok.json()["name"] == "test-vnet"  # ids match case-insensitively
    post = requests.post(emulator.url + vnet, params={"api-version": "1"},
                         headers={"Authorization": f"Bearer {token}"}, verify=emulator.ca_file, timeout=10)
    assert post.status_code == 405
    assert all("authorization" not in {k.lower() for k in r["headers"]} for r in emulator.requests)


def test_collections_are_scoped_and_paged(emulator, token):
    emulator.set_estate(example_objects(EXAMPLES))
    path = f"/subscriptions/{ZERO}/providers/Microsoft.Network/privateEndpoints"
    seen, url = [], emulator.url + path + "?api-version=1"
    while url:
        auth = {"Authorization": f"Bearer {token}"}
        page = requests.get(url, headers=auth, verify=emulator.ca_file, timeout=10).json()
        assert len(page["value"]) <= emulator.page_size
        seen += [o["id"] for o in page["value"]]
        url = page.get("nextLink")
        assert url is None or url.startswith(emulator.url)
    pes = {o["id"] for o in example_objects(EXAMPLES) if o.get("type") == "Microsoft.Network/privateEndpoints"}
    assert set(seen) == pes and len(seen) == len(set(seen))
    zone = "/subscriptions/subscriptionId/resourceGroups/resourceGroup1/providers/Microsoft.Network/privateDnsZones"
    emulator.page_size = 10
    records = get(emulator, zone + "/privatezone1.com/A", token, **{"api-version": "1"}).json()
    assert {o["name"] for o in records["value"]} >= {"recorda1", "recorda2"}
    assert get(emulator, zone + "/nope.com/A", token, **{"api-version": "1"}).status_code == 404  # no parent


def test_published_examples_through_the_collector(emulator, credential):
    emulator.set_estate(example_objects(EXAMPLES))
    result = collect.collect_estate(credential, subscriptions=[ZERO], arm_endpoint=emulator.url)
    got = {o["id"] for o in result["resources"]}
    assert f"/subscriptions/{ZERO}/resourceGroups/rg1/providers/Microsoft.Network/privateEndpoints/pe1" in got
    assert f"/subscriptions/{ZERO}/resourceGroups/rg1/providers/Microsoft.Network/networkInterfaces/test-nic" in got
    assert f"/subscriptions/{ZERO}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/test-vnet" in got


def test_canned_example_with_rewritten_next_link(emulator, credential):
    from azure.mgmt.privatedns import PrivateDnsManagementClient

    path = "/subscriptions/subscriptionId/providers/Microsoft.Network/privateDnsZones"
    body = emulator.serve_example(path, EXAMPLES / "privatedns_privatezones_list_in_subscription.json")
    assert body["nextLink"].startswith(emulator.url)
    client = PrivateDnsManagementClient(credential, "subscriptionId", base_url=emulator.url,
                                        connection_verify=emulator.ca_file)
    assert [z.name for z in client.private_zones.list()] == ["privatezone1.com", "privatezone2.com"]
    assert [r["query"].get("$skipToken") for r in emulator.requests] == [None, "skipToken"]


def test_token_bucket_and_every_kth_fault(emulator, token, credential):
    from .conftest import SmallEstate, S1

    emulator.throttle = TokenBucket(capacity=3, rate=2)
    answers = [get(emulator, f"/subscriptions/{S1}", token, **{"api-version": "1"}) for _ in range(6)]
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled and all(int(a.headers["Retry-After"]) >= 1 for a in throttled)
    assert answers[0].headers["x-ms-ratelimit-remaining-subscription-reads"] == "2"

    est = SmallEstate()
    emulator.set_estate(est.objects)
    emulator.throttle = TokenBucket(capacity=20, rate=40)
    emulator.faults.append(Fault(status=500, every=5))
    result = collect.collect_estate(credential, subscriptions=[S1], arm_endpoint=emulator.url)
    assert result["errors"] == []
    assert any(r.get("status") == 429 for r in emulator.requests)
    assert any(r.get("status") == 500 for r in emulator.requests)


def test_serves_the_hardening_types(emulator, token):
    """What RSV-012/013's collectors will read (issue #14), served from the demo estate the way ARM scopes it: a
    vault's resource guard proxies, a guard by id and per subscription, key vaults per subscription, and the role
    assignments at and under a guard's scope."""
    import json
    objects = json.loads((Path(__file__).resolve().parents[2] / "auditor" / "data" / "demo.json").read_text())
    emulator.set_estate(objects)
    emulator.page_size = 50
    proxy = next(o for o in objects if o.get("type") == "Microsoft.RecoveryServices/vaults/backupResourceGuardProxies"
                 and "rsv-prod-sql-06" in o["id"])
    vault = proxy["id"].rsplit("/backupResourceGuardProxies/", 1)[0]
    page = get(emulator, vault + "/backupResourceGuardProxies", token, **{"api-version": "2026-08-01"}).json()
    assert [o["id"] for o in page["value"]] == [proxy["id"]]
    guard = proxy["properties"]["resourceGuardResourceId"]
    assert get(emulator, guard, token, **{"api-version": "2026-06-01"}).json()["type"] == \
        "Microsoft.DataProtection/resourceGuards"
    sub = "/subscriptions/" + guard.split("/")[2]
    listed = get(emulator, sub + "/providers/Microsoft.DataProtection/resourceGuards", token,
                 **{"api-version": "2026-06-01"}).json()["value"]
    assert guard in {o["id"] for o in listed}
    ras = get(emulator, guard + "/providers/Microsoft.Authorization/roleAssignments", token,
              **{"api-version": "2022-04-01", "$filter": "atScope()"}).json()["value"]
    assert {r["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for r in ras} >= {
        "f54b6d04-23c6-443e-b462-9c16ab7b4a52", "c2a970b4-16a7-4a51-8c84-8a8ea6ee0bb8"}
    kv_subs = {o["id"].split("/")[2] for o in objects if o.get("type") == "Microsoft.KeyVault/vaults"}
    for s in kv_subs:
        kvs = get(emulator, f"/subscriptions/{s}/providers/Microsoft.KeyVault/vaults", token,
                  **{"api-version": "2026-05-15"}).json()["value"]
        assert kvs and all(o["type"] == "Microsoft.KeyVault/vaults" for o in kvs)


def test_protection_containers_listed_with_the_server_side_filter(emulator, token):
    """BackupProtectionContainers_List (the workload side's collector): every page, filtered by backupManagementType."""
    from tests import estate as E
    vault = E.vault(ZERO, "rg1", "rsv-wl")
    vms = [E.vm_id(ZERO, "rg-app", f"vm{i}") for i in range(5)]
    plain = dict(E.protection_container(vault["id"], E.vm_id(ZERO, "rg-app", "vm-iaas")), name="IaasVMContainer;x")
    plain["id"] = vault["id"] + "/backupFabrics/Azure/protectionContainers/IaasVMContainer;x"
    plain["properties"] = dict(plain["properties"], backupManagementType="AzureIaasVM")
    emulator.set_estate([vault, plain, *(E.protection_container(vault["id"], v) for v in vms)])
    url = emulator.url + vault["id"] + "/backupProtectionContainers"
    params = {"api-version": "2025-02-01", "$filter": "backupManagementType eq 'AzureWorkload'"}
    seen = []
    while url:
        page = requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"},
                            verify=emulator.ca_file, timeout=10).json()
        seen += [o["properties"]["sourceResourceId"] for o in page["value"]]
        url, params = page.get("nextLink"), None
    assert sorted(seen) == sorted(vms)


def test_serves_management_groups_descendants_and_inherited_policy_assignments(emulator, token):
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import synth
    demo = synth.demo()
    emulator.set_estate(demo.objects)
    subs = {o["displayName"]: o["subscriptionId"] for o in demo.objects if o.get("subscriptionId") and "displayName" in o}
    v = {"api-version": "2023-04-01"}
    mg = "/providers/Microsoft.Management/managementGroups/contoso"
    assert get(emulator, mg, token, **v).json()["properties"]["children"][0]["name"] == "contoso-platform"
    emulator.page_size = 50
    desc = get(emulator, mg + "/descendants", token, **v).json()["value"]
    assert {(d["type"], d["name"], d["properties"]["parent"]["id"].rsplit("/", 1)[-1]) for d in desc} == {
        ("Microsoft.Management/managementGroups", "contoso-platform", "contoso"),
        ("Microsoft.Management/managementGroups", "contoso-landingzones", "contoso"),
        ("/subscriptions", subs["contoso-connectivity-hub"], "contoso-platform"),
        ("/subscriptions", subs["contoso-prod"], "contoso-landingzones"),
        ("/subscriptions", subs["contoso-dev"], "contoso-landingzones")}
    assert get(emulator, mg.replace("contoso", "nope") + "/descendants", token, **v).status_code == 404

    def names(scope):
        page = get(emulator, scope + "/providers/Microsoft.Authorization/policyAssignments", token, **v).json()
        return sorted(a["name"] for a in page["value"])
    # a subscription lists its own, its resource groups' and the inherited management-group assignments
    assert names(f"/subscriptions/{subs['contoso-prod']}") == [
        "deny-vault-public-access", "modify-vault-public-access", "prod-backup-dns"]
    assert names(f"/subscriptions/{subs['contoso-connectivity-hub']}") == ["platform-private-dns"]
    assert names("/providers/Microsoft.Management/managementGroups/contoso-landingzones") == ["deny-vault-public-access"]
    custom_set = next(o["id"] for o in demo.objects if o.get("type") == "Microsoft.Authorization/policySetDefinitions")
    assert get(emulator, custom_set, token, **v).json()["properties"]["policyDefinitions"][0][
        "policyDefinitionReferenceId"] == "DINE-Private-DNS-Azure-Backup"
    builtin = {"id": "/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8",
               "name": "1f3afdf9-d0c9-4c3d-847f-89da613e70a8", "type": "Microsoft.Authorization/policySetDefinitions",
               "properties": {"policyType": "BuiltIn", "policyDefinitions": []}}
    emulator.set_estate([*demo.objects, builtin])
    assert get(emulator, builtin["id"], token, **v).json()["properties"]["policyType"] == "BuiltIn"
