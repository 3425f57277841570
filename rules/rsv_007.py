"""RSV-007: a vault that already protects items can no longer get private endpoints."""
from auditor import arm
from auditor.rule import Rule

RULE = Rule(
    id="RSV-007", title="Vault protects items and has no private endpoints: a new vault is needed",
    severity="Informational", subject="vaults",
    rationale="Seed: 'Private endpoints can be created for new Recovery Services vaults only (that doesn't have any "
              "items registered to the vault).'",
    condition="the vault has protected items and no backup private endpoint connection",
    remediation="Create a new vault with private endpoints before protecting items, and move protection to it: "
                "{fixes[RSV-007]}",
    applies=lambda v, p: ~v["uses_pe"] & v["protected_count"].notna(),
    violates=lambda v, p: v["protected_count"].fillna(0).astype(int) > 0,
    message=lambda v, p: v["protected_count"].astype(str) + " protected item(s), no backup private endpoint",
    not_applicable=lambda v, p: v["uses_pe"].map({True: "the vault already uses private endpoints",
                                                  False: "no protected-item data in the input"}),
    reads=(arm.VAULT, arm.PROTECTED_ITEM),
    policies={arm.POLICY_PRIVATE_LINK: "goes beyond"},
    mcsb=("NS-2",),
)
