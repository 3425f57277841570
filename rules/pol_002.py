"""POL-002: the Site Recovery private DNS policy assigned as if it configured Backup's private endpoints."""
from auditor import arm
from auditor.rule import Rule
from auditor.rules.pol_common import READS, predicates

RULE = Rule(
    id="POL-002", title="Site Recovery private DNS policy where Backup's is missing", severity="Low",
    subject="assignments",
    rationale="942bd215's if only counts privateLinkServiceConnections[*].groupIds[*] equal to AzureSiteRecovery "
              "(Azure Policy built-in); 'The built-in policies are resource specific, as you may be aware Backup and "
              "Recovery Service Vaults behave slightly differently.' (Azure/Enterprise-Scale#1501, maintainer)",
    condition="an enforced assignment applies 942bd215 (Configure Azure Recovery Services vaults to use private DNS "
              "zones) with effect DeployIfNotExists and covers a private endpoint af783da1 would act on that no "
              "enforced DeployIfNotExists assignment of af783da1 (or of a definition in `backup_dns_definitions`) "
              "covers",
    remediation="942bd215 only configures AzureSiteRecovery endpoints: assign af783da1 (Configure Recovery Services "
                "vaults to use private DNS zones for backup) over the same scope, one per region: az policy "
                "assignment create --name <new-assignment-name> --policy af783da1-4ad1-42be-800d-d19c70038820 "
                "--scope {scope} --location <region> --mi-system-assigned --params '{{\"privateDnsZone-Backup\": {{\"value\": "
                "\"<backup-zone-id-of-the-region>\"}}}}'",
    **predicates("POL-002"),
    reads=READS,
    mcsb=("NS-10",),
    policies={arm.POLICY_DNS_ASR: "goes beyond", arm.POLICY_DNS_BACKUP: "goes beyond"},
    references=("https://github.com/Azure/Enterprise-Scale/issues/1501",
                "https://learn.microsoft.com/azure/backup/backup-azure-private-endpoints-concept"),
    params={"backup_dns_definitions": []},
)
