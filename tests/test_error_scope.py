"""Offline: an error record reaches only the rows that rest on an object of a type it covers inside its scope
(issue 12). A snapshot whose ``errors`` hold a 403 for contoso-prod's network reads must not turn the rows of a prod
vault's AzureBackup_secondary PE that lives in another subscription into Error."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from auditor import arm, engine, pipeline
from auditor.rules import ALL

ROOT = Path(__file__).resolve().parents[1]
OBJECTS = json.loads((ROOT / "auditor" / "data" / "demo.json").read_text())
SUBS = {o["displayName"]: o["subscriptionId"] for o in OBJECTS if str(o.get("id", "")).count("/") == 2}
PROD = SUBS["contoso-prod"]
ELSEWHERE = "4d4d4d4d-0000-4000-8000-00000000beef"
PE_RULES = ("PE-001", "PE-002", "DNS-001", "DNS-002", "DNS-003", "DNS-004", "DNS-005")
NETWORK_403 = {"scope": f"/subscriptions/{PROD}", "status": 403, "message": "AuthorizationFailed",
               "types": [arm.PRIVATE_ENDPOINT, arm.NIC, arm.VNET, arm.ZONE]}


def _moved() -> tuple[list[dict], str]:
    objs = copy.deepcopy(OBJECTS)
    vault = next(o for o in objs if o.get("name") == "rsv-prod-v2-02" and o.get("type") == arm.VAULT)
    conn = next(c for c in vault["properties"]["privateEndpointConnections"]
                if c["properties"].get("groupIds") == ["AzureBackup_secondary"])
    old = conn["properties"]["privateEndpoint"]["id"]
    conn["properties"]["privateEndpoint"]["id"] = new = f"/subscriptions/{ELSEWHERE}/" + old.split("/", 3)[3]
    return objs, new.lower()


def _audit(tmp_path: Path, objs: list[dict], errors: list[dict]) -> dict:
    f = tmp_path / f"snapshot-{len(list(tmp_path.iterdir()))}.json"
    f.write_text(json.dumps({"resources": objs, "errors": errors, "collected_at": "2026-01-01T00:00:00Z"}))
    found = engine.evaluate(pipeline.load([str(f)]), ALL, engine.Settings())
    return {(r, i.lower()): (s, m) for r, i, s, m in zip(found["rule_id"], found["resource_id"],
                                                          found["compliance_state"], found["message"])}


def test_network_403_does_not_reach_a_pe_of_another_subscription_through_its_vault(tmp_path):
    objs, pe = _moved()
    truth = _audit(tmp_path, objs, [])
    got = _audit(tmp_path, objs, [NETWORK_403])
    assert {r: got[(r, pe)] for r in PE_RULES} == {r: truth[(r, pe)] for r in PE_RULES}
    assert truth[("PE-001", pe)][0] == "Compliant"
    assert {truth[(r, pe)] for r in PE_RULES[1:]} == {("NotApplicable", "the private endpoint is not in the input")}


def test_network_403_still_reaches_what_rests_on_the_subscriptions_network(tmp_path):
    objs, _ = _moved()
    got = _audit(tmp_path, objs, [NETWORK_403])
    prod_pe = next(o["id"].lower() for o in objs if o.get("name") == "pe-rsv-prod-sql-01")
    assert {got[(r, prod_pe)][0] for r in ("PE-001", "PE-002", "DNS-001", "DNS-004")} == {"Error"}
    assert "could not read /subscriptions/" + PROD in got[("PE-001", prod_pe)][1]
    # a prod vault whose endpoints are in prod: RSV-005 reads the network (v2 or not)
    vault = next(o["id"].lower() for o in objs if o.get("name") == "rsv-prod-sql-01")
    assert got[("RSV-005", vault)][0] == "Error"
    assert got[("RSV-001", vault)][0] != "Error"   # the vault's own properties were read


def test_scope_attached_types_reach_every_row_in_their_scope(tmp_path):
    """Role assignments, subscriptions and events are not objects under a row's ids: a record of them still reaches
    the rows inside its scope; a provider row rests on every vault of its subscription."""
    objs, _ = _moved()
    vault = next(o["id"].lower() for o in objs if o.get("name") == "rsv-prod-sql-01")
    ra = {"scope": f"/subscriptions/{PROD}", "status": 403, "message": "x", "types": [arm.ROLE_ASSIGNMENT]}
    sub = {"scope": f"/subscriptions/{PROD}", "status": 403, "message": "x", "types": [arm.SUBSCRIPTION]}
    vaults = {"scope": f"/subscriptions/{PROD}", "status": 403, "message": "x", "types": [arm.VAULT]}
    got = _audit(tmp_path, objs, [ra, sub, vaults])
    assert got[("IAM-001", vault)][0] == "Error" and got[("RSV-006", vault)][0] == "Error"
    provider = f"/subscriptions/{PROD}/providers/microsoft.recoveryservices"
    assert got[("SUB-001", provider)][0] == "Error" and got[("SUB-002", provider)][0] == "Error"
