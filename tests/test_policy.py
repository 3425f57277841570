"""Policy assignments and management groups as users export them (az, ARM, Resource Graph), their error records,
and --management-group offline."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from auditor import engine, pipeline
from auditor.rules import BY_ID

from .rules.base import base_estate

DNS = "/providers/Microsoft.Authorization/policyDefinitions/af783da1-4ad1-42be-800d-d19c70038820"
MG = "/providers/Microsoft.Management/managementGroups/"


def _eus_zone(hub: str) -> str:
    return f"/subscriptions/{hub}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/" \
           "privatelink.eus.backup.windowsazure.com"


def _audit(tmp_path: Path, objects: list, rule: str = "POL-001", errors: list | None = None):
    p = tmp_path / "estate.json"
    p.write_text(json.dumps({"resources": objects, "errors": errors or []} if errors is not None else objects))
    m = pipeline.load([str(p)])
    return m, engine.evaluate(m, [BY_ID[rule]], engine.Settings(only={rule}))


def _az_assignment(scope: str, name: str, definition: str, params: dict) -> dict:
    """``az policy assignment list -o json`` prints the properties at the top level."""
    return {"id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/policyAssignments", "scope": scope, "policyDefinitionId": definition,
            "enforcementMode": "Default", "notScopes": [], "displayName": name, "location": "westeurope",
            "parameters": {k: {"value": v} for k, v in params.items()}, "metadata": {}, "systemData": None}


def test_az_exports_inherited_assignment_listed_in_two_subscriptions_counts_once(tmp_path):
    objs, al = base_estate()
    set_id = MG + "corp/providers/Microsoft.Authorization/policySetDefinitions/dns"
    a = _az_assignment(MG + "corp", "corp-dns", set_id, {"zone": _eus_zone(al["$hub"])})
    # az policy set-definition show: flattened too
    s = {"id": set_id, "name": "dns", "type": "Microsoft.Authorization/policySetDefinitions", "policyType": "Custom",
         "parameters": {"zone": {"type": "String"}},
         "policyDefinitions": [{"policyDefinitionReferenceId": "b", "policyDefinitionId": DNS,
                                "parameters": {"privateDnsZone-Backup": {"value": "[parameters('zone')]"}}}]}
    mixed = {**a, "id": a["id"].upper().replace("/PROVIDERS/", "/providers/")}
    m, f = _audit(tmp_path, objs + [a, mixed, s])
    assert list(f["compliance_state"]) == ["NonCompliant"] and len(m.assignments) == 1
    assert "(assignment parameter zone) (set member b)" in f["message"][0]


def test_unreadable_set_definition_makes_the_assignment_error(tmp_path):
    objs, al = base_estate()
    set_id = MG + "corp/providers/Microsoft.Authorization/policySetDefinitions/dns"
    a = _az_assignment(MG + "corp", "corp-dns", set_id, {"zone": _eus_zone(al["$hub"])})
    err = {"scope": set_id, "status": 403, "message": "AuthorizationFailed",
           "types": ["Microsoft.Authorization/policySetDefinitions"]}
    _, f = _audit(tmp_path, objs + [a], errors=[err])
    assert list(f["compliance_state"]) == ["Error"] and "HTTP 403" in f["message"][0]
    _, f = _audit(tmp_path, objs + [a])   # offline, not exported: NotApplicable
    assert list(f["compliance_state"]) == ["NotApplicable"] and "not in the input" in f["message"][0]


def test_hierarchy_from_descendants_and_resource_graph_rows(tmp_path):
    objs, al = base_estate()
    sub, hub = al["$sub"], al["$hub"]
    a = _az_assignment(MG + "platform", "platform-dns", DNS, {"privateDnsZone-Backup": _eus_zone(hub)})
    # GET .../managementGroups/platform/descendants: the hub subscription only
    desc = [{"id": f"/subscriptions/{hub}", "type": "/subscriptions", "name": hub,
             "properties": {"displayName": "hub", "parent": {"id": MG + "platform"}}}]
    m, f = _audit(tmp_path, objs + [a] + desc)
    assert list(f["compliance_state"]) == ["NotApplicable"]          # platform does not hold the vault's subscription
    # a Resource Graph resourcecontainers row of the vault's subscription, under landing -> platform
    row = {"id": f"/subscriptions/{sub}", "type": "microsoft.resources/subscriptions", "subscriptionId": sub,
           "tenantId": al["$tenant"], "name": "prod",
           "properties": {"managementGroupAncestorsChain": [{"name": "landing"}, {"name": "platform"}]}}
    m, f = _audit(tmp_path, objs + [a] + desc + [row])
    assert list(f["compliance_state"]) == ["NonCompliant"]
    assert m.mg_path(f"/subscriptions/{sub}") == "platform/landing"


def test_management_group_option_and_column_through_the_cli(tmp_path):
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "o"
    p = subprocess.run([sys.executable, "-m", "auditor", "audit", "--demo", "--out", str(out), "--fail-on", "never",
                        "--management-group", "contoso-landingzones", "--format", "csv,json,html"],
                       capture_output=True, text=True, cwd=root, timeout=300)
    assert p.returncode == 0, p.stderr
    with open(out / "findings.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    mg = rows[0].index("management_group_path")
    assert rows[0][mg:] == ["management_group_path", "policy_ids", "mcsb_controls"]   # new columns come last
    assert {r[mg] for r in rows[1:]} == {"72f988bf-86f1-41af-91ab-2d7cd011db47/contoso/contoso-landingzones"}
    doc = json.loads((out / "findings.json").read_text())
    assert {a["name"] for a in doc["policy_assignments"]} == {"deny-vault-public-access", "prod-backup-dns",
                                                                "dev-asr-dns"}
    html = (out / "report.html").read_text()
    assert 'id="by-management-group"' in html and 'id="policy-assignments"' in html
    assert "rsv-dev-files-01" in html.split('id="policy-assignments"')[1].split("</section>")[0]
    p = subprocess.run([sys.executable, "-m", "auditor", "audit", "--demo", "--out", str(out),
                        "--management-group", "unknown-group"], capture_output=True, text=True, cwd=root, timeout=300)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "unknown-group" in p.stderr


EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "policy-examples"


def _bodies(*names: str) -> list:
    out = []
    for n in names:
        doc = json.loads((EXAMPLES / n).read_text())
        out.append(doc["responses"]["200"]["body"] if "responses" in doc else doc)
    return out


def test_published_payloads_are_read_as_azure_policy_reads_them(tmp_path):
    m, _ = _audit(tmp_path, _bodies("policy_assignments_get_with_overrides.json", "policy_set_definitions_get.json",
                                    "Backup-AzBackupRSVault_PeDnsConfigDINE.json",
                                    "Site_Recovery-PrivateDnsZones_DINE.json"))
    (row,) = m.assignments.to_dict("records")
    assert row["enforced"] and not row["set_missing"] and row["set_id"].endswith("/policysetdefinitions/costmanagement")
    members = {x.ref: x for x in row["members"]}
    assert set(members) == {"Limit_Skus", "Resource_Naming"}
    assert (members["Limit_Skus"].effect, members["Limit_Skus"].effect_from) == ("Audit", "override")
    assert members["Resource_Naming"].effect is None           # its definition is not in the input, not a built-in
    pdefs = m.tables["policy_defs"].set_index("name")
    assert pdefs.loc["af783da1-4ad1-42be-800d-d19c70038820", "param_defaults"]["effect"] == "DeployIfNotExists"
    m, _ = _audit(tmp_path, _bodies("policy_assignments_get_with_resource_selectors.json",
                                    "policy_assignments_get.json"))
    rows = {r["name"]: r for r in m.assignments.to_dict("records")}
    assert rows["CostManagement"]["locations"] == (("in", ("eastus2euap", "centraluseuap")),)
    assert rows["CostManagement"]["set_missing"]
    assert rows["EnforceNaming"]["members"][0].guid == "resourcenaming" and rows["EnforceNaming"]["not_scopes"] == ()


def test_unreadable_management_group_makes_its_assignments_error(tmp_path):
    objs, al = base_estate()
    a = _az_assignment(MG + "corp", "corp-dns", DNS, {"privateDnsZone-Backup": _eus_zone(al["$hub"])})
    err = {"scope": (MG + "corp").lower(), "status": 403, "message": "no access to the management group",
           "types": ["Microsoft.Management/managementGroups"]}
    _, f = _audit(tmp_path, objs + [a], errors=[err])
    assert list(f["compliance_state"]) == ["Error"] and "HTTP 403" in f["message"][0]


def test_group_path_from_expand_path(tmp_path):
    objs, al = base_estate()
    g = {"id": MG + "landing", "type": "Microsoft.Management/managementGroups", "name": "landing",
         "properties": {"displayName": "Landing", "details": {"path": [{"name": "root"}, {"name": "corp"},
                                                                       {"name": "landing"}]},
                        "children": [{"id": f"/subscriptions/{al['$sub']}", "type": "/subscriptions"}]}}
    m, _ = _audit(tmp_path, objs + [g])
    assert m.mg_path(f"/subscriptions/{al['$sub']}") == "root/corp/landing"


def test_config_management_groups_key(tmp_path):
    from auditor.config import load_config
    from auditor.ingest import InputError
    from auditor.rules import BY_ID as rules
    good = tmp_path / "good.toml"
    good.write_text('management_groups = ["contoso-landingzones"]\n[rules.POL-001]\ngeo_codes = { marsnorth = "mn" }\n')
    cfg = load_config(good, rules)
    assert cfg.management_groups == ["contoso-landingzones"] and cfg.params["POL-001"]["geo_codes"] == {"marsnorth": "mn"}
    bad = tmp_path / "bad.toml"
    bad.write_text("management_groups = \"contoso\"\n")
    try:
        load_config(bad, rules)
    except InputError as exc:
        assert "management_groups" in str(exc)
    else:
        raise AssertionError("a string is not a list of groups")


def test_unreadable_endpoints_reach_only_the_assignments_whose_verdict_rests_on_them(tmp_path):
    """A 403 on a subscription's network reads: an assignment that applies af783da1 (its verdict depends on the
    endpoints it covers) is Error; one whose definition or enforcement already decides NotApplicable stays so."""
    from auditor import arm
    objs, al = base_estate()
    scope = f"/subscriptions/{al['$sub']}"
    zone = {"privateDnsZone-Backup": _eus_zone(al["$hub"])}
    acting = _az_assignment(scope, "backup-dns", DNS, zone)
    other = _az_assignment(scope, "tags", "/providers/Microsoft.Authorization/policyDefinitions/"
                                          "96670d01-0a4d-4649-9c89-2d3abc0a5025", {})
    idle = {**_az_assignment(scope, "backup-dns-audit", DNS, zone), "enforcementMode": "DoNotEnforce"}
    err = {"scope": scope, "status": 403, "message": "AuthorizationFailed",
           "types": [arm.PRIVATE_ENDPOINT, arm.NIC, arm.VNET]}
    got = {}
    for rule in ("POL-001", "POL-002", "POL-003"):
        _, f = _audit(tmp_path, objs + [acting, other, idle], rule=rule, errors=[err])
        got.update({(rule, i.rsplit("/", 1)[-1]): s for i, s in zip(f["resource_id"], f["compliance_state"])})
    assert got == {("POL-001", "backup-dns"): "Error", ("POL-001", "tags"): "NotApplicable",
                   ("POL-001", "backup-dns-audit"): "NotApplicable",
                   ("POL-002", "backup-dns"): "NotApplicable", ("POL-002", "tags"): "NotApplicable",
                   ("POL-002", "backup-dns-audit"): "NotApplicable",
                   ("POL-003", "backup-dns"): "NotApplicable", ("POL-003", "tags"): "NotApplicable",
                   ("POL-003", "backup-dns-audit"): "NotApplicable"}
    _, f = _audit(tmp_path, objs + [acting, other, idle], rule="POL-001")   # readable: an eus zone, a vault elsewhere
    assert dict(zip(f["resource_id"].str.rsplit("/", n=1).str[-1], f["compliance_state"])) == {
        "backup-dns": "NonCompliant", "tags": "NotApplicable", "backup-dns-audit": "NotApplicable"}
