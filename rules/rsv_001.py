"""RSV-001: a vault reached through private endpoints must not also accept public traffic."""
from auditor import arm
from auditor.rule import Rule, text

RULE = Rule(
    id="RSV-001", title="Public network access not disabled on a vault with private endpoints", severity="High",
    subject="vaults",
    rationale="Seed: 'We recommend setting the public network access to Deny, along with private endpoint setup.'",
    condition="the vault uses private endpoints and properties.publicNetworkAccess is not Disabled (absent counts "
              "as Enabled); NotApplicable when cross-region restore is on, where denying public access is "
              "unsupported (RSV-009 speaks)",
    remediation="Once the vault has an approved backup private endpoint and its DNS records, zone links and role "
                "grants are in place (auditor plan orders it so): {fixes[RSV-001]} (portal: vault > Networking > "
                "Public access > Deny)",
    applies=lambda v, p: v["uses_pe"] & ~v["crr_on"],
    violates=lambda v, p: v["pna"].fillna("Enabled").str.casefold().ne("disabled"),
    message=lambda v, p: "publicNetworkAccess=" + text(v["pna"], "(absent, counts as Enabled)") + " with "
                         + v["n_backup"].astype(str) + " backup private endpoint connection(s)",
    not_applicable=lambda v, p: v["uses_pe"].map({
        True: "cross-region restore is on: denying public access is unsupported there (RSV-009 speaks)",
        False: "the vault has no backup private endpoint connection"}),
    reads=(arm.VAULT, arm.STORAGE_CONFIG),
    policies={arm.POLICY_PNA_AUDIT_DENY: "goes beyond", arm.POLICY_PNA_MODIFY: "goes beyond"},
    mcsb=("NS-2",),
)
