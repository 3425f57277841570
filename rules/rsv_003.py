"""RSV-003: cross-region restore and private endpoints (v1) do not go together for SQL / SAP HANA."""
import pandas as pd

from auditor import arm
from auditor.rule import Rule, text


def _crr_on(v: pd.DataFrame) -> pd.Series:
    return v["crr"].fillna("").str.casefold().eq("enabled") | v["crr_flag"].eq(True)


RULE = Rule(
    id="RSV-003", title="Cross-region restore on a vault with private endpoints", severity="Medium",
    subject="vaults",
    rationale="Seed: 'Cross-region restore for SQL and SAP HANA database backups aren't supported if the vault has "
              "private endpoints enabled.'",
    condition="the vault uses private endpoints and redundancySettings.crossRegionRestore is Enabled or its "
              "backupstorageconfig has crossRegionRestoreFlag true, unless it has an approved AzureBackup_secondary "
              "connection (the v2 experience's supported way)",
    remediation="Either create an AzureBackup_secondary private endpoint in the secondary region (new experience), or "
                "plan restores of SQL/SAP HANA without cross-region restore; the CRR setting itself cannot be "
                "turned off once enabled: az backup vault backup-properties show --subscription {subscription_id} "
                "--resource-group {resource_group} --name {resource_name}",
    applies=lambda v, p: v["uses_pe"],
    violates=lambda v, p: _crr_on(v) & ~v["secondary_approved"],
    message=lambda v, p: "crossRegionRestore=" + text(v["crr"]) + ", crossRegionRestoreFlag="
                         + v["crr_flag"].map({True: "true", False: "false"}).fillna("(absent)")
                         + ", approved AzureBackup_secondary connection: "
                         + v["secondary_approved"].map({True: "yes", False: "no"}),
    not_applicable="the vault has no backup private endpoint connection",
    # no evidence either way: crossRegionRestore absent (API versions before 2022) and no backupstorageconfig
    error=lambda v, p: pd.Series(None, index=v.index, dtype=object).mask(
        v["crr"].isna() & v["crr_flag"].isna(),
        "cross-region restore state unknown: export the vault's backup properties (az backup vault "
        "backup-properties show)"),
    reads=(arm.VAULT, arm.STORAGE_CONFIG),  # the vault lists its own connections: the verdict needs no PE listing
    mcsb=("NS-2", "BR-1"),
)
