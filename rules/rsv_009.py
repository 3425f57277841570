"""RSV-009: cross-region restore with public access denied is unsupported."""
from auditor import arm
from auditor.rule import Rule, text


def _applies(v, p):
    return v["crr_on"] & (v["experience"].eq("v2") | (not p["only_v2"]))


RULE = Rule(
    id="RSV-009", title="Public access denied on a vault with cross-region restore", severity="Medium",
    subject="vaults",
    rationale="H2: 'Denial of public access is currently not supported for vaults that have cross-regions restore "
              "enabled.'",
    condition="cross-region restore is on (redundancySettings.crossRegionRestore Enabled or backupstorageconfig "
              "crossRegionRestoreFlag true) and properties.publicNetworkAccess is Disabled; every vault is judged "
              "unless `only_v2` (then v2 vaults only). RSV-001 is NotApplicable on these vaults",
    remediation="Allow public access while cross-region restore is on (the CRR setting cannot be turned off once "
                "enabled): az backup vault update --subscription {subscription_id} --resource-group {resource_group} "
                "--name {resource_name} --public-network-access Enable",
    applies=_applies,
    violates=lambda v, p: v["pna"].fillna("Enabled").str.casefold().eq("disabled"),
    message=lambda v, p: "cross-region restore on (crossRegionRestore=" + text(v["crr"]) + ", crossRegionRestoreFlag="
                         + v["crr_flag"].map({True: "true", False: "false"}).fillna("(absent)")
                         + "), publicNetworkAccess=" + text(v["pna"], "(absent, counts as Enabled)")
                         + (("; experience " + v["experience"]) if p["only_v2"] else ""),
    not_applicable=lambda v, p: v["crr_on"].map({True: "only_v2: the vault is not judged in the v2 experience",
                                                 False: "cross-region restore is off"}),
    reads=(arm.VAULT, arm.STORAGE_CONFIG),
    params={"only_v2": False},
    policies={arm.POLICY_PNA_AUDIT_DENY: "goes beyond", arm.POLICY_PNA_MODIFY: "goes beyond"},
    mcsb=("NS-2", "BR-1"),
    references=("https://learn.microsoft.com/azure/backup/backup-azure-private-endpoints-configure-manage",),
    experience=True,
)
