"""WL-004: the protected VM must reach the vault's private endpoint IPs on TCP 443."""
from auditor import arm
from auditor.rule import Rule, join
from auditor.rules.wl_common import ENTRA_DOC, nsgs_missing, short

RULE = Rule(
    id="WL-004", title="NSG blocks the workload's outbound HTTPS to the vault's private endpoints", severity="Medium",
    subject="workloads",
    rationale="Seed: 'all traffic for the Azure service must be redirected to the network interface' of the private "
              "endpoint; the workload extension reaches the vault and its storage on TCP 443 at those IPs.",
    condition="the vault uses private endpoints and an NSG that applies to the workload's NIC blocks outbound TCP 443 "
              "to one of the vault's endpoint IPs (destinations *, VirtualNetwork, or a CIDR holding the IP)",
    remediation="Allow outbound TCP 443 to the endpoints' subnet above the Deny: az network nsg rule create "
                "--subscription <nsg-subscription> --resource-group <nsg rg> --nsg-name <nsg> --name "
                "AllowBackupPrivateEndpoints --priority <lower than "
                "the Deny> --direction Outbound --access Allow --protocol Tcp --destination-port-ranges 443 "
                "--destination-address-prefixes <endpoint subnet prefix>",
    applies=lambda w, p: w["vault_uses_pe"] & (w["endpoint_ips"].map(len) > 0),
    violates=lambda w, p: w["pe_blocked_ips"].map(len) > 0,
    message=lambda w, p: ("outbound TCP 443 to endpoint IP(s) " + join(w["pe_blocks"])).where(
        w["pe_blocked_ips"].map(len) > 0,
        "outbound TCP 443 allowed to " + w["endpoint_ips"].map(len).astype(str) + " endpoint IP(s)"
        + short(w["nsg_ids"]).map(lambda s: f" (NSGs {s})" if s else " (no NSG applies)")),
    not_applicable=lambda w, p: w["vault_uses_pe"].map({True: "no endpoint IPs known for the vault's private "
                                                              "endpoints",
                                                        False: "the vault uses no private endpoints"}),
    error=nsgs_missing,
    reads=(arm.VM, arm.NIC, arm.VNET, arm.NSG, arm.PRIVATE_ENDPOINT),
    references=(ENTRA_DOC,),
    mcsb=("NS-2", "BR-1"),
)
