"""RSV-011: soft delete (always-on by default, as 31b8092a checks) and its retention."""
import pandas as pd

from auditor import arm
from auditor.rule import Rule, text


def _days(v):
    return pd.to_numeric(v["sd_days"], errors="coerce").fillna(14)


def _violates(v, p):
    state = v["sd_state"].fillna("").astype(str).str.casefold()   # RS spells AlwaysON, the built-in AlwaysOn
    bad = ~state.isin(("enabled", "alwayson")) | (state.ne("alwayson") if p["require_always_on"] else False)
    return bad | (_days(v) < p["min_retention_days"])


RULE = Rule(
    id="RSV-011", title="Vault soft delete not always-on (or retention too short)", severity="Medium",
    subject="vaults",
    rationale="SD: 'You can choose a soft-delete retention period of 14 to 180 days.'; always-on soft delete cannot be "
              "disabled, so deleted backups stay recoverable for that period",
    condition="properties.securitySettings.softDeleteSettings.softDeleteState is absent or not Enabled/AlwaysON; or "
              "`require_always_on` (default true, = checkAlwaysOnSoftDeleteOnly of 31b8092a) and it is not AlwaysON "
              "(compared case-insensitively); or softDeleteRetentionPeriodInDays (absent = 14) < `min_retention_days` "
              "(default 14). enhancedSecurityState is reported, not judged",
    remediation="az backup vault backup-properties set --subscription {subscription_id} --resource-group "
                "{resource_group} --name {resource_name} --soft-delete-state AlwaysON --soft-delete-duration <days>",
    applies=lambda v, p: v["id"].notna(),
    violates=_violates,
    message=lambda v, p: "softDeleteState=" + text(v["sd_state"]) + ", softDeleteRetentionPeriodInDays="
                         + text(v["sd_days"], "(absent, 14)") + ", enhancedSecurityState=" + text(v["sd_enhanced"])
                         + "; require_always_on=" + str(p["require_always_on"]).lower() + ", min_retention_days="
                         + str(p["min_retention_days"]),
    params={"require_always_on": True, "min_retention_days": 14},
    policies={arm.POLICY_SOFT_DELETE: "matches"},
    mcsb=("BR-2",),
    references=("https://learn.microsoft.com/azure/backup/backup-azure-enhanced-soft-delete-about",),
)
