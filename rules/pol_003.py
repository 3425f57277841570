"""POL-003: a Deny/Modify of vault public access that breaks restores, or the policies that create vaults."""
from auditor import arm
from auditor.rule import Rule
from auditor.rules.pol_common import READS, predicates

RULE = Rule(
    id="POL-003", title="Vault public-access policy breaks restores or vault-creating policies", severity="High",
    subject="assignments",
    rationale="'If public access is denied and a private endpoint isn't enabled, backups succeed, but restore "
              "operations fail for all workloads except Virtual Machines.' (Azure Backup, private endpoints); 'When "
              "both of the following ALZ library policies are assigned to the same scope …, the backup DINE policy's "
              "remediation always fails' (Azure/Azure-Landing-Zones#4206)",
    condition="an enforced assignment applies 9ebbbba3 with effect Deny or 04726aae with effect Modify, and (a) it "
              "covers a vault with no approved backup private endpoint connection, or (b) for Deny, an enforced "
              "DeployIfNotExists assignment of 98d0b9f8, 83644c87, 9e47cad9 or f32ca068 (which create vaults with "
              "public network access enabled) has a scope nested with its own, the inner scope not in its notScopes",
    remediation="Give the vaults it covers an approved backup private endpoint before disabling public access, and "
                "exclude the scopes of the vault-creating DeployIfNotExists assignments (notScopes) or use effect "
                "Audit: az policy assignment show --name {resource_name} --scope {scope}",
    **predicates("POL-003"),
    reads=READS,
    mcsb=("NS-2", "BR-1"),
    policies={arm.POLICY_PNA_AUDIT_DENY: "goes beyond", arm.POLICY_PNA_MODIFY: "goes beyond"},
    references=("https://github.com/Azure/Azure-Landing-Zones/issues/4206",
                "https://learn.microsoft.com/azure/backup/private-endpoints"),
)
