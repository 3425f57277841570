"""RSV-010: the vault's immutability (locked by default, as d6f6f560 checks)."""
from auditor import arm
from auditor.rule import Rule, text


def _violates(v, p):
    state = v["imm_state"].fillna("").astype(str).str.casefold()
    return ~state.isin(("unlocked", "locked")) | (state.ne("locked") if p["require_locked"] else False)


RULE = Rule(
    id="RSV-010", title="Vault immutability not enabled (or not locked)", severity="Medium", subject="vaults",
    rationale="IM: 'we recommend that after you're satisfied with the impact of immutability, you lock the vault to "
              "make the immutable vault settings irreversible'",
    condition="properties.securitySettings.immutabilitySettings.state is absent or not Unlocked/Locked; or "
              "`require_locked` (default true, = checkLockedImmutabilityOnly of d6f6f560) and it is not Locked",
    remediation="az backup vault update --subscription {subscription_id} --resource-group {resource_group} --name "
                "{resource_name} --immutability-state Locked  (Unlocked first to try it; locking is irreversible)",
    applies=lambda v, p: v["id"].notna(),
    violates=_violates,
    message=lambda v, p: "immutabilitySettings.state=" + text(v["imm_state"]) + "; require_locked="
                         + str(p["require_locked"]).lower(),
    params={"require_locked": True},
    policies={arm.POLICY_IMMUTABILITY: "matches"},
    mcsb=("BR-2",),
    references=("https://learn.microsoft.com/azure/backup/backup-azure-immutable-vault-concept",),
)
