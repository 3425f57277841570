"""POL-001: a backup private DNS policy assignment whose zone is for another region than the vaults it covers."""
from auditor import arm
from auditor.rule import Rule
from auditor.rules.pol_common import READS, predicates

RULE = Rule(
    id="POL-001", title="Backup private DNS policy assigned with another region's zone", severity="Medium",
    subject="assignments",
    rationale="'when assigning the policy the zone parameter needs to be region-specific, but the policy might get "
              "wrongly applied to a backup vault in the wrong region.' (Azure/azure-policy#1245); '<geo> refers to "
              "the region code (for example, eus for East US and ne for North Europe)' (Azure Backup, private "
              "endpoints for the enhanced experience). The broken records show up per endpoint as DNS-001/DNS-004; "
              "this names their cause.",
    condition="an enforced assignment applies af783da1 (Configure Recovery Services vaults to use private DNS zones "
              "for backup) with effect DeployIfNotExists, and the zone its privateDnsZone-Backup parameter names does "
              "not match privatelink.<geo>.backup.…, or its geo differs from the geo of the vault (its location; the "
              "endpoint's when the vault is not in the input) of a private endpoint the assignment covers and "
              "af783da1 acts on (an automatic AzureBackup connection to a vault). Region -> geo: the shipped tables, "
              "then the `geo_codes` parameter",
    remediation="Assign af783da1 once per region, each with privateDnsZone-Backup set to that region's "
                "privatelink.<geo>.backup.windowsazure.com zone and a resource selector (kind resourceLocation) "
                "limiting it to that region: az policy assignment show --name {resource_name} --scope {scope}",
    **predicates("POL-001"),
    reads=READS,
    mcsb=("NS-2", "NS-10"),
    policies={arm.POLICY_DNS_BACKUP: "goes beyond"},
    references=("https://github.com/Azure/azure-policy/issues/1245",
                "https://learn.microsoft.com/azure/backup/backup-azure-private-endpoints-concept"),
    params={"geo_codes": {}},
)
