"""IAM-001: in v1 the vault's identity creates storage PEs and DNS records, and needs the roles to do it."""
from auditor import arm
from auditor.rule import NETWORK, Rule, join

RULE = Rule(
    id="IAM-001", title="Vault identity lacks the roles to create storage endpoints and DNS records",
    severity="Medium", subject="vaults",
    rationale="Seed: 'As a pre-requisite, Recovery Services vault requires permissions for creating additional "
              "private endpoints in the same Resource Group. We also recommend providing the Recovery Services vault "
              "the permissions to create DNS entries in the private DNS zones.'",
    condition="the vault uses private endpoints, is not v2, has a system-assigned identity, and its principal lacks "
              "(a) Contributor/Owner covering each backup PE's resource group, (b) Network Contributor/Contributor/"
              "Owner covering each backup PE's VNet, or (c) Private DNS Zone Contributor/Contributor/Owner covering "
              "the privatelink.blob/queue zone linked to each storage PE's VNet (custom roles count by their actions)",
    remediation="Grant the vault's identity each missing role at the scope it needs: {fixes[IAM-001]}",
    applies=lambda v, p: v["uses_pe"] & v["experience"].ne("v2") & v["system_identity"] & v["principal_id"].notna(),
    violates=lambda v, p: v["iam_missing"].map(len) > 0,
    message=lambda v, p: ("identity " + v["principal_id"].fillna("?") + " lacks " + join(v["iam_missing"])
                          + v["iam_group_note"]).where(v["iam_missing"].map(len) > 0,
                                                       "identity " + v["principal_id"].fillna("?")
                                                       + " holds the needed roles"),
    not_applicable=lambda v, p: (~v["uses_pe"]).map({True: "the vault has no backup private endpoint connection"})
    .fillna(v["experience"].eq("v2").map({True: "v2 experience: no managed identity needed",
                                          False: "the vault has no system-assigned identity (see RSV-005)"})),
    reads=(arm.VAULT, arm.ROLE_ASSIGNMENT, arm.ROLE_DEFINITION, arm.VNET_LINK, arm.ZONE) + NETWORK,
    needs=((arm.ROLE_ASSIGNMENT,),),
    mcsb=("IM-3", "PA-7"),
    experience=True,
)
