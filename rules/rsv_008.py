"""RSV-008: public access denied and no approved backup private endpoint: restores fail."""
from auditor import arm
from auditor.rule import Rule, text

RULE = Rule(
    id="RSV-008", title="Public access denied on a vault without an approved backup private endpoint",
    severity="High", subject="vaults",
    rationale="H1: 'If public access is denied and a private endpoint isn't enabled, backups succeed, but restore "
              "operations fail for all workloads except Virtual Machines. However, Virtual Machine item-level "
              "recovery also fails.'",
    condition="properties.publicNetworkAccess is Disabled and the vault has no approved backup private endpoint "
              "connection (AzureBackup, vault side Approved and Succeeded, or PE side Approved for a PE the vault "
              "side does not list); absent publicNetworkAccess counts as Enabled (Compliant)",
    remediation="Create and approve an AzureBackup private endpoint for the vault (az network private-endpoint create "
                "--group-id AzureBackup --private-connection-resource-id {resource_id} ...), or allow public access: "
                "az backup vault update --subscription {subscription_id} --resource-group {resource_group} --name "
                "{resource_name} --public-network-access Enable",
    applies=lambda v, p: v["id"].notna(),
    violates=lambda v, p: v["pna"].fillna("Enabled").str.casefold().eq("disabled") & ~v["approved_backup"],
    message=lambda v, p: "publicNetworkAccess=" + text(v["pna"], "(absent, counts as Enabled)")
                         + ", approved AzureBackup connection: " + v["approved_backup"].map({True: "yes", False: "no"})
                         + " (" + v["n_backup"].astype(str) + " backup connection(s) in any state)",
    # the vault's own list decides where it holds an approved connection; otherwise an unlisted endpoint might
    error=lambda v, p: v["pe_listing_error"].where(~v["approved_backup"]
                                                   & v["pna"].fillna("").str.casefold().eq("disabled"), None),
    reads=(arm.VAULT, arm.VAULT_PE_CONNECTION),
    policies={arm.POLICY_PNA_AUDIT_DENY: "goes beyond", arm.POLICY_PNA_MODIFY: "goes beyond",
              arm.POLICY_PRIVATE_LINK: "goes beyond"},
    mcsb=("NS-2", "BR-4"),
    references=("https://learn.microsoft.com/azure/backup/private-endpoints",),
)
