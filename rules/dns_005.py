"""DNS-005: v1 cannot integrate with a private DNS zone of another subscription."""
from auditor import arm
from auditor.rule import Rule, join

RULE = Rule(
    id="DNS-005", title="DNS zone group references a zone in another subscription (v1)", severity="Medium",
    subject="endpoints",
    rationale="Seed: 'Integration with private DNS zone present in different subscriptions is unsupported in this "
              "experience.'",
    condition="the vault is not v2 and a backup private endpoint's privateDnsZoneGroups reference a zone in a "
              "subscription other than the vault's",
    remediation="Use a zone in the vault's subscription, or move to the new experience: {fixes[DNS-005]}",
    applies=lambda e, p: e["backup"] & e["in_input"] & ~e["v2"] & e["has_zone_group"],
    violates=lambda e, p: e["foreign_zones"].map(len) > 0,
    message=lambda e, p: ("zone(s) " + join(e["foreign_zones"], ", ") + " outside the vault's subscription "
                          + e["vault_sub"]).where(e["foreign_zones"].map(len) > 0,
                                                  "zone group zones are in the vault's subscription " + e["vault_sub"]),
    not_applicable=lambda e, p: (e["backup"] & e["v2"]).map(
        {True: "v2 experience: zones may live in other subscriptions",
         False: "not a backup private endpoint with a private DNS zone group"}),
    candidates=lambda e, p: e["backup"] & e["in_input"] & ~e["v2"],
    reads=(arm.PRIVATE_ENDPOINT, arm.ZONE_GROUP, arm.VAULT, arm.NIC),
    needs=((arm.ZONE_GROUP,),),
    mcsb=("NS-2", "NS-10"),
    experience=True,
)
