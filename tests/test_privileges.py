"""least-privilege-role.json: generated from the collectors' declared actions, committed, read-only."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import collect, privileges

ROOT = Path(__file__).resolve().parents[1]


def test_committed_role_is_the_generators_output():
    out = subprocess.run([sys.executable, "-m", "auditor.privileges"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert (ROOT / "least-privilege-role.json").read_text() == out, \
        "regenerate: python -m auditor.privileges > least-privilege-role.json"
    role = json.loads(out)
    assert set(role) >= {"Name", "IsCustom", "Description", "Actions", "NotActions", "AssignableScopes"}
    assert role["IsCustom"] is True and role["NotActions"] == [] and role["DataActions"] == []
    assert role["AssignableScopes"] == [privileges.PLACEHOLDER_SCOPE]


def test_every_collector_declares_a_read_action():
    assert all(c.action for c in collect.COLLECTORS.values())
    actions = privileges.actions()
    assert actions == sorted(set(actions), key=str.lower)
    assert all(a.endswith("/read") and "*" not in a for a in actions)  # reads only, no wildcards
    assert "Microsoft.ResourceGraph/resources/read" in actions


def test_each_collectors_action_is_what_arm_checks_for_its_path():
    """The declared action of a collector equals the action derived from a request path of that call."""
    s, g = "/subscriptions/0000", "/subscriptions/0000/resourceGroups/rg/providers"
    paths = {
        "subscriptions": "/subscriptions", "subscription": s,
        "provider": f"{s}/providers/Microsoft.RecoveryServices",
        "vaults": f"{s}/providers/Microsoft.RecoveryServices/vaults",
        "private_endpoints": f"{s}/providers/Microsoft.Network/privateEndpoints",
        "network_interfaces": f"{s}/providers/Microsoft.Network/networkInterfaces",
        "virtual_networks": f"{s}/providers/Microsoft.Network/virtualNetworks",
        "private_dns_zones": f"{s}/providers/Microsoft.Network/privateDnsZones",
        "role_assignments": f"{s}/providers/Microsoft.Authorization/roleAssignments",
        "activity_log": f"{s}/providers/Microsoft.Insights/eventtypes/management/values",
        "storage_config": f"{g}/Microsoft.RecoveryServices/vaults/v/backupstorageconfig/vaultstorageconfig",
        "protected_items": f"{g}/Microsoft.RecoveryServices/vaults/v/backupProtectedItems",
        "zone_groups": f"{g}/Microsoft.Network/privateEndpoints/pe/privateDnsZoneGroups",
        "a_records": f"{g}/Microsoft.Network/privateDnsZones/z/A",
        "vnet_links": f"{g}/Microsoft.Network/privateDnsZones/z/virtualNetworkLinks",
        "private_endpoint": f"{g}/Microsoft.Network/privateEndpoints/pe",
        "network_interface": f"{g}/Microsoft.Network/networkInterfaces/nic",
        "virtual_network": f"{g}/Microsoft.Network/virtualNetworks/vnet",
        "private_dns_zone": f"{g}/Microsoft.Network/privateDnsZones/z",
        "role_definition": f"{s}/providers/Microsoft.Authorization/roleDefinitions/1111",
    }
    assert paths.keys() == collect.COLLECTORS.keys()
    for name, path in paths.items():
        assert privileges.action_for("GET", path).lower() == collect.COLLECTORS[name].action.lower(), name
    assert privileges.action_for("POST", "/providers/Microsoft.ResourceGraph/resources?api-version=1") == \
        collect.GRAPH_ACTION
    for method, path in (("PUT", f"{g}/Microsoft.Network/privateEndpoints/pe"), ("POST", f"{s}/providers/x/register"),
                         ("DELETE", s)):
        assert privileges.action_for(method, path) is None


@pytest.mark.parametrize("scope", ["/subscriptions/1234", "/providers/Microsoft.Management/managementGroups/mg"])
def test_assignable_scopes_option(scope):
    out = subprocess.run([sys.executable, "-m", "auditor.privileges", "--assignable-scope", scope], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["AssignableScopes"] == [scope]
