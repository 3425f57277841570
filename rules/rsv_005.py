"""RSV-005: in the v1 experience the vault's system-assigned identity creates storage PEs and DNS records."""
from auditor import arm
from auditor.rule import NETWORK, Rule, text

RULE = Rule(
    id="RSV-005", title="Vault with private endpoints has no system-assigned identity", severity="High",
    subject="vaults",
    rationale="Seed: 'The managed identity assigned to the vault is used to automate the addition of DNS record "
              "whenever new storage account is allocated for backup data' and the vault 'requires permissions for "
              "creating additional private endpoints'.",
    condition="the vault uses private endpoints, is not v2, and has no system-assigned identity (identity absent, or "
              "its type does not include SystemAssigned)",
    remediation="Assign a system-assigned identity, then grant its principal the roles IAM-001 lists: {fixes[RSV-005]}",
    applies=lambda v, p: v["uses_pe"] & v["experience"].ne("v2"),
    violates=lambda v, p: ~v["system_identity"],
    message=lambda v, p: "identity type " + text(v["identity_type"]) + "; experience "
                         + v["experience"].map({"v1": "v1 (storage private endpoints exist)",
                                                "undetermined": "undetermined, judged as v1"}).fillna(v["experience"]),
    not_applicable=lambda v, p: v["uses_pe"].map({True: "v2 experience: no managed identity needed",
                                                  False: "the vault has no backup private endpoint connection"}),
    reads=(arm.VAULT,) + NETWORK,
    mcsb=("NS-2", "IM-3"),
    experience=True,
)
