"""Error stays inside the failed scope (issue 12): a 403 on one subscription's Microsoft.Network reads makes Error
only the rows that rest on a network object of that subscription. The AzureBackup_secondary PE of a contoso-prod vault
that lives in another subscription (and answers 404 when fetched by id) keeps its offline verdicts: PE-001 from the
vault side, "not in the input" for the rest."""
from __future__ import annotations

import copy

from tests.emulator import Fault
from tests.live.test_faults import OBJECTS, PROD, audit, demo, truth  # noqa: F401 (demo: the fixture)

ELSEWHERE = "4d4d4d4d-0000-4000-8000-00000000beef"   # listed nowhere: the PE is fetched by id and answers 404
VAULT = "rsv-prod-v2-02"
PE_RULES = ("PE-001", "PE-002", "DNS-001", "DNS-002", "DNS-003", "DNS-004", "DNS-005")


def moved_estate() -> tuple[list[dict], str]:
    """The demo with rsv-prod-v2-02's AzureBackup_secondary PE in another subscription."""
    objs = copy.deepcopy(OBJECTS)
    vault = next(o for o in objs if o.get("name") == VAULT and o.get("type") == "Microsoft.RecoveryServices/vaults")
    conn = next(c for c in vault["properties"]["privateEndpointConnections"]
                if c["properties"].get("groupIds") == ["AzureBackup_secondary"])
    old = conn["properties"]["privateEndpoint"]["id"]
    new = f"/subscriptions/{ELSEWHERE}/" + old.split("/", 3)[3]
    conn["properties"]["privateEndpoint"]["id"] = new
    return objs, new.lower()


def test_403_on_network_reads_stays_in_its_subscription(demo, tmp_path, capsys):
    objs, pe = moved_estate()
    demo.set_estate(objs)
    demo.faults.append(Fault(status=403, prefix=f"/subscriptions/{PROD}", contains="/providers/microsoft.network/"))
    run = audit(tmp_path, capsys)
    assert run.code == 3
    assert {e["scope"].lower() for e in run.doc["errors"]} == {f"/subscriptions/{PROD}"}
    want = truth(objs, tmp_path)
    # the secondary PE (another subscription, 404 by id): exactly its offline rows
    assert {r: run.rows[(r, pe)]["compliance_state"] for r in PE_RULES} == {
        r: want[(r, pe)]["compliance_state"] for r in PE_RULES}
    assert want[("PE-001", pe)]["compliance_state"] == "Compliant"
    assert all(want[(r, pe)]["message"] == "the private endpoint is not in the input" for r in PE_RULES[1:])
    # no Error row outside contoso-prod rests on anything but a zone *name* not found (a prod zone may hold it)
    outside = {(r, i) for (r, i), row in run.rows.items() if row["compliance_state"] == "Error"
               and f"/subscriptions/{PROD}/" not in i and f"/subscriptions/{PROD}/" not in row["vault_id"].lower()}
    assert {r for r, _ in outside} <= {"DNS-001", "DNS-002", "DNS-003", "DNS-004"}, outside
