"""Real bodies (tests/fixtures/real-exports, sources in its README) audited as docs/rules.md says: vaults of API versions
before 2023-04-01 (connections without groupIds), the standalone vault connection of 2021-12-01, Resource Graph answers
in table format, empty recorded bodies inside an export directory, and a PE of another service (issue 12)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import arm, engine, pipeline
from auditor.ingest import InputError, read_inputs
from auditor.rules import ALL

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "fixtures" / "real-exports"
EXAMPLES = ROOT / "tests" / "fixtures" / "arm-examples"
VAULT = ("/subscriptions/77777777-b0c6-47a2-b37c-d8e65a629c18/resourceGroups/Default-RecoveryServices-ResourceGroup/"
         "providers/Microsoft.RecoveryServices/vaults/swaggerExample").lower()
PE = ("/subscriptions/6c48fa17-39c7-45f1-90ac-47a587128ace/resourceGroups/Default-RecoveryServices-ResourceGroup/"
      "providers/Microsoft.Network/privateEndpoints/pe114-pemsi-ecy-rsv").lower()
PROVIDER = "/subscriptions/77777777-b0c6-47a2-b37c-d8e65a629c18/providers/Microsoft.RecoveryServices".lower()
PE_RULES = ("PE-002", "DNS-001", "DNS-002", "DNS-003", "DNS-004", "DNS-005")


def audit(*paths) -> dict[tuple[str, str], tuple[str, str]]:
    m = pipeline.load([str(p) for p in paths])
    f = engine.evaluate(m, ALL, engine.Settings())
    return {(r, i.lower()): (s, msg) for r, i, s, msg in zip(f["rule_id"], f["resource_id"], f["compliance_state"],
                                                              f["message"])}


def states(found: dict) -> dict[tuple[str, str], str]:
    return {k: s for k, (s, _) in found.items()}


def _vault_rows(crr_state: str) -> dict[tuple[str, str], str]:
    """What a lone pre-2023-04-01 vault with one approved backup connection gives (nothing else in the input)."""
    crr_on = crr_state == "NonCompliant"
    return {
        # cross-region restore on: RSV-001 steps aside and RSV-009 speaks (public access is not denied: Compliant)
        ("RSV-001", VAULT): "NotApplicable" if crr_on else "NonCompliant",
        ("RSV-009", VAULT): "Compliant" if crr_on else "NotApplicable",
        ("RSV-002", VAULT): "Compliant", ("RSV-003", VAULT): crr_state,
        # hardening fields these API versions do not return: absent counts against the vault; MUA needs the
        # vault's resource guard proxies, which a lone vault body does not carry
        ("RSV-008", VAULT): "Compliant", ("RSV-010", VAULT): "NonCompliant", ("RSV-011", VAULT): "NonCompliant",
        ("RSV-012", VAULT): "Error", ("RSV-013", VAULT): "NotApplicable", ("RSV-014", VAULT): "NonCompliant",
        ("PE-004", PE): "NotApplicable", ("PE-005", PE): "Compliant",
        ("RSV-004", VAULT): "Compliant", ("RSV-005", VAULT): "Compliant", ("RSV-006", VAULT): "Error",
        ("RSV-007", VAULT): "NotApplicable", ("IAM-001", VAULT): "Error",
        ("PE-001", PE): "Compliant", **{(r, PE): "NotApplicable" for r in PE_RULES},
        ("SUB-001", PROVIDER): "Error", ("SUB-002", PROVIDER): "Error",
    }


@pytest.mark.parametrize("name,crr", [("vault_2021-03-01_get.json", "Error"),  # no crossRegionRestore: no evidence
                                      ("vault_2022-04-01_get.json", "NonCompliant"),
                                      ("resourcegraph_2019-04-01_vault_table.json", "NonCompliant")])
def test_vault_without_group_ids_uses_private_endpoints(name, crr):
    found = audit(REAL / name)
    assert states(found) == _vault_rows(crr)
    assert found[("RSV-002", VAULT)][1].startswith("1 backup private endpoint connection(s)")
    assert found[("PE-001", PE)][1] == "connection states: vault side approved"
    assert all(found[(r, PE)][1] == "the private endpoint is not in the input" for r in PE_RULES)


def test_standalone_connection_of_2021_12_01():
    pe = ("/subscriptions/04cf684a-d41f-4550-9f70-7708a3a2283b/resourceGroups/gaallaRG/providers/Microsoft.Network/"
          "privateEndpoints/gaallatestpe3").lower()
    found = states(audit(REAL / "vault_pe_connection_2021-12-01_get.json"))
    assert found == {("PE-001", pe): "Compliant", ("PE-005", pe): "Compliant",   # PE-005 judges references by name
                     **{(r, pe): "NotApplicable" for r in (*PE_RULES, "PE-004")}}


@pytest.mark.parametrize("name,expected", [
    ("pe114-pemsi-ecy-rsv.5944358949303501042.backup.75061caa-cba4-4849-8e09-608da4914aad", True),
    ("/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/Vaults/v/privateEndpointConnections/"
     "PE1.123.Backup.abc", True),
    ("pe1.123.siterecovery.abc", False), ("backup-pe.123.abc", False), ("pe1.backups.abc", False),
    ("/subscriptions/s/resourceGroups/g.backup.x/providers/Microsoft.RecoveryServices/vaults/v/"
     "privateEndpointConnections/pe1.1.siterecovery.2", False),
    (None, False), ("", False)])
def test_backup_connection_name(name, expected):
    assert arm.is_backup_connection_name(name) is expected


def test_connection_without_group_ids_named_for_site_recovery_is_not_backup(tmp_path):
    vault = json.loads((REAL / "vault_2022-04-01_get.json").read_text())
    conn = vault["properties"]["privateEndpointConnections"][0]
    conn["id"] = conn["id"].replace(".backup.", ".siterecovery.")
    f = tmp_path / "vault.json"
    f.write_text(json.dumps(vault))
    found = audit(f)
    assert found[("RSV-002", VAULT)] == ("NonCompliant", "0 backup private endpoint connection(s); "
                                                         "1 private endpoint connection(s) in all")
    assert found[("RSV-001", VAULT)][0] == "NotApplicable"
    # groupIds, where listed, still decide
    conn["id"] = conn["id"].replace(".siterecovery.", ".backup.")
    conn["properties"]["groupIds"] = ["AzureSiteRecovery"]
    f.write_text(json.dumps(vault))
    assert audit(f)[("RSV-002", VAULT)][0] == "NonCompliant"


def test_resource_graph_table_format_rows_are_objects():
    ing = read_inputs([REAL / "resourcegraph_2019-04-01_basic_table.json"])
    assert sorted(raw.type for raw in ing.objects.values()) == [arm.NIC, arm.VNET]
    nic = next(raw for raw in ing.objects.values() if raw.type == arm.NIC)
    assert nic.obj["name"] == "myNetworkInterface" and nic.obj["tags"] == {"tag1": "Value1"}
    assert not ing.warnings and not ing.errors
    # a summarize query's rows spell no resource: read, nothing routed, no error
    ing = read_inputs([REAL / "resourcegraph_2019-04-01_summarize_table.json"])
    assert not ing.objects and not ing.errors and ing.count == 2


def test_resource_graph_table_rows_of_the_wrong_length_are_unreadable(tmp_path):
    doc = json.loads((REAL / "resourcegraph_2019-04-01_basic_table.json").read_text())
    doc["data"]["rows"][0] = doc["data"]["rows"][0][:2]
    f = tmp_path / "t.json"
    f.write_text(json.dumps(doc))
    ing = read_inputs([f])
    assert len(ing.objects) == 1 and len(ing.warnings) == 1 and "position 0" in ing.warnings[0]
    doc["data"] = {"columns": "id", "rows": []}
    f.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="data.columns"):
        read_inputs([f])


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_empty_bodies_in_a_directory_are_warnings_not_exit_2(tmp_path):
    d = tmp_path / "export"
    d.mkdir()
    for name in ("empty_null.json", "empty_array.json", "empty_page.json", "vault_2022-04-01_get.json"):
        shutil.copy(REAL / name, d / name)
    p = _cli("audit", "--input", d, "--out", tmp_path / "o", "--format", "json")
    assert p.returncode == 3, p.stderr  # incomplete (no subscriptions, providers, roles), not refused
    assert "Traceback" not in p.stderr
    for name in ("empty_null.json", "empty_array.json", "empty_page.json"):
        assert f"{d / name}: holds no object" in p.stderr, p.stderr
    rows = json.loads((tmp_path / "o" / "findings.json").read_text())["findings"]
    assert {(r["rule_id"], r["resource_id"].lower()): r["compliance_state"] for r in rows} == _vault_rows("NonCompliant")


@pytest.mark.parametrize("name", ["empty_null.json", "empty_array.json", "empty_page.json"])
def test_a_single_file_holding_no_object_is_exit_2(tmp_path, name):
    p = _cli("audit", "--input", REAL / name, "--out", tmp_path / "o")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and name in p.stderr and "holds no object" in p.stderr


def test_pe_of_another_service_is_not_a_backup_private_endpoint(tmp_path):
    """The published PE (a Private Link service / Cosmos DB FQDNs) in a VNet that is not in the input, beside a
    VNet that is: the DNS rules say why they do not apply."""
    pe = json.loads((EXAMPLES / "network_privateendpoints_get.json").read_text())["responses"]["200"]["body"]
    vnet = json.loads((EXAMPLES / "network_virtualnetworks_get.json").read_text())["responses"]["200"]["body"]
    f = tmp_path / "estate.json"
    f.write_text(json.dumps([pe, vnet]))
    found = audit(f)
    for rule, kinds in (("DNS-001", "backup"), ("DNS-002", "storage"), ("DNS-003", "backup or storage"),
                        ("DNS-004", "backup or storage")):
        assert found[(rule, pe["id"].lower())] == ("NotApplicable",
                                           f"not a {kinds} private endpoint of a Recovery Services vault"), rule
    assert found[("PE-001", pe["id"].lower())][0] == "NotApplicable"


def test_listed_subscription_without_exported_objects_is_named(tmp_path):
    """An export of az's active subscription only must not miss the others silently."""
    sub = {"id": "/subscriptions/77777777-b0c6-47a2-b37c-d8e65a629c18", "subscriptionId":
           "77777777-b0c6-47a2-b37c-d8e65a629c18", "tenantId": "d676e86e-2206-4a7c-999c-ece52c144b5b",
           "displayName": "vaults"}
    az_other = {"id": "0f0f0f0f-0000-4000-8000-000000000001", "tenantId": "d676e86e-2206-4a7c-999c-ece52c144b5b",
                "name": "forgotten", "state": "Enabled", "cloudName": "AzureCloud"}
    d = tmp_path / "export"
    d.mkdir()
    (d / "subscriptions.json").write_text(json.dumps([sub, az_other]))
    shutil.copy(REAL / "vault_2022-04-01_get.json", d / "vault.json")
    warnings = pipeline.load([str(d)]).warnings
    assert warnings == ["subscription 0f0f0f0f-0000-4000-8000-000000000001 (forgotten) is listed but no exported "
                        "object lies in it: was it exported (az ... --subscription)?"]
