"""PE-003: the backup PE's subnet must have room for the storage PEs Azure Backup adds later."""
from auditor import arm
from auditor.rule import Rule, join

RULE = Rule(
    id="PE-003", title="Subnet of a backup private endpoint is short of free IPs", severity="Medium",
    subject="subnets",
    rationale="Seed: 'A private endpoint connection for Backup uses a total of 11 private IPs in your subnet, "
              "including those used by Azure Backup for storage ... we suggest that you have enough private IPs (/26) "
              "available'; new storage private endpoints are created in this subnet as storage is allocated.",
    condition="a subnet holding a backup private endpoint has fewer than `min_free_ips` (default 11) free IPs: "
              "addresses of its IPv4 prefixes − 5 reserved per prefix − distinct IP configurations in the subnet",
    remediation="Free addresses in the subnet or move the endpoint to a larger one (/26 suggested): az network vnet "
                "subnet show --subscription {subscription_id} --ids {resource_id} --query ipConfigurations",
    applies=lambda s, p: s["holds_backup_pe"] & s["capacity"].notna(),
    violates=lambda s, p: s["free"] < p["min_free_ips"],
    message=lambda s, p: s["free"].astype("Int64").astype(str) + " free IP(s) (" + join(s["prefixes"], ", ")
                         + ": " + s["capacity"].astype("Int64").astype(str) + " usable, " + s["used"].astype(str)
                         + " in use); needs " + str(p["min_free_ips"]) + "; backup endpoint(s) "
                         + join(s["pe_names"], ", ") + " of vault(s) " + join(s["vault_ids"], ", "),
    not_applicable=lambda s, p: s["holds_backup_pe"].map({True: "no IPv4 prefix", False: "holds no backup private endpoint"}),
    reads=(arm.VNET, arm.SUBNET, arm.NIC, arm.PRIVATE_ENDPOINT),
    needs=((arm.VNET, arm.SUBNET),),
    params={"min_free_ips": 11},
)
