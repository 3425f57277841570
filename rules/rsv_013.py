"""RSV-013: customer-managed keys in a network-restricted key vault do not work on a vault with private endpoints."""
import pandas as pd

from auditor import arm
from auditor.rule import Rule, text


def _na(v, p):
    out = pd.Series("the vault uses no customer-managed key (no keyUri)", index=v.index, dtype=object)
    out = out.mask(v["key_uri"].notna() & v["kv_managed_hsm"], "the key is in a managed HSM: not covered")
    out = out.mask(v["key_uri"].notna() & ~v["kv_managed_hsm"] & v["kv_id"].isna() & v["kv_error"].isna(),
                   "key vault " + text(v["kv_host"]) + " is not in the input")
    return out.mask(~v["uses_pe"], "the vault has no backup private endpoint connection")


RULE = Rule(
    id="RSV-013", title="Customer-managed key in a network-restricted key vault on a vault with private endpoints",
    severity="High", subject="vaults",
    rationale="V2, V1: 'Customer-managed keys (CMKs) with a network-restricted key vault aren't supported with a "
              "vault that's enabled for private endpoints.'",
    condition="the vault uses private endpoints, properties.encryption.keyVaultProperties.keyUri is set, and the key "
              "vault it names (first label of the keyUri host, or its vaultUri host) has publicNetworkAccess "
              "Disabled, networkAcls.defaultAction Deny, or private endpoint connections",
    remediation="Use a key vault reachable by Azure Backup for the vault's key, or move the key: az backup vault "
                "encryption update --subscription {subscription_id} --resource-group {resource_group} --name "
                "{resource_name} --encryption-key-id <key URI in an unrestricted key vault>",
    applies=lambda v, p: v["uses_pe"] & v["key_uri"].notna() & ~v["kv_managed_hsm"]
    & (v["kv_id"].notna() | v["kv_error"].notna()),
    violates=lambda v, p: v["kv_restricted"],
    message=lambda v, p: "keyUri " + text(v["key_uri"]) + " in key vault " + text(v["kv_id"]) + ": "
                         + v["kv_evidence"].fillna(""),
    not_applicable=_na,
    error=lambda v, p: v["kv_error"],
    reads=(arm.VAULT, arm.KEY_VAULT),
    policies={arm.POLICY_CMK: "goes beyond", arm.POLICY_KV_FIREWALL: "goes beyond", arm.POLICY_KV_PNA: "goes beyond"},
    mcsb=("DP-5", "DP-8", "NS-2"),
    references=("https://learn.microsoft.com/azure/backup/backup-azure-private-endpoints-concept",
                "https://learn.microsoft.com/azure/backup/private-endpoints-overview"),
)
