"""The collectors of the new input types (#12-#15) against the HTTPS ARM emulator with the real SDK clients: the
workload side (AzureWorkload containers -> VMs, NSGs, route tables, peerings), hardening (resource guard proxies,
guards, the roles at a guard's scope, CMK key vaults), guardrails (policy assignments with inherited ones, their set
definitions, management groups, --management-group), and groupId-less vault connections.

Object shapes follow the published REST examples (BackupProtectionContainers_List, VirtualMachines_Get,
NetworkSecurityGroups_Get, RouteTables_Get, VirtualNetworkPeerings_Get, ResourceGuardProxies_Get, ResourceGuards_Get,
Vaults_Get (Key Vault), PolicyAssignments_Get, PolicySetDefinitions_Get, ManagementGroups_Get)."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from auditor import arm, collect, engine, pipeline
from auditor.rules import ALL
from tests import estate as E
from tests.emulator import Fault, ResourceGraph

from .conftest import S1, S2, S3, TENANT, SmallEstate

S4 = "4d4d4d4d-0000-4000-8000-000000000004"   # under the management group, not readable by the credential
NET = "Microsoft.Network"
MG = "/providers/Microsoft.Management/managementGroups/mg-x"
BUILTIN_SET = "/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"
MG_SET = f"{MG}/providers/Microsoft.Authorization/policySetDefinitions/Deploy-Private-DNS-Zones"
SUB_SET = f"/subscriptions/{S2}/providers/Microsoft.Authorization/policySetDefinitions/custom-backup-set"
GUARD_OUT = f"{E.rg_id(S3, 'rg-sec')}/providers/Microsoft.DataProtection/resourceGuards/guard-hub"
GUARD_IN = f"{E.rg_id(S1, 'rg-sec')}/providers/Microsoft.DataProtection/resourceGuards/guard-one"


# -- payload shapes ---------------------------------------------------------------------------------------------
def vm_id(sub: str, rg: str, name: str) -> str:
    return f"{E.rg_id(sub, rg)}/providers/Microsoft.Compute/virtualMachines/{name}"


def container(vault_id: str, vm: str, bmt: str = "AzureWorkload") -> dict:
    _, rg, (name,) = arm.segments(vm)
    kind = "VMAppContainer" if bmt == "AzureWorkload" else "IaasVMContainer"
    cname = f"{kind};Compute;{rg};{name}"
    return {"id": f"{vault_id}/backupFabrics/Azure/protectionContainers/{cname}", "name": cname,
            "type": arm.PROTECTION_CONTAINER,
            "properties": {"backupManagementType": bmt, "containerType": kind, "friendlyName": name,
                           "healthStatus": "Healthy", "registrationStatus": "Registered", "sourceResourceId": vm,
                           "protectableObjectType": kind}}


def vm(sub: str, rg: str, name: str, nic_id: str) -> dict:
    return {"id": vm_id(sub, rg, name), "name": name, "type": arm.VM, "location": "westeurope",
            "properties": {"vmId": "0f47b100-583c-48e3-a4c0-aefc2c9bbcc1", "hardwareProfile": {"vmSize": "Standard_D4s_v5"},
                           "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]},
                           "provisioningState": "Succeeded"}}


def vm_nic(sub: str, rg: str, name: str, subnet_id: str, ip: str, nsg: str | None = None) -> dict:
    n = E.nic(sub, rg, name, subnet_id=subnet_id, pe=None, ips=[(ip, [])])
    if nsg:
        n["properties"]["networkSecurityGroup"] = {"id": nsg}
    return n


def nsg(sub: str, rg: str, name: str) -> dict:
    nid = f"{E.rg_id(sub, rg)}/providers/{NET}/networkSecurityGroups/{name}"
    rule = {"name": "DenyInternet", "id": f"{nid}/securityRules/DenyInternet",
            "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                           "sourceAddressPrefix": "*", "destinationAddressPrefix": "Internet", "access": "Deny",
                           "priority": 4000, "direction": "Outbound", "provisioningState": "Succeeded"}}
    return {"id": nid, "name": name, "type": arm.NSG, "location": "westeurope",
            "properties": {"securityRules": [rule], "defaultSecurityRules": [], "provisioningState": "Succeeded"}}


def route_table(sub: str, rg: str, name: str) -> dict:
    rid = f"{E.rg_id(sub, rg)}/providers/{NET}/routeTables/{name}"
    return {"id": rid, "name": name, "type": arm.ROUTE_TABLE, "location": "westeurope",
            "properties": {"disableBgpRoutePropagation": False, "provisioningState": "Succeeded", "routes": [
                {"name": "default", "id": f"{rid}/routes/default",
                 "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                                "nextHopIpAddress": "10.3.255.4", "provisioningState": "Succeeded"}}]}}


def peering(vnet_id: str, name: str, remote: str, state: str = "Connected") -> dict:
    return {"id": f"{vnet_id}/virtualNetworkPeerings/{name}", "name": name, "type": arm.VNET_PEERING,
            "properties": {"peeringState": state, "remoteVirtualNetwork": {"id": remote},
                           "allowVirtualNetworkAccess": True, "allowForwardedTraffic": True,
                           "allowGatewayTransit": False, "useRemoteGateways": False, "provisioningState": "Succeeded"}}


def guard_proxy(vault_id: str, guard_id: str) -> dict:
    return {"id": f"{vault_id}/backupResourceGuardProxies/VaultProxy", "name": "VaultProxy", "type": arm.GUARD_PROXY,
            "properties": {"description": "", "lastUpdatedTime": "2026-02-11T12:20:47.8210031Z",
                           "resourceGuardOperationDetails": [
                               {"defaultResourceRequest": f"{guard_id}/deleteResourceGuardProxyRequests/default",
                                "vaultCriticalOperation":
                                    "Microsoft.DataProtection/resourceGuards/deleteResourceGuardProxyRequests"}],
                           "resourceGuardResourceId": guard_id}}


def resource_guard(rid: str) -> dict:
    return {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": arm.RESOURCE_GUARD, "location": "westeurope",
            "properties": {"allowAutoApprovals": True, "provisioningState": "Succeeded",
                           "vaultCriticalOperationExclusionList": []}}


def key_vault(sub: str, rg: str, name: str) -> dict:
    return {"id": f"{E.rg_id(sub, rg)}/providers/Microsoft.KeyVault/vaults/{name}", "name": name,
            "type": arm.KEY_VAULT, "location": "westeurope", "tags": {},
            "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": "standard"}, "accessPolicies": [],
                           "enableSoftDelete": True, "enablePurgeProtection": True,
                           "vaultUri": f"https://{name}.vault.azure.net/", "publicNetworkAccess": "Disabled",
                           "networkAcls": {"bypass": "None", "defaultAction": "Deny", "ipRules": [],
                                           "virtualNetworkRules": []}, "provisioningState": "Succeeded"}}


def assignment(scope: str, name: str, definition: str, not_scopes: list[str] = ()) -> dict:
    return {"id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
            "type": arm.POLICY_ASSIGNMENT, "location": "westeurope",
            "properties": {"displayName": name, "policyDefinitionId": definition, "scope": scope,
                           "notScopes": list(not_scopes), "parameters": {}, "enforcementMode": "Default"}}


def policy_set(rid: str, policy_type: str = "Custom") -> dict:
    return {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": arm.POLICY_SET,
            "properties": {"displayName": rid.rsplit("/", 1)[-1], "policyType": policy_type, "parameters": {},
                           "policyDefinitions": [{"policyDefinitionReferenceId": "DINE-Private-DNS-Azure-Backup",
                                                  "policyDefinitionId": "/providers/Microsoft.Authorization/"
                                                  "policyDefinitions/af783da1-4ad1-42be-800d-d19c70038820",
                                                  "parameters": {}}]}}


def management_group() -> dict:
    kids = [{"type": "/subscriptions", "id": f"/subscriptions/{s}", "name": s, "displayName": s} for s in (S1, S2, S4)]
    return {"id": MG, "type": arm.MANAGEMENT_GROUP, "name": "mg-x",
            "properties": {"tenantId": TENANT, "displayName": "Landing zones",
                           "details": {"parent": {"id": f"/providers/Microsoft.Management/managementGroups/{TENANT}"}},
                           "children": kids}}


class NewEstate(SmallEstate):
    """The small estate plus workloads, hardening, policy and a pre-2023 vault (``extra``: ids the collector must
    return beyond the small estate's; ``skip``: in the estate, never to be collected)."""

    def __init__(self) -> None:
        super().__init__()
        extra, skip = [], []
        va = self.by_name["vault-a"]["id"]
        vb = self.by_name["vault-b"]["id"]
        # workloads: one VM in S1 and four in S2, all named by vault-a's containers (a VM list per subscription)
        app = f"{E.rg_id(S1, 'rg-app')}/providers/{NET}/virtualNetworks/vnet-app"
        nsg1, rt1 = nsg(S1, "rg-app", "nsg-app"), route_table(S1, "rg-app", "rt-app")
        nsg_nic = nsg(S1, "rg-app", "nsg-nic")
        vnet_app = E.vnet(S1, "rg-app", "vnet-app", prefix="10.3.0.0/16", subnets=[("snet-app", "10.3.0.0/24", [])])
        del vnet_app["properties"]["virtualNetworkPeerings"]   # a body without them: the child list is read
        sn = vnet_app["properties"]["subnets"][0]["properties"]
        sn["networkSecurityGroup"], sn["routeTable"] = {"id": nsg1["id"]}, {"id": rt1["id"]}
        vnet1 = self.by_name["vnet-1"]["id"]
        nic1 = vm_nic(S1, "rg-app", "vm-sql-1-nic", f"{app}/subnets/snet-app", "10.3.0.4", nsg_nic["id"])
        extra += [vnet_app, nsg1, rt1, nsg_nic, nic1, vm(S1, "rg-app", "vm-sql-1", nic1["id"]),
                  peering(app, "app-to-vnet-1", vnet1), container(va, vm_id(S1, "rg-app", "vm-sql-1"))]
        # an IaaS VM container: the server-side filter leaves it out; its VM is listed with the subscription's
        iaas_nic = vm_nic(S1, "rg-app", "vm-iaas-nic", f"{app}/subnets/snet-app", "10.3.0.9")
        extra += [iaas_nic, vm(S1, "rg-app", "vm-iaas", iaas_nic["id"])]
        skip.append(container(va, vm_id(S1, "rg-app", "vm-iaas"), "AzureIaasVM"))
        vnet2 = self.by_name["vnet-2"]["id"]
        nsg2, rt2 = nsg(S2, "rg-app2", "nsg-app2"), route_table(S2, "rg-app2", "rt-app2")
        extra += [nsg2, rt2]
        for i in range(2, 6):
            n = vm_nic(S2, "rg-app2", f"vm-sql-{i}-nic", f"{vnet2}/subnets/snet-pe", f"10.2.0.{10 + i}", nsg2["id"])
            extra += [n, vm(S2, "rg-app2", f"vm-sql-{i}", n["id"]), container(va, vm_id(S2, "rg-app2", f"vm-sql-{i}"))]
        # hardening: vault-a's guard in S3 (not audited: the roles at its scope are listed), vault-b's in S1 (its
        # subscription's role listing covers it); vault-a encrypted with a key of kv-cmk (S1)
        ra_guard = E.role_assignment(GUARD_OUT, "77777777-0000-4000-8000-000000000007", arm.CONTRIBUTOR, "User",
                                     sub=S3)
        extra += [guard_proxy(va, GUARD_OUT), resource_guard(GUARD_OUT), ra_guard,
                  guard_proxy(vb, GUARD_IN), resource_guard(GUARD_IN),
                  key_vault(S1, "rg-sec", "kv-cmk"), key_vault(S1, "rg-sec", "kv-other")]
        self.by_name["vault-a"]["properties"]["encryption"] = {
            "keyVaultProperties": {"keyUri": "https://kv-cmk.vault.azure.net/keys/cmk/0123456789abcdef"},
            "kekIdentity": {"useSystemAssignedIdentity": True}, "infrastructureEncryption": "Disabled"}
        extra.append(key_vault(S2, "rg-sec2", "kv-two"))   # a CMK vault's key vault is looked for everywhere
        # policy: a group's assignment inherited by S1 and S2 (its set at the group), S1's with a built-in set, an
        # assignment in an S2 resource group with S2's own set
        extra += [management_group(), assignment(MG, "mg-dns", MG_SET), policy_set(MG_SET),
                  assignment(f"/subscriptions/{S1}", "s1-builtin", BUILTIN_SET), policy_set(BUILTIN_SET, "BuiltIn"),
                  assignment(E.rg_id(S2, "rg-backup2"), "s2-custom", SUB_SET), policy_set(SUB_SET),
                  assignment(f"/subscriptions/{S1}", "s1-single", "/providers/Microsoft.Authorization/"
                             "policyDefinitions/9ebbbba3-4d65-4da9-bb67-b22cfaaff090")]
        # #12: a vault listed by an API version before 2023-04-01 (no groupIds): the connection named '.backup.'
        # leads to its PE (in S3, read by id); the other one does not
        old = E.vault(S2, "rg-old", "rsv-old", tenant=TENANT)
        pe_b, pe_s = E.pe_id(S3, "rg-old", "pe-old-backup"), E.pe_id(S3, "rg-old", "pe-old-asr")
        conns = [E.vault_connection(old["id"], pe_b), E.vault_connection(old["id"], pe_s)]
        conns[1]["id"] = conns[1]["id"].replace(".backup.", ".siterecovery.")
        for c in conns:
            del c["properties"]["groupIds"]
        old["properties"]["privateEndpointConnections"] = conns
        self.pe_backup, self.pe_asr = pe_b, pe_s
        sub3 = f"{E.rg_id(S3, 'rg-old')}/providers/{NET}/virtualNetworks/vnet-old/subnets/snet"
        nic_b = E.nic(S3, "rg-old", "pe-old-backup.nic", subnet_id=sub3, pe=pe_b, ips=[("10.8.0.4", [])])
        extra += [old, E.private_endpoint(S3, "rg-old", "pe-old-backup", subnet_id=sub3, target=old["id"],
                                          nic_id=nic_b["id"]), nic_b,
                  E.vnet(S3, "rg-old", "vnet-old", prefix="10.8.0.0/16", subnets=[("snet", "10.8.0.0/24", [])])]
        skip.append(E.private_endpoint(S3, "rg-old", "pe-old-asr", subnet_id=sub3, target=old["id"],
                                       group="AzureSiteRecovery"))
        # protected items of a vault without PEs: every page
        vp = self.by_name["vault-plain"]["id"]
        extra += [E.protected_item(vp, f"vm-{i}") for i in range(2, 6)]
        self.objects += extra + skip
        self.expected.update({o["id"].lower(): o for o in extra})
        self.skip = {o["id"].lower() for o in skip}


@pytest.fixture
def new(emulator) -> NewEstate:
    est = NewEstate()
    emulator.set_estate(est.objects)
    emulator.page_size = 2   # every list pages
    return est


def ids(result) -> dict[str, dict]:
    """The objects collected, by id, but the management group subscriptions the collector spells (:func:`nodes`)."""
    return {o["id"].lower(): o for o in result["resources"] if o.get("type") != arm.MG_SUBSCRIPTION}


def nodes(result) -> dict[str, dict]:
    """A group's subscriptions as its descendants name them (``<group>/subscriptions/<id>``)."""
    return {o["id"].lower(): o for o in result["resources"] if o.get("type") == arm.MG_SUBSCRIPTION}


def findings(resources, errors=()) -> set[tuple[str, str, str]]:
    f = engine.evaluate(pipeline.load_objects(resources, list(errors), collect.COLLECTED_TYPES), ALL,
                        engine.Settings())
    return {(r.rule_id, r.resource_id, r.compliance_state) for r in f.itertuples()}


def gets(emulator, *, ends: str = "", contains: str = "") -> list[dict]:
    return [r for r in emulator.requests if r["method"] == "GET" and r["path"].lower().endswith(ends.lower())
            and contains.lower() in r["path"].lower()]


# -- whole runs ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_collects_the_new_types_exactly_and_audits_like_offline(new, run, emulator, workers):
    result = run(workers=workers)
    assert result["errors"] == []
    got = ids(result)
    # the group's descendants: its subscriptions as the management group subscriptions API spells them
    under = nodes(result)
    assert sorted(under) == sorted(f"{MG.lower()}/subscriptions/{s}" for s in (S1, S2, S4))
    assert all(o["properties"]["parent"]["id"].lower() == MG.lower() for o in under.values())
    assert sorted(got) == sorted(new.expected)
    assert got == new.expected   # each object as ARM sent it
    assert not set(got) & new.skip
    assert {arm.PROTECTION_CONTAINER, arm.VM, arm.NSG, arm.ROUTE_TABLE, arm.VNET_PEERING, arm.GUARD_PROXY,
            arm.RESOURCE_GUARD, arm.KEY_VAULT, arm.POLICY_ASSIGNMENT, arm.POLICY_SET,
            arm.MANAGEMENT_GROUP} <= set(result["collected_types"])
    assert findings(result["resources"]) == findings([*new.expected.values(), *under.values()])


def test_request_counts_are_as_designed(new, run, emulator):
    run()
    reqs = emulator.requests
    assert {r["method"] for r in reqs} == {"GET"}
    # VMs, NSGs, route tables: one list per subscription of a workload (paged), never a GET per VM
    for kind in ("Microsoft.Compute/virtualMachines", f"{NET}/networkSecurityGroups", f"{NET}/routeTables"):
        first = [r for r in gets(emulator, ends=f"/providers/{kind}") if "$skiptoken" not in r["query"]]
        assert sorted(r["path"].split("/")[2] for r in first) == sorted([S1.lower(), S2.lower()]), kind
    assert not gets(emulator, contains="/virtualmachines/")
    assert not [r for r in reqs if "/networksecuritygroups/" in r["path"] or "/routetables/" in r["path"]]
    # containers: every page, filtered server-side, for the PE vaults only
    cont = gets(emulator, ends="/backupProtectionContainers")
    assert all(r["query"].get("$filter") == "backupManagementType eq 'AzureWorkload'" for r in cont)
    assert {r["path"].split("/")[8] for r in cont} == {"rsv-a", "rsv-b", "rsv-old", "rsv-plain"}   # every vault
    assert len([r for r in cont if "rsv-a" in r["path"]]) == 3   # 5 workload containers, 2 a page
    # protected items of the vault without PEs: every page (5 items, 2 a page)
    assert len(gets(emulator, ends="/backupProtectedItems")) == 3
    # peerings: the child list only where a VNet body lacks them
    assert [r["path"].split("/")[-2] for r in gets(emulator, ends="/virtualNetworkPeerings")] == ["vnet-app"]
    # guards: GET each; the roles at the guard's scope only where its subscription is not audited
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in gets(emulator, contains="/resourceGuards/")
                  if r["path"].lower().endswith(("guard-hub", "guard-one"))) == ["guard-hub", "guard-one"]
    scoped = gets(emulator, contains="/resourceGuards/", ends="/roleAssignments")
    assert len(scoped) == 1 and "guard-hub" in scoped[0]["path"] and scoped[0]["query"]["$filter"] == "atScope()"
    # key vaults: a CMK vault's is looked for in every audited subscription, one list each
    assert sorted(r["path"].split("/")[2] for r in gets(emulator, ends="/providers/Microsoft.KeyVault/vaults")) == \
        sorted([S1.lower(), S2.lower()])
    # policy: one assignment list per subscription (first pages), each set definition once, the group once
    pa = [r for r in gets(emulator, ends="/policyAssignments") if "$skiptoken" not in r["query"]]
    assert sorted(r["path"].split("/")[2] for r in pa) == sorted([S1.lower(), S2.lower()])
    sets = Counter(r["path"] for r in gets(emulator, contains="/policySetDefinitions/"))
    assert sorted(p.lower() for p in sets) == sorted(s.lower() for s in (BUILTIN_SET, MG_SET, SUB_SET))
    assert set(sets.values()) == {1}
    assert sorted(r["path"] for r in gets(emulator, contains="/managementGroups/") if "policy" not in r["path"]
                  and "$skiptoken" not in r["query"]) == [MG, MG + "/descendants"]
    # #12: the groupId-less connection named '.backup.' is followed; the other is not
    assert gets(emulator, ends=new.pe_backup) and not gets(emulator, ends=new.pe_asr)


# -- unreadable listings: an error record exactly where the read failed --------------------------------------------
VA = "/subscriptions/1a1a1a1a-0000-4000-8000-000000000001/resourcegroups/rg-backup/providers/" \
     "microsoft.recoveryservices/vaults/rsv-a"
WORKLOAD = (arm.VM, arm.NSG, arm.ROUTE_TABLE)
# what fails: (path prefix answering 403, the error records' (scope, type)s, the types whose objects the failed
# read would have led to)
FAULTS = {
    "containers": (f"{VA}/backupProtectionContainers", [(VA, arm.PROTECTION_CONTAINER)], WORKLOAD),
    "vms": (f"/subscriptions/{S2}/providers/Microsoft.Compute/virtualMachines", [(f"/subscriptions/{S2}", arm.VM)],
            ()),
    "nsgs": (f"/subscriptions/{S1}/providers/{NET}/networkSecurityGroups", [(f"/subscriptions/{S1}", arm.NSG)], ()),
    "route_tables": (f"/subscriptions/{S2}/providers/{NET}/routeTables", [(f"/subscriptions/{S2}", arm.ROUTE_TABLE)],
                     ()),
    "peerings": (f"{E.rg_id(S1, 'rg-app')}/providers/{NET}/virtualNetworks/vnet-app/virtualNetworkPeerings",
                 [(f"{E.rg_id(S1, 'rg-app')}/providers/{NET}/virtualNetworks/vnet-app", arm.VNET_PEERING)], ()),
    "proxies": (f"{VA}/backupResourceGuardProxies", [(VA, arm.GUARD_PROXY)], (arm.RESOURCE_GUARD,
                                                                             arm.ROLE_ASSIGNMENT)),
    # the guard's GET and the roles at its scope both answer 403
    "guard": (GUARD_OUT, [(GUARD_OUT, arm.ROLE_ASSIGNMENT), (GUARD_OUT, arm.RESOURCE_GUARD)], ()),
    "guard_roles": (f"{GUARD_OUT}/providers/Microsoft.Authorization/roleAssignments",
                    [(GUARD_OUT, arm.ROLE_ASSIGNMENT)], ()),
    "key_vaults": (f"/subscriptions/{S1}/providers/Microsoft.KeyVault/vaults",
                   [(f"/subscriptions/{S1}", arm.KEY_VAULT)], ()),
    "policy_assignments": (f"/subscriptions/{S2}/providers/Microsoft.Authorization/policyAssignments",
                           [(f"/subscriptions/{S2}", arm.POLICY_ASSIGNMENT)], (arm.POLICY_SET,)),
    "set_definition": (SUB_SET, [(SUB_SET, arm.POLICY_SET)], ()),
    # the group's GET, its descendants and its set definition (under the group's id) answer 403
    "management_group": (MG, [(MG, arm.MANAGEMENT_GROUP), (MG, arm.MANAGEMENT_GROUP), (MG_SET, arm.POLICY_SET)],
                         ()),
}


@pytest.mark.parametrize("what", sorted(FAULTS))
def test_403_on_a_new_read_is_one_error_record_there(new, run, emulator, what):
    prefix, records, led_to = FAULTS[what]
    emulator.faults.append(Fault(status=403, prefix=prefix))
    result = run()
    assert sorted((e["scope"].lower(), e["status"], *e["types"]) for e in result["errors"]) == \
        sorted((scope.lower(), 403, kind) for scope, kind in records)
    got = ids(result)
    # what the failed read would have returned (and what that led to) is missing; everything else is there
    assert not [i for i in got if i not in new.expected]
    missing = set(new.expected) - set(got)
    kinds = {k.lower() for _, k in records} | {k.lower() for k in led_to}
    assert missing and all(str(new.expected[i].get("type")).lower() in kinds for i in missing), sorted(missing)
    # the audit of what was collected, with its error record, is the offline audit of the same input
    assert findings(result["resources"], result["errors"]) == findings([*got.values(), *nodes(result).values()],
                                                                       result["errors"])


def test_404_on_a_named_guard_or_set_is_gone(new, run, emulator):
    emulator.faults += [Fault(status=404, prefix=GUARD_OUT), Fault(status=404, prefix=SUB_SET)]
    result = run()
    assert result["errors"] == []
    assert not {GUARD_OUT.lower(), SUB_SET.lower()} & set(ids(result))


# -- --management-group ---------------------------------------------------------------------------------------------
def test_management_group_scope_and_an_unreadable_subscription(new, emulator, credential):
    result = collect.collect_estate(credential, subscriptions=None, management_groups=["mg-x"],
                                    arm_endpoint=emulator.url)
    # S1 and S2 are read (S3 only through references); S4 is listed under the group but not readable: an error
    # record for its whole scope (exit 3), never skipped silently
    assert [(e["scope"], e["status"]) for e in result["errors"]] == [(f"/subscriptions/{S4}", None)]
    assert "not readable" in result["errors"][0]["message"]
    assert set(result["errors"][0]["types"]) == set(collect.COLLECTED_TYPES)
    got = ids(result)
    assert set(new.expected) <= set(got)
    assert sorted(nodes(result)) == sorted(f"{MG.lower()}/subscriptions/{s}" for s in (S1, S2, S4))
    desc = [r["path"] for r in gets(emulator, ends="/descendants") if "$skiptoken" not in r["query"]]
    assert desc == [MG + "/descendants"]
    assert not gets(emulator, contains=S4)


def test_management_group_unreadable_is_an_error(new, emulator, credential):
    emulator.faults.append(Fault(status=403, prefix=MG + "/descendants"))
    result = collect.collect_estate(credential, subscriptions=None, management_groups=[MG],
                                    arm_endpoint=emulator.url)
    assert [(e["scope"].lower(), e["status"], e["types"]) for e in result["errors"]] == [
        (MG.lower(), 403, [arm.MANAGEMENT_GROUP])]


# -- --source resource-graph ---------------------------------------------------------------------------------------
def test_resource_graph_reads_the_same_types(new, run, emulator):
    """VMs, NSGs, route tables and key vaults of the audited subscriptions come from the resources table (with the
    NICs); containers, proxies, guards, peerings, policy assignments and set definitions through ARM, as on the
    ARM path."""
    graph = ResourceGraph().install(emulator)
    result = run(source="resource-graph")
    assert result["errors"] == []
    got = ids(result)
    assert sorted(got) == sorted(new.expected)
    arm_lists = [r["path"] for r in emulator.requests if r["method"] == "GET" and r["path"].lower().endswith(
        ("/virtualmachines", "/networksecuritygroups", "/routetables", "/microsoft.keyvault/vaults"))]
    assert arm_lists == []
    queries = set(graph.queries)
    assert collect.graph_query("resources", (arm.NIC, arm.VM, arm.NSG, arm.ROUTE_TABLE, arm.KEY_VAULT)) in queries
    assert gets(emulator, ends="/backupProtectionContainers") and gets(emulator, ends="/policyAssignments")
    assert [r["path"].split("/")[-2] for r in gets(emulator, ends="/virtualNetworkPeerings")] == ["vnet-app"]
    assert findings(result["resources"]) == findings([*got.values(), *nodes(result).values()])


def test_cli_management_group_live_exit_3(new, emulator, az_dir, tmp_path):
    """``auditor audit --management-group mg-x`` live: the subscriptions under the group are audited, the one the
    credential cannot read is an error scope in findings.json, and the exit code is 3."""
    from tests.emulator import cli_env

    from .test_cli_live import auditor, findings as cli_findings

    run = auditor(cli_env(emulator, az_dir), "audit", "--management-group", "mg-x", "--out", str(tmp_path / "o"),
                  "--format", "json")
    assert run.returncode == 3, run.stderr
    doc = json.loads((tmp_path / "o" / "findings.json").read_text())
    assert [e["scope"] for e in doc["errors"]] == [f"/subscriptions/{S4}"]
    subs = {r["subscription_id"].lower() for r in cli_findings(tmp_path / "o")}
    assert {S1, S2} <= subs and S4 not in subs
