"""DNS-003: an A record that points elsewhere sends backup traffic to the wrong place."""
from auditor.rule import DNS, NETWORK, Rule, join
from auditor import arm
from auditor.rules.dns_common import judged, reason

RULE = Rule(
    id="DNS-003", title="Stale A record for a private endpoint FQDN", severity="High", subject="endpoints",
    rationale="Protects the seed's requirement that name resolution 'should return the corresponding private IP "
              "associated with the private endpoint'.",
    condition="a backup or storage private endpoint has an FQDN whose A record exists but holds none of the "
              "endpoint's expected IPs",
    remediation="Point the record at the endpoint's IP, then remove the stale address: {fixes[DNS-003]}",
    applies=lambda e, p: (e["backup"] | e["storage"]) & judged(e),
    violates=lambda e, p: e["fq_stale"].map(len) > 0,
    message=lambda e, p: ("stale A record: " + join(e["fq_stale"])).where(
        e["fq_stale"].map(len) > 0, "no A record points elsewhere (" + e["n_fqdns"].astype(str) + " FQDN(s))"),
    not_applicable=lambda e, p: reason(e, "backup or storage"),
    reads=NETWORK + DNS + (arm.VNET,),
    needs=((arm.ZONE,), (arm.A_RECORD,)),
    mcsb=("NS-2", "NS-10"),
)
