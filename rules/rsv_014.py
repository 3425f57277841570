"""RSV-014: restores into other subscriptions (cross-subscription restore), disabled as f19b0c83 wants."""
from auditor import arm
from auditor.rule import Rule, text


def _violates(v, p):
    state = v["csr_state"].fillna("Enabled").astype(str).str.casefold()
    if str(p["required_state"]).casefold() == "permanentlydisabled":
        return state.ne("permanentlydisabled")
    return ~state.isin(("disabled", "permanentlydisabled"))


RULE = Rule(
    id="RSV-014", title="Cross-subscription restore not disabled", severity="Low", subject="vaults",
    rationale="f19b0c83: 'Disable or PermanentlyDisable Cross Subscription Restore for your Recovery Services vault "
              "so that restore targets cannot be in different subscription from the vault subscription.'",
    condition="restoreSettings.crossSubscriptionRestoreSettings.crossSubscriptionRestoreState is absent (= Enabled) "
              "or Enabled while `required_state` is Disabled (default; PermanentlyDisabled also passes); with "
              "`required_state` PermanentlyDisabled, anything else",
    remediation="az backup vault update --subscription {subscription_id} --resource-group {resource_group} --name "
                "{resource_name} --cross-subscription-restore-state Disable  (PermanentlyDisable is irreversible)",
    applies=lambda v, p: v["id"].notna(),
    violates=_violates,
    message=lambda v, p: "crossSubscriptionRestoreState=" + text(v["csr_state"], "(absent, counts as Enabled)")
                         + "; required_state=" + str(p["required_state"]),
    params={"required_state": "Disabled"},
    policies={arm.POLICY_CROSS_SUB_RESTORE: "matches"},
    mcsb=("BR-2",),
    references=("https://learn.microsoft.com/azure/backup/backup-azure-arm-restore-vms#cross-subscription-restore",),
)
