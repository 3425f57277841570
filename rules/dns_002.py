"""DNS-002: storage (blob/queue) endpoints the vault created need their A records too."""
from auditor.rule import DNS, NETWORK, Rule
from auditor import arm
from auditor.rules.dns_common import judged, missing_records, reason

RULE = Rule(
    id="DNS-002", title="Storage private endpoint FQDN has no A record", severity="High", subject="endpoints",
    rationale="Seed: 'The private endpoints for blobs and queues follow a standard naming pattern ... The managed "
              "identity assigned to the vault is used to automate the addition of DNS record whenever new storage "
              "account is allocated for backup data.'",
    condition="a storage private endpoint (blob/queue) of a backup private endpoint has an FQDN with no A record",
    remediation="Add the missing A record(s), and let the vault's identity add the next ones (Private DNS Zone "
                "Contributor on the zone, see IAM-001): {fixes[DNS-002]}",
    applies=lambda e, p: e["storage"] & judged(e),
    violates=lambda e, p: e["fq_missing"].map(len) > 0,
    message=missing_records,
    not_applicable=lambda e, p: reason(e, "storage"),
    reads=NETWORK + DNS + (arm.VNET,),
    needs=((arm.ZONE,), (arm.A_RECORD,)),
    policies={arm.POLICY_DNS_BACKUP: "goes beyond"},
    mcsb=("NS-2", "NS-10"),
)
