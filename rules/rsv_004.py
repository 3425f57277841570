"""RSV-004: a vault at the 12-endpoint limit cannot serve one more VNet."""
from auditor.rule import Rule

RULE = Rule(
    id="RSV-004", title="Vault at the private endpoint limit", severity="Low", subject="vaults",
    rationale="Seed: 'the maximum number of private endpoints that can be created for a vault is 12.'",
    condition="the vault has `limit` (default 12) or more distinct private endpoints connected (vault side and PE "
              "side, all groups but AzureBackup_secondary), or `limit` or more AzureBackup_secondary ones",
    remediation="Remove unused private endpoint connections (az network private-endpoint-connection list "
                "--subscription {subscription_id} --id {resource_id}) or consolidate VNets through peering; a further "
                "VNet needs a new vault",
    applies=lambda v, p: v["n_any_conn"] > 0,
    violates=lambda v, p: (v["n_primary"] >= p["limit"]) | (v["n_secondary"] >= p["limit"]),
    message=lambda v, p: v["n_primary"].astype(str) + " private endpoint(s) connected and "
                         + v["n_secondary"].astype(str) + " AzureBackup_secondary one(s); limit " + str(p["limit"]),
    not_applicable="the vault has no private endpoint connection",
    params={"limit": 12},
    mcsb=("NS-2",),
)
