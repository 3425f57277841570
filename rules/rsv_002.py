"""RSV-002: vaults should use private link for backup (the Azure Policy built-in)."""
from auditor import arm
from auditor.rule import Rule

RULE = Rule(
    id="RSV-002", title="Vault does not use private endpoints for backup", severity="Medium", subject="vaults",
    rationale="Seed: private endpoints are the recommended way to back up SQL and SAP HANA in Azure VMs, MARS agent "
              "and DPM ('Use of private endpoints is recommended to allow backup and restore without needing to add "
              "to an allowlist any IPs/FQDNs for Azure Backup or Azure Storage'). Azure Policy built-in: 'Azure "
              "Recovery Services vaults should use private link for backup'.",
    condition="the vault has no backup private endpoint connection (groupIds AzureBackup or AzureBackup_secondary)",
    remediation="Create a private endpoint for the vault (target sub-resource AzureBackup) in a subnet with at least 11 "
                "free IPs; a vault that already protects items needs a new vault (see RSV-007): {fixes[RSV-002]}",
    applies=lambda v, p: v["id"].notna(),
    violates=lambda v, p: ~v["uses_pe"],
    message=lambda v, p: v["n_backup"].astype(str) + " backup private endpoint connection(s); "
                         + v["n_any_conn"].astype(str) + " private endpoint connection(s) in all",
    policies={arm.POLICY_PRIVATE_LINK: "matches"},
    mcsb=("NS-2",),
)
