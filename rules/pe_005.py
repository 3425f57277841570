"""PE-005: two backup private endpoints of one vault with the same name are unsupported."""
from auditor import arm
from auditor.rule import Rule, join

RULE = Rule(
    id="PE-005", title="Backup private endpoints of a vault share a name", severity="Medium", subject="endpoints",
    rationale="V2: 'Creation of multiple private endpoints with the same name under Recovery Services vaults is "
              "unsupported.'",
    condition="two or more distinct backup private endpoints (PE side and vault side, both groups) of the same vault "
              "have the same name (last id segment, case-insensitive); endpoints known only by reference are judged",
    remediation="Delete one of the endpoints and re-create it under another name: az network private-endpoint delete "
                "--subscription {subscription_id} --ids {resource_id}",
    applies=lambda e, p: e["backup"],
    violates=lambda e, p: e["same_name_pes"].map(len) > 0,
    message=lambda e, p: ("same name as " + join(e["same_name_pes"], ", ")).where(
        e["same_name_pes"].map(len) > 0, "no other backup private endpoint of the vault has this name"),
    not_applicable="not a backup private endpoint of a Recovery Services vault",
    reads=(arm.PRIVATE_ENDPOINT, arm.VAULT, arm.VAULT_PE_CONNECTION),
    judges_references=True,
    mcsb=("NS-2",),
    references=("https://learn.microsoft.com/azure/backup/backup-azure-private-endpoints-concept",),
)
