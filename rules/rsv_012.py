"""RSV-012: multi-user authorization, and the Resource Guard kept out of the backup admins' hands."""
import pandas as pd

from auditor import arm
from auditor.model.hardening import group_note, guard_conflicts
from auditor.rule import Rule, join, text


def _violates(v, p):
    other_sub = v["guard_same_sub"] if p["require_other_subscription"] else False
    return ~v["mua_on"] | (guard_conflicts(v, p["admin_roles"]).map(len) > 0) | (v["mua_on"] & other_sub)


def _message(v, p):
    conflicts = guard_conflicts(v, p["admin_roles"])
    head = ("multiUserAuthorization=" + text(v["mua_field"], "(absent)") + ", MUA "
            + v["mua_on"].map({True: "on", False: "off"}) + ", resource guard " + text(v["guard_id"], "(none known)"))
    same = pd.Series("", index=v.index, dtype=object).mask(
        v["mua_on"] & v["guard_same_sub"] & p["require_other_subscription"], "; the guard is in the vault's subscription")
    found = ("; " + join(conflicts)).where(conflicts.map(len) > 0, "")
    return head + found + same + v["mua_note"].fillna("") + group_note(v)


RULE = Rule(
    id="RSV-012", title="Multi-user authorization off, or a backup admin also controls the Resource Guard",
    severity="Medium", subject="vaults",
    rationale="MU: 'The backup admin must not have Contributor, Backup MUA Admin, or Backup MUA Operator permissions "
              "for Resource Guard in any scenario. These permissions override the MUA protection on the vault.'",
    condition="(a) securitySettings.multiUserAuthorization is not Enabled (absent: MUA counts as on iff a "
              "backupResourceGuardProxies item names a resourceGuardResourceId); (b) MUA on and a principal holds a "
              "vault-admin role (`admin_roles`) covering the vault and Contributor, Backup MUA Admin, Backup MUA "
              "Operator or Owner covering its Resource Guard (active assignments, groups not expanded; not evaluated "
              "when the guard's subscription is outside the audit); (c) `require_other_subscription` and the guard "
              "is in the vault's subscription",
    remediation="Enable MUA with a Resource Guard owned by a separate security admin: az backup vault "
                "resource-guard-mapping update --subscription {subscription_id} --resource-group {resource_group} "
                "--name {resource_name} --resource-guard-id <guard-id>; remove guard roles from backup admins: az role "
                "assignment delete --subscription <guard-subscription> --assignee <principal-id> --scope <guard-scope>",
    applies=lambda v, p: v["id"].notna(),
    violates=_violates,
    message=_message,
    error=lambda v, p: v["mua_error"],
    reads=(arm.VAULT, arm.GUARD_PROXY),
    params={"admin_roles": ["Owner", "Contributor", "Backup Contributor", "Backup Operator"],
            "require_other_subscription": False},
    policies={arm.POLICY_MUA: "goes beyond"},
    mcsb=("BR-2", "PA-1", "PA-7"),
    references=("https://learn.microsoft.com/azure/backup/multi-user-authorization-concept",),
)
