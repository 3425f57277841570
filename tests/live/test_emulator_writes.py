"""The writable emulator (tests/emulator/writes.py) on its own: each write the plan makes is applied to the estate and
answered in ARM's shape, a write the plan never makes is refused, and the request log holds every one."""
from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.emulator import Emulator, Writable

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "auditor" / "data" / "demo.json").read_text())
V = "2024-04-01"


def _first(kind: str, name: str | None = None) -> dict:
    return next(o for o in DEMO if o.get("type") == kind and (name is None or o.get("name") == name))


def _emu():
    emu = Emulator(json.loads(json.dumps(DEMO)), token="t0k", page_size=100)
    return emu, Writable(emu).install()


def _call(emu, method: str, path: str, body=None):
    return requests.request(method, f"{emu.url}{path}", params={"api-version": V}, json=body,
                            headers={"Authorization": "Bearer t0k"}, verify=emu.ca_file, timeout=10)


def test_records_links_roles_vaults_connections_and_providers_are_written_and_read_back():
    emu, w = _emu()
    zone = _first("Microsoft.Network/privateDnsZones")
    vault = _first("Microsoft.RecoveryServices/vaults", "rsv-prod-sap-01")
    sub = vault["id"].split("/")[2]
    with emu:
        # an A record set: 201 created, then 200 replaced; GET answers it
        rec = zone["id"] + "/A/newrec"
        r = _call(emu, "PUT", rec, {"properties": {"ttl": 10, "aRecords": [{"ipv4Address": "10.9.9.9"}]}})
        assert r.status_code == 201 and r.json()["properties"]["aRecords"] == [{"ipv4Address": "10.9.9.9"}]
        assert r.json()["type"] == "Microsoft.Network/privateDnsZones/A"
        assert _call(emu, "PUT", rec, {"properties": {"aRecords": [{"ipv4Address": "10.9.9.8"}]}}).status_code == 200
        assert _call(emu, "GET", rec).json()["properties"]["aRecords"] == [{"ipv4Address": "10.9.9.8"}]
        # a record set in a zone that does not exist
        assert _call(emu, "PUT", zone["id"] + "x/A/r", {"properties": {}}).status_code == 404
        # a VNet link; the same VNet linked again to a zone of that name is a conflict
        vnet = _first("Microsoft.Network/virtualNetworks")["id"]
        linked = next(o for o in DEMO if o.get("type") == "Microsoft.Network/privateDnsZones/virtualNetworkLinks")
        body = {"location": "global", "properties": {"virtualNetwork": {"id": linked["properties"]["virtualNetwork"][
            "id"]}, "registrationEnabled": False}}
        zone_of_link = linked["id"].split("/virtualNetworkLinks/")[0]
        assert _call(emu, "PUT", zone_of_link + "/virtualNetworkLinks/again", body).status_code == 409
        r = _call(emu, "PUT", zone["id"] + "/virtualNetworkLinks/l1", {"properties": {"virtualNetwork": {"id": vnet}}})
        assert r.status_code in (201, 409)
        # the vault: public access and a system-assigned identity in the subscription's tenant
        r = _call(emu, "PATCH", vault["id"], {"properties": {"publicNetworkAccess": "Disabled"}})
        assert r.status_code == 200 and r.json()["properties"]["publicNetworkAccess"] == "Disabled"
        mars = _first("Microsoft.RecoveryServices/vaults", "rsv-prod-mars-01")
        r = _call(emu, "PATCH", mars["id"], {"identity": {"type": "systemassigned"}})
        ident = r.json()["identity"]
        assert ident["type"] == "SystemAssigned" and ident["principalId"] and ident["tenantId"]
        # a role assignment; the same (principal, role, scope) under another name is RoleAssignmentExists
        scope = f"/subscriptions/{sub}/resourceGroups/rg-x"
        role = {"properties": {"roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                               "roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
                               "principalId": ident["principalId"], "principalType": "ServicePrincipal"}}
        ra = scope + "/providers/Microsoft.Authorization/roleAssignments/"
        r = _call(emu, "PUT", ra + "11111111-1111-4111-8111-111111111111", role)
        assert r.status_code == 201 and r.json()["properties"]["scope"] == scope
        r = _call(emu, "PUT", ra + "22222222-2222-4222-8222-222222222222", role)
        assert r.status_code == 409 and r.json()["error"]["code"] == "RoleAssignmentExists"
        listed = _call(emu, "GET", scope + "/providers/Microsoft.Authorization/roleAssignments").json()["value"]
        assert [x["properties"]["principalId"] for x in listed] == [ident["principalId"]]
        # the vault's connection: GET, approve (the endpoint side follows), a rejected one cannot be approved
        sql03 = _first("Microsoft.RecoveryServices/vaults", "rsv-prod-sql-03")
        conn = sql03["properties"]["privateEndpointConnections"][0]["id"]
        assert _call(emu, "GET", conn).json()["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
        r = _call(emu, "PUT", conn, {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}})
        assert r.status_code == 200 and r.json()["properties"]["provisioningState"] == "Succeeded"
        pe = _call(emu, "GET", sql03["properties"]["privateEndpointConnections"][0]["properties"]["privateEndpoint"][
            "id"]).json()
        states = [c["properties"]["privateLinkServiceConnectionState"]["status"]
                  for k in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections")
                  for c in pe["properties"].get(k, [])]
        assert states and set(states) == {"Approved"}
        # the provider: Registered, and the registration is in the activity log
        r = _call(emu, "POST", f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices/register")
        assert r.status_code == 200 and r.json()["registrationState"] == "Registered"
        events = _call(emu, "GET", f"/subscriptions/{sub}/providers/microsoft.insights/eventtypes/management/values",
                       ).json()["value"]
        assert any(e["operationName"]["value"].lower() == "microsoft.recoveryservices/register/action" for e in events)
        # a write the plan never makes: refused, and logged
        assert _call(emu, "DELETE", vault["id"]).status_code == 405
        assert _call(emu, "PUT", vault["id"], {"location": "x"}).status_code == 405
    log = w.writes()
    assert [x["method"] for x in log][-2:] == ["DELETE", "PUT"]
    assert all(x["body"] or x["method"] in ("POST", "DELETE") for x in log)
    assert len(log) == sum(1 for r in emu.requests if r["method"] != "GET")
