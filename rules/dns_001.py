"""DNS-001: every FQDN of a backup PE needs an A record in the zone its VNet resolves from."""
from auditor.rule import DNS, NETWORK, Rule
from auditor import arm
from auditor.rules.dns_common import judged, missing_records, reason, see_pol001

RULE = Rule(
    id="DNS-001", title="Backup private endpoint FQDN has no A record", severity="High", subject="endpoints",
    rationale="Seed: 'the name resolution for the FQDNs (privatelink.<geo>.backup.windowsazure.com, "
              "*.blob.core.windows.net, *.queue.core.windows.net, *.blob.storage.azure.net) should return a private IP "
              "address.'",
    condition="a backup private endpoint has an FQDN with no A record (with at least one IPv4 address) in the "
              "private DNS zone of its name linked to the endpoint's VNet (else in any zone of that name)",
    remediation="Add the missing A record(s) in the zone the endpoint's VNet resolves from (or attach a DNS zone group "
                "so Azure keeps them): {fixes[DNS-001]}",
    applies=lambda e, p: e["backup"] & judged(e),
    violates=lambda e, p: e["fq_missing"].map(len) > 0,
    message=lambda e, p: missing_records(e, p) + see_pol001(e, e["fq_missing"].map(len) > 0),
    not_applicable=lambda e, p: reason(e, "backup"),
    reads=NETWORK + DNS + (arm.VNET,),
    needs=((arm.ZONE,), (arm.A_RECORD,)),
    policies={arm.POLICY_DNS_BACKUP: "goes beyond"},
    mcsb=("NS-2", "NS-10"),
)
