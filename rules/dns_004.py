"""DNS-004: the VNet resolves only from the private DNS zones linked to it."""
from auditor.rule import NETWORK, Rule, join
from auditor import arm
from auditor.rules.dns_common import judged, reason, see_pol001

RULE = Rule(
    id="DNS-004", title="Private DNS zone not linked to the endpoint's VNet", severity="High", subject="endpoints",
    rationale="Seed: name resolution 'can be achieved by using Azure Private DNS zones'; a VM resolves from the zones "
              "linked to its virtual network (the seed's diagrams of resolution through private DNS zones).",
    condition="for some FQDN of a backup or storage private endpoint, no private DNS zone of its zone name is linked "
              "(virtualNetworkLinks) to the endpoint's VNet",
    remediation="Link the zone (the one that holds the records) to the endpoint's VNet: {fixes[DNS-004]}",
    applies=lambda e, p: (e["backup"] | e["storage"]) & judged(e),
    violates=lambda e, p: e["fq_unlinked"].map(len) > 0,
    message=lambda e, p: ("no zone linked to VNet " + e["vnet_id"].fillna("?") + " for " + join(e["fq_unlinked"])
                          ).where(e["fq_unlinked"].map(len) > 0,
                                  "zones linked to VNet " + e["vnet_id"].fillna("?") + " for all FQDNs")
                         + see_pol001(e, e["fq_unlinked"].map(len) > 0),
    not_applicable=lambda e, p: reason(e, "backup or storage"),
    reads=NETWORK + (arm.ZONE, arm.VNET_LINK, arm.VNET),
    needs=((arm.VNET_LINK,),),
    policies={arm.POLICY_DNS_BACKUP: "goes beyond"},
    mcsb=("NS-2", "NS-10"),
)
