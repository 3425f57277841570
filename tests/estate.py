"""Factories for plain ARM JSON objects, in the shapes of tests/fixtures/arm-examples (the published examples).

Used by the demo estate generator, the synthetic benchmark estates and the tests. Every function returns exactly what
ARM returns for that resource (``properties`` nested, camelCase), so the same objects serve ``--input`` files and the
ARM emulator.
"""
from __future__ import annotations

import ipaddress
import uuid

NET = "Microsoft.Network"


def _etag(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def subscription(sub: str, tenant: str, name: str = "", home_tenant: str | None = None) -> dict:
    o = {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "tenantId": tenant,
         "displayName": name or f"sub-{sub[:8]}", "state": "Enabled",
         "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                  "spendingLimit": "Off"}, "authorizationSource": "RoleBased"}
    if home_tenant:
        o["homeTenantId"] = home_tenant
    return o


def provider(sub: str, state: str = "Registered") -> dict:
    return {"id": f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices", "namespace": "Microsoft.RecoveryServices",
            "registrationPolicy": "RegistrationRequired", "registrationState": state,
            "resourceTypes": [{"resourceType": "vaults", "locations": ["West Europe"], "apiVersions": ["2026-08-01"]}]}


def vault(sub: str, rg: str, name: str, *, location: str = "westeurope", pna: str | None = "Disabled",
          identity: str | None = "SystemAssigned", principal: str | None = None, tenant: str | None = None,
          connections: list[dict] | None = None, crr: str = "Disabled", created: str | None = "2023-03-01T10:00:00Z",
          tags: dict | None = None) -> dict:
    vid = f"{rg_id(sub, rg)}/providers/Microsoft.RecoveryServices/vaults/{name}"
    props: dict = {"provisioningState": "Succeeded", "privateEndpointConnections": connections or [],
                   "privateEndpointStateForBackup": "Enabled" if connections else "None",
                   "privateEndpointStateForSiteRecovery": "None",
                   "redundancySettings": {"crossRegionRestore": crr, "standardTierStorageRedundancy": "GeoRedundant"},
                   "secureScore": "None", "securitySettings": hardened(),
                   "restoreSettings": {"crossSubscriptionRestoreSettings": {"crossSubscriptionRestoreState": "Disabled"}}}
    if pna is not None:
        props["publicNetworkAccess"] = pna
    o = {"id": vid, "name": name, "type": "Microsoft.RecoveryServices/vaults", "location": location,
         "etag": 'W/"datetime\'2023-03-01T10%3A00%3A00Z\'"', "properties": props, "sku": {"name": "Standard"},
         "tags": tags or {}}
    if identity:
        o["identity"] = {"type": identity}
        if "SystemAssigned" in identity:
            o["identity"].update(principalId=principal or str(uuid.uuid5(uuid.NAMESPACE_URL, vid)),
                                 tenantId=tenant or "11111111-1111-1111-1111-111111111111")
    if created:
        o["systemData"] = {"createdBy": "ops@contoso.com", "createdByType": "User", "createdAt": created,
                           "lastModifiedAt": created}
    return o


def hardened() -> dict:
    """A vault's securitySettings as the 2026-08-01 Get returns them (RS; shape of the published vault Get example),
    hardened the way the built-ins want: immutability Locked, soft delete AlwaysON (RS's spelling) for 14 days, MUA on."""
    return {"immutabilitySettings": {"state": "Locked"}, "multiUserAuthorization": "Enabled",
            "softDeleteSettings": {"enhancedSecurityState": "AlwaysON", "softDeleteRetentionPeriodInDays": 14,
                                   "softDeleteState": "AlwaysON"}}


def guard_proxy(vault_id: str, guard_id: str) -> dict:
    """A vault's resource guard proxy, as ResourceGuardProxies_Get lists it (RSB; real ones are named VaultProxy)."""
    return {"id": f"{vault_id}/backupResourceGuardProxies/VaultProxy", "name": "VaultProxy",
            "type": "Microsoft.RecoveryServices/vaults/backupResourceGuardProxies",
            "properties": {"description": "", "lastUpdatedTime": "2026-02-11T12:20:47.8210031Z",
                           "resourceGuardOperationDetails": [
                               {"defaultResourceRequest": f"{guard_id}/deleteResourceGuardProxyRequests/default",
                                "vaultCriticalOperation": "Microsoft.DataProtection/resourceGuards/deleteResourceGuardProxyRequests"},
                               {"defaultResourceRequest": f"{guard_id}/disableSoftDeleteRequests/default",
                                "vaultCriticalOperation": "Microsoft.DataProtection/resourceGuards/disableSoftDeleteRequests"}],
                           "resourceGuardResourceId": guard_id}}


def resource_guard(sub: str, rg: str, name: str, location: str = "westeurope") -> dict:
    """A Resource Guard as ResourceGuards_GetResourcesInSubscription lists it (DP)."""
    return {"id": f"{rg_id(sub, rg)}/providers/Microsoft.DataProtection/resourceGuards/{name}", "name": name,
            "type": "Microsoft.DataProtection/resourceGuards", "location": location, "tags": {},
            "properties": {"allowAutoApprovals": True, "provisioningState": "Succeeded",
                           "resourceGuardOperations": [
                               {"requestResourceType": "Microsoft.DataProtection/resourceGuards/deleteResourceGuardProxyRequests",
                                "vaultCriticalOperation": "Microsoft.RecoveryServices/vaults/backupResourceGuardProxies/delete"},
                               {"requestResourceType": "Microsoft.DataProtection/resourceGuards/disableSoftDeleteRequests",
                                "vaultCriticalOperation": "Microsoft.RecoveryServices/vaults/backupconfig/write"}],
                           "vaultCriticalOperationExclusionList": []}}


def key_vault(sub: str, rg: str, name: str, *, location: str = "westeurope", pna: str | None = "Enabled",
              default_action: str | None = "Allow", pe_connections: int = 0) -> dict:
    """A key vault as Vaults_Get returns it (KV; publicNetworkAccess, networkAcls, vaultUri)."""
    props: dict = {"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "sku": {"family": "A", "name": "standard"},
                   "accessPolicies": [], "enableSoftDelete": True, "enablePurgeProtection": True,
                   "enableRbacAuthorization": True, "vaultUri": f"https://{name}.vault.azure.net/",
                   "provisioningState": "Succeeded"}
    if pna is not None:
        props["publicNetworkAccess"] = pna
    if default_action is not None:
        props["networkAcls"] = {"bypass": "AzureServices", "defaultAction": default_action, "ipRules": [],
                                "virtualNetworkRules": []}
    kid = f"{rg_id(sub, rg)}/providers/Microsoft.KeyVault/vaults/{name}"
    if pe_connections:
        props["privateEndpointConnections"] = [
            {"id": f"{kid}/privateEndpointConnections/pec{i}", "properties": {
                "privateEndpoint": {"id": f"{rg_id(sub, rg)}/providers/{NET}/privateEndpoints/pe-{name}-{i}"},
                "privateLinkServiceConnectionState": {"status": "Approved"}}} for i in range(pe_connections)]
    return {"id": kid, "name": name, "type": "Microsoft.KeyVault/vaults", "location": location, "tags": {},
            "properties": props}


def vault_connection(vault_id: str, pe_id: str, *, group: str = "AzureBackup", status: str = "Approved") -> dict:
    pe_name = pe_id.rsplit("/", 1)[-1]
    return {"id": f"{vault_id}/privateEndpointConnections/{pe_name}.{int(uuid.uuid5(uuid.NAMESPACE_URL, vault_id + pe_id)) % 10**18}.backup."
                  f"{uuid.uuid5(uuid.NAMESPACE_URL, pe_id)}",
            "properties": {"groupIds": [group], "privateEndpoint": {"id": pe_id},
                           "privateLinkServiceConnectionState": {"description": "None", "actionsRequired": "None",
                                                                 "status": status},
                           "provisioningState": "Succeeded"}}


def pe_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{NET}/privateEndpoints/{name}"


def private_endpoint(sub: str, rg: str, name: str, *, subnet_id: str, target: str, group: str = "AzureBackup",
                     status: str = "Approved", fqdns: list[tuple[str, str]] = (), nic_id: str | None = None,
                     provisioning: str = "Succeeded", location: str = "westeurope", manual: bool = False) -> dict:
    pid = pe_id(sub, rg, name)
    conn = {"id": f"{pid}/privateLinkServiceConnections/{name}", "name": name,
            "properties": {"groupIds": [group], "privateLinkServiceConnectionState": {
                "description": "Auto-Approved" if status == "Approved" else "", "actionsRequired": "None",
                "status": status}, "privateLinkServiceId": target, "provisioningState": "Succeeded"}}
    return {"id": pid, "name": name, "type": f"{NET}/privateEndpoints", "location": location,
            "etag": 'W/"00000000-0000-0000-0000-000000000000"',
            "properties": {"provisioningState": provisioning, "subnet": {"id": subnet_id},
                           "networkInterfaces": [{"id": nic_id or f"{rg_id(sub, rg)}/providers/{NET}/networkInterfaces/{name}.nic"}],
                           "privateLinkServiceConnections": [] if manual else [conn],
                           "manualPrivateLinkServiceConnections": [conn] if manual else [],
                           "customDnsConfigs": [{"fqdn": f, "ipAddresses": [ip]} for f, ip in fqdns],
                           "applicationSecurityGroups": [], "ipConfigurations": []}}


def nic(sub: str, rg: str, name: str, *, subnet_id: str, pe: str | None, ips: list[tuple[str, list[str]]]) -> dict:
    nid = f"{rg_id(sub, rg)}/providers/{NET}/networkInterfaces/{name}"
    cfgs = []
    for i, (ip, fqdns) in enumerate(ips):
        props = {"privateIPAddress": ip, "privateIPAllocationMethod": "Dynamic", "privateIPAddressVersion": "IPv4",
                 "subnet": {"id": subnet_id}, "primary": i == 0, "provisioningState": "Succeeded"}
        if fqdns:
            props["privateLinkConnectionProperties"] = {"groupId": "AzureBackup", "requiredMemberName": fqdns[0].split(".")[0],
                                                        "fqdns": fqdns}
        cfgs.append({"name": f"privateEndpointIpConfig.{i}", "id": f"{nid}/ipConfigurations/privateEndpointIpConfig.{i}",
                     "etag": 'W/"0"', "type": f"{NET}/networkInterfaces/ipConfigurations", "properties": props})
    props = {"provisioningState": "Succeeded", "ipConfigurations": cfgs, "dnsSettings": {"dnsServers": [],
             "appliedDnsServers": []}, "enableAcceleratedNetworking": False, "enableIPForwarding": False,
             "nicType": "Standard"}
    if pe:
        props["privateEndpoint"] = {"id": pe}
    return {"id": nid, "name": name, "type": f"{NET}/networkInterfaces", "location": "westeurope", "properties": props}


def vnet(sub: str, rg: str, name: str, *, prefix: str, subnets: list[tuple[str, str, list[str]]],
         dns_servers: list[str] | None = None, subnet_refs: dict[str, dict] | None = None,
         peerings: list[dict] | None = None) -> dict:
    """``subnet_refs``: per subnet name, extra properties (``networkSecurityGroup``, ``routeTable`` references)."""
    vid = f"{rg_id(sub, rg)}/providers/{NET}/virtualNetworks/{name}"
    props = {"addressSpace": {"addressPrefixes": [prefix]}, "provisioningState": "Succeeded",
             "subnets": [{"name": s, "id": f"{vid}/subnets/{s}", "properties": {
                 "addressPrefix": p, "provisioningState": "Succeeded", "privateEndpointNetworkPolicies": "Disabled",
                 "ipConfigurations": [{"id": c} for c in cfgs], **(subnet_refs or {}).get(s, {})}}
                 for s, p, cfgs in subnets],
             "virtualNetworkPeerings": peerings or [], "enableDdosProtection": False}
    if dns_servers is not None:
        props["dhcpOptions"] = {"dnsServers": dns_servers}
    return {"id": vid, "name": name, "type": f"{NET}/virtualNetworks", "location": "westeurope",
            "etag": 'W/"0"', "properties": props}


def zone(sub: str, rg: str, name: str, records: int = 0, links: int = 0) -> dict:
    return {"id": f"{rg_id(sub, rg)}/providers/{NET}/privateDnsZones/{name}", "name": name,
            "type": f"{NET}/privateDnsZones", "location": "global", "etag": _etag(name + sub + rg),
            "properties": {"maxNumberOfRecordSets": 25000, "maxNumberOfVirtualNetworkLinks": 1000,
                           "maxNumberOfVirtualNetworkLinksWithRegistration": 100, "numberOfRecordSets": records + 1,
                           "numberOfVirtualNetworkLinks": links, "numberOfVirtualNetworkLinksWithRegistration": 0,
                           "provisioningState": "Succeeded"}}


def a_record(zone_id: str, rel: str, ips: list[str]) -> dict:
    zname = zone_id.rsplit("/", 1)[-1]
    return {"id": f"{zone_id}/A/{rel}", "name": rel, "type": f"{NET}/privateDnsZones/A", "etag": _etag(zone_id + rel),
            "properties": {"ttl": 10, "fqdn": f"{rel}.{zname}.", "isAutoRegistered": False,
                           "aRecords": [{"ipv4Address": ip} for ip in ips]}}


def vnet_link(zone_id: str, name: str, vnet_id: str) -> dict:
    return {"id": f"{zone_id}/virtualNetworkLinks/{name}", "name": name, "type": f"{NET}/privateDnsZones/virtualNetworkLinks",
            "location": "global", "etag": _etag(zone_id + name),
            "properties": {"virtualNetwork": {"id": vnet_id}, "registrationEnabled": False,
                           "virtualNetworkLinkState": "Completed", "provisioningState": "Succeeded"}}


def zone_group(pe: str, zone_ids: list[str], name: str = "default") -> dict:
    return {"id": f"{pe}/privateDnsZoneGroups/{name}", "name": name,
            "properties": {"provisioningState": "Succeeded", "privateDnsZoneConfigs": [
                {"name": z.rsplit("/", 1)[-1].replace(".", "-"), "properties": {"privateDnsZoneId": z, "recordSets": []}}
                for z in zone_ids]}}


def role_assignment(scope: str, principal: str, role_guid: str, principal_type: str = "ServicePrincipal",
                    sub: str | None = None) -> dict:
    aid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{principal}|{role_guid}"))
    base = scope if scope != "/" else ""
    role_scope = f"/subscriptions/{sub}" if sub else ""
    return {"id": f"{base}/providers/Microsoft.Authorization/roleAssignments/{aid}", "name": aid,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"principalId": principal, "principalType": principal_type,
                           "roleDefinitionId": f"{role_scope}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
                           "scope": scope}}


def role_definition(sub: str, guid: str, name: str, actions: list[str], not_actions: list[str] = ()) -> dict:
    return {"id": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "name": guid,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {"roleName": name, "type": "CustomRole", "roleType": "CustomRole", "description": name,
                           "assignableScopes": [f"/subscriptions/{sub}"],
                           "permissions": [{"actions": actions, "notActions": list(not_actions), "dataActions": [],
                                            "notDataActions": []}]}}


def register_event(sub: str, when: str, status: str = "Succeeded") -> dict:
    eid = uuid.uuid5(uuid.NAMESPACE_URL, f"{sub}|{when}")
    return {"id": f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices/events/{eid}/ticks/1",
            "eventDataId": str(eid), "caller": "ops@contoso.com", "correlationId": str(eid),
            "operationName": {"value": "Microsoft.RecoveryServices/register/action",
                              "localizedValue": "Registers the Recovery Services resource provider"},
            "status": {"value": status, "localizedValue": status}, "eventTimestamp": when,
            "submissionTimestamp": when, "subscriptionId": sub, "level": "Informational",
            "resourceProviderName": {"value": "Microsoft.RecoveryServices", "localizedValue": "Microsoft.RecoveryServices"},
            "category": {"value": "Administrative", "localizedValue": "Administrative"}}


def storage_config(vault_id: str, crr_flag: bool | None) -> dict:
    props = {"storageModelType": "GeoRedundant", "storageType": "GeoRedundant", "storageTypeState": "Locked"}
    if crr_flag is not None:
        props["crossRegionRestoreFlag"] = crr_flag
    return {"id": f"{vault_id}/backupstorageconfig/vaultstorageconfig", "name": "vaultstorageconfig",
            "type": "Microsoft.RecoveryServices/vaults/backupstorageconfig", "properties": props}


def protected_item(vault_id: str, vm: str) -> dict:
    c = f"iaasvmcontainerv2;rg;{vm}"
    return {"id": f"{vault_id}/backupFabrics/Azure/protectionContainers/IaasVMContainer;{c}/protectedItems/VM;{c}",
            "name": f"VM;{c}", "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems",
            "properties": {"backupManagementType": "AzureIaasVM", "friendlyName": vm, "protectedItemType":
                           "Microsoft.Compute/virtualMachines", "protectionState": "Protected", "workloadType": "VM"}}


def hosts(prefix: str):
    """Usable host addresses of a subnet prefix, skipping Azure's first four."""
    return (str(h) for i, h in enumerate(ipaddress.ip_network(prefix).hosts()) if i >= 3)


# ------------------------------------------------------------------------------------ the workload side (WL-*)
# Shapes: ProtectionContainers_List (AzureWorkload, VMAppContainer), VirtualMachine_Get, NetworkInterfaceGet,
# NetworkSecurityGroupGet, RouteTableGet, VirtualNetworkPeeringGet (tests/fixtures/arm-examples).

def protection_container(vault_id: str, vm_id: str, workload: str = "SQLDataBase") -> dict:
    rg, vm = vm_id.split("/")[4], vm_id.rsplit("/", 1)[-1]
    name = f"VMAppContainer;Compute;{rg};{vm}"
    return {"id": f"{vault_id}/backupFabrics/Azure/protectionContainers/{name}", "name": name,
            "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers",
            "properties": {"backupManagementType": "AzureWorkload", "containerType": "VMAppContainer",
                           "friendlyName": vm, "healthStatus": "Healthy", "registrationStatus": "Registered",
                           "sourceResourceId": vm_id, "workloadType": workload,
                           "extendedInfo": {"hostServerName": f"{vm}.contoso.local", "nodesList": []}}}


def vm_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/Microsoft.Compute/virtualMachines/{name}"


def virtual_machine(sub: str, rg: str, name: str, nic_ids: list[str], location: str = "westeurope") -> dict:
    return {"id": vm_id(sub, rg, name), "name": name, "type": "Microsoft.Compute/virtualMachines",
            "location": location, "tags": {}, "etag": '"1"',
            "properties": {"vmId": str(uuid.uuid5(uuid.NAMESPACE_URL, vm_id(sub, rg, name))),
                           "hardwareProfile": {"vmSize": "Standard_E8s_v5"},
                           "storageProfile": {"imageReference": {"publisher": "MicrosoftSQLServer",
                                                                 "offer": "sql2022-ws2022", "sku": "enterprise-gen2",
                                                                 "version": "latest"},
                                              "osDisk": {"osType": "Windows", "name": f"{name}-os",
                                                         "createOption": "FromImage", "caching": "ReadWrite"}},
                           "osProfile": {"computerName": name[:15], "adminUsername": "azureadmin",
                                         "windowsConfiguration": {"provisionVMAgent": True}},
                           "networkProfile": {"networkInterfaces": [
                               {"id": n, "properties": {"primary": i == 0}} for i, n in enumerate(nic_ids)]},
                           "provisioningState": "Succeeded", "timeCreated": "2024-02-01T08:00:00+00:00"}}


def vm_nic(sub: str, rg: str, name: str, *, subnet_id: str, ip: str, vm: str, nsg: str | None = None,
           asgs: list[str] = ()) -> dict:
    nid = f"{rg_id(sub, rg)}/providers/{NET}/networkInterfaces/{name}"
    ipc = {"provisioningState": "Succeeded", "privateIPAddress": ip, "privateIPAllocationMethod": "Dynamic",
           "subnet": {"id": subnet_id}, "primary": True, "privateIPAddressVersion": "IPv4"}
    if asgs:
        ipc["applicationSecurityGroups"] = [{"id": a} for a in asgs]
    props = {"provisioningState": "Succeeded",
             "ipConfigurations": [{"name": "ipconfig1", "id": f"{nid}/ipConfigurations/ipconfig1", "properties": ipc}],
             "dnsSettings": {"dnsServers": [], "appliedDnsServers": []}, "enableAcceleratedNetworking": True,
             "enableIPForwarding": False, "primary": True, "virtualMachine": {"id": vm}, "nicType": "Standard"}
    if nsg:
        props["networkSecurityGroup"] = {"id": nsg}
    return {"id": nid, "name": name, "type": f"{NET}/networkInterfaces", "location": "westeurope", "properties": props}


_DEFAULT_RULES = (("AllowVnetInBound", 65000, "Inbound", "VirtualNetwork", "VirtualNetwork", "Allow"),
                  ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "AzureLoadBalancer", "*", "Allow"),
                  ("DenyAllInBound", 65500, "Inbound", "*", "*", "Deny"),
                  ("AllowVnetOutBound", 65000, "Outbound", "VirtualNetwork", "VirtualNetwork", "Allow"),
                  ("AllowInternetOutBound", 65001, "Outbound", "*", "Internet", "Allow"),
                  ("DenyAllOutBound", 65500, "Outbound", "*", "*", "Deny"))


def nsg_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{NET}/networkSecurityGroups/{name}"


def nsg(sub: str, rg: str, name: str, rules: list[dict], *, defaults: bool = True) -> dict:
    """``rules``: dicts with name, priority, access, and optionally direction (Outbound), protocol (Tcp),
    port ("443"), source ("*"), destination, source_asgs."""
    gid = nsg_id(sub, rg, name)

    def rule(kind: str, r: dict) -> dict:
        p = {"provisioningState": "Succeeded", "protocol": r.get("protocol", "Tcp"), "sourcePortRange": "*",
             "destinationPortRange": r.get("port", "443"), "sourceAddressPrefix": r.get("source", "*"),
             "destinationAddressPrefix": r["destination"], "access": r["access"], "priority": r["priority"],
             "direction": r.get("direction", "Outbound")}
        if r.get("source_asgs"):
            del p["sourceAddressPrefix"]
            p["sourceApplicationSecurityGroups"] = [{"id": a} for a in r["source_asgs"]]
        return {"name": r["name"], "id": f"{gid}/{kind}/{r['name']}", "properties": p}

    props = {"provisioningState": "Succeeded", "securityRules": [rule("securityRules", r) for r in rules]}
    if defaults:
        props["defaultSecurityRules"] = [
            rule("defaultSecurityRules", dict(name=n, priority=pr, direction=d, source=src, destination=dst,
                                              access=acc, protocol="*", port="*"))
            for n, pr, d, src, dst, acc in _DEFAULT_RULES]
    return {"name": name, "id": gid, "type": f"{NET}/networkSecurityGroups", "location": "westeurope",
            "properties": props}


def route_table(sub: str, rg: str, name: str, routes: list[tuple[str, str, str, str | None]]) -> dict:
    rid = f"{rg_id(sub, rg)}/providers/{NET}/routeTables/{name}"
    out = []
    for n, prefix, hop, hop_ip in routes:
        p = {"provisioningState": "Succeeded", "addressPrefix": prefix, "nextHopType": hop}
        if hop_ip:
            p["nextHopIpAddress"] = hop_ip
        out.append({"name": n, "id": f"{rid}/routes/{n}", "properties": p})
    return {"name": name, "id": rid, "type": f"{NET}/routeTables", "location": "westeurope",
            "properties": {"provisioningState": "Succeeded", "disableBgpRoutePropagation": False, "routes": out}}


def peering(vnet_id: str, name: str, remote_vnet_id: str, state: str = "Connected",
            remote_prefix: str = "10.0.0.0/16") -> dict:
    """A VNet peering, inline in ``properties.virtualNetworkPeerings`` or standalone (add ``type``)."""
    return {"id": f"{vnet_id}/virtualNetworkPeerings/{name}", "name": name,
            "properties": {"allowVirtualNetworkAccess": True, "allowForwardedTraffic": False,
                           "allowGatewayTransit": False, "useRemoteGateways": False,
                           "remoteVirtualNetwork": {"id": remote_vnet_id},
                           "remoteAddressSpace": {"addressPrefixes": [remote_prefix]},
                           "peeringState": state, "peeringSyncLevel": "FullyInSync" if state == "Connected" else
                           "RemoteNotInSync", "provisioningState": "Succeeded"}}


# ---------------------------------------------------------------------------------------------------- Azure Policy
MG = "/providers/Microsoft.Management/managementGroups/"
POLICY_DEF = "/providers/Microsoft.Authorization/policyDefinitions/"


def management_group(name: str, tenant: str, display: str, parent: str | None, children: list[dict]) -> dict:
    """A group as ``GET .../managementGroups/{name}?$expand=children&$recurse=true`` returns it (children nested:
    ``{"type": "Microsoft.Management/managementGroups" | "/subscriptions", "id", "name", "displayName",
    "children"}``)."""
    details = {"version": 1, "updatedTime": "2025-01-01T00:00:00Z", "updatedBy": "ops@contoso.com"}
    if parent:
        details["parent"] = {"id": MG + parent, "name": parent, "displayName": parent}
    return {"id": MG + name, "type": "Microsoft.Management/managementGroups", "name": name,
            "properties": {"tenantId": tenant, "displayName": display, "details": details, "children": children}}


def mg_child(name: str, display: str, children: list[dict] | None = None) -> dict:
    return {"type": "Microsoft.Management/managementGroups", "id": MG + name, "name": name, "displayName": display,
            "children": children or []}


def sub_child(sub: str, display: str) -> dict:
    return {"type": "/subscriptions", "id": f"/subscriptions/{sub}", "name": sub, "displayName": display}


def policy_assignment(scope: str, name: str, definition_id: str, *, params: dict | None = None,
                      enforcement: str = "Default", not_scopes: list[str] | None = None, display: str = "",
                      overrides: list[dict] | None = None, selectors: list[dict] | None = None) -> dict:
    """A policy assignment as ``PolicyAssignments_Get`` (api 2025-11-01) returns it."""
    props = {"displayName": display or name, "policyDefinitionId": definition_id, "definitionVersion": "1.*.*",
             "scope": scope, "notScopes": not_scopes or [], "enforcementMode": enforcement,
             "parameters": {k: {"value": v} for k, v in (params or {}).items()},
             "metadata": {"assignedBy": "platform@contoso.com"}, "instanceId": _etag(scope + name)}
    if overrides:
        props["overrides"] = overrides
    if selectors:
        props["resourceSelectors"] = selectors
    return {"id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/policyAssignments", "location": "westeurope",
            "identity": {"type": "SystemAssigned", "principalId": _etag(name), "tenantId": _etag(scope)},
            "properties": props}


def policy_set(scope: str, name: str, display: str, members: list[tuple[str, str, dict]],
               params: dict | None = None) -> dict:
    """A custom set definition as ``PolicySetDefinitions_Get`` returns it; members: (reference id, definition id,
    {parameter: value})."""
    return {"id": f"{scope}/providers/Microsoft.Authorization/policySetDefinitions/{name}", "name": name,
            "type": "Microsoft.Authorization/policySetDefinitions",
            "properties": {"displayName": display, "policyType": "Custom", "metadata": {"category": "Network"},
                           "parameters": params or {},
                           "policyDefinitions": [{"policyDefinitionReferenceId": ref, "policyDefinitionId": did,
                                                  "parameters": {k: {"value": v} for k, v in p.items()}}
                                                 for ref, did, p in members]}}
