"""The frameworks a rule maps to, as data: Azure Policy built-ins and Microsoft cloud security benchmark controls.

Each rule names the built-ins it ``matches`` (same condition) or ``goes beyond`` (checks what the built-in cannot see)
in ``Rule.policies`` and the MCSB v1 controls it supports in ``Rule.mcsb``; this module holds their names and links.

Sources: Azure Policy built-ins, Azure/azure-policy ``built-in-policies/policyDefinitions/Backup`` and ``Key Vault``
(GUID = the definition's ``name``; index: https://learn.microsoft.com/azure/backup/policy-reference). MCSB controls:
the Microsoft cloud security benchmark v1 (https://learn.microsoft.com/security/benchmark/azure/overview) and its
"Azure security baseline for Backup" (https://learn.microsoft.com/azure/backup/security-baseline), which maps Backup's
private link and public network access features to NS-2, customer-managed keys to DP-5, and backup protection to BR.
"""
from __future__ import annotations

from . import arm

POLICY_URL = "https://portal.azure.com/#view/Microsoft_Azure_Policy/PolicyDetailBlade/definitionId/" \
             "%2Fproviders%2FMicrosoft.Authorization%2FpolicyDefinitions%2F{guid}"

POLICIES = {
    arm.POLICY_PRIVATE_LINK: "[Preview]: Azure Recovery Services vaults should use private link for backup",
    arm.POLICY_PNA_AUDIT_DENY: "[Preview]: Azure Recovery Services vaults should disable public network access",
    arm.POLICY_PNA_MODIFY: "[Preview]: Configure Azure Recovery Services vaults to disable public network access",
    arm.POLICY_DNS_BACKUP: "[Preview]: Configure Recovery Services vaults to use private DNS zones for backup",
    arm.POLICY_DNS_ASR: "[Preview]: Configure Azure Recovery Services vaults to use private DNS zones",
    arm.POLICY_IMMUTABILITY: "[Preview]: Immutability must be enabled for Recovery Services vaults",
    arm.POLICY_SOFT_DELETE: "[Preview]: Soft delete must be enabled for Recovery Services Vaults.",
    arm.POLICY_MUA: "[Preview]: Multi-User Authorization (MUA) must be enabled for Recovery Services Vaults.",
    arm.POLICY_CROSS_SUB_RESTORE: "[Preview]: Disable Cross Subscription Restore for Azure Recovery Services vaults",
    arm.POLICY_CMK: "[Preview]: Azure Recovery Services vaults should use customer-managed keys for encrypting "
                    "backup data",
    arm.POLICY_KV_FIREWALL: "Azure Key Vault should have firewall enabled or public network access disabled",
    arm.POLICY_KV_PNA: "Azure Key Vault should disable public network access",
}

_MCSB = "https://learn.microsoft.com/security/benchmark/azure/"
MCSB = {
    "NS-2": ("Secure cloud native services with network controls",
             _MCSB + "mcsb-network-security#ns-2-secure-cloud-native-services-with-network-controls"),
    "NS-10": ("Ensure Domain Name System (DNS) security",
              _MCSB + "mcsb-network-security#ns-10-ensure-domain-name-system-dns-security"),
    "IM-3": ("Manage application identities securely and automatically",
             _MCSB + "mcsb-identity-management#im-3-manage-application-identities-securely-and-automatically"),
    "PA-1": ("Separate and limit highly privileged/administrative users",
             _MCSB + "mcsb-privileged-access#pa-1-separate-and-limit-highly-privilegedadministrative-users"),
    "PA-7": ("Follow just enough administration (least privilege) principle",
             _MCSB + "mcsb-privileged-access#pa-7-follow-just-enough-administration-least-privilege-principle"),
    "DP-5": ("Use customer-managed key option in data at rest encryption when required",
             _MCSB + "mcsb-data-protection#dp-5-use-customer-managed-key-option-in-data-at-rest-encryption-when-"
                     "required"),
    "DP-8": ("Ensure security of key and certificate repository",
             _MCSB + "mcsb-data-protection#dp-8-ensure-security-of-key-and-certificate-repository"),
    "BR-1": ("Ensure regular automated backups", _MCSB + "mcsb-backup-recovery#br-1-ensure-regular-automated-backups"),
    "BR-2": ("Protect backup and recovery data", _MCSB + "mcsb-backup-recovery#br-2-protect-backup-and-recovery-data"),
    "BR-4": ("Regularly test backup", _MCSB + "mcsb-backup-recovery#br-4-regularly-test-backup"),
}
MCSB_BASELINE = "https://learn.microsoft.com/azure/backup/security-baseline"
RELATIONS = ("matches", "goes beyond")


def policy_ids(rule) -> str:
    return ";".join(rule.policies)


def mcsb_controls(rule) -> str:
    return ";".join(rule.mcsb)


def describe(rule) -> list[str]:
    """Lines for ``auditor rules show``: each built-in with its relation, each control with its title."""
    lines = [f"Azure Policy {g} '{POLICIES.get(g, '?')}' ({rel})" for g, rel in rule.policies.items()]
    lines += [f"MCSB {c}: {MCSB[c][0]} ({MCSB[c][1]})" for c in rule.mcsb]
    return lines
