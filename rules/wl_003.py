"""WL-003: the protected VM must reach Microsoft Entra ID, which the private endpoint does not cover."""
from auditor import arm
from auditor.rule import Rule, join
from auditor.rules.wl_common import ENTRA_DOC, nsgs_missing


def _forced(w):
    return w["forced_tunnel"].map(lambda ip: f"; outbound forced through {ip}: the appliance must allow Microsoft "
                                             f"Entra ID too" if isinstance(ip, str) else "")


RULE = Rule(
    id="WL-003", title="NSG blocks the workload's outbound HTTPS to Microsoft Entra ID", severity="Medium",
    subject="workloads",
    rationale="Enhanced-experience documentation: 'Private endpoints for Azure Backup don't include access to "
              "Microsoft Entra ID ... You can also use network security group (NSG) tags and Azure Firewall tags for "
              "allowing access to Microsoft Entra ID'; seed: 'ensure that VMs that host SQL databases can reach "
              "Microsoft Entra IPs or FQDNs'.",
    condition="an NSG that applies to the workload's NIC (the NIC's or its subnet's) blocks outbound TCP 443 to "
              "Microsoft Entra ID: its first outbound rule by priority matching TCP 443 from the NIC's IP to *, "
              "0.0.0.0/0, Internet, AzureCloud or AzureActiveDirectory is a Deny",
    remediation="Add an outbound Allow for the service tag AzureActiveDirectory on TCP 443 above the Deny: az network "
                "nsg rule create --subscription <nsg-subscription> --resource-group <nsg rg> --nsg-name <nsg> --name "
                "AllowEntraIdOutbound --priority "
                "<lower than the Deny> --direction Outbound --access Allow --protocol Tcp --destination-port-ranges "
                "443 "
                "--destination-address-prefixes AzureActiveDirectory",
    applies=lambda w, p: w["in_input"],
    violates=lambda w, p: w["entra_blocks"].map(len) > 0,
    message=lambda w, p: ("outbound TCP 443 to Microsoft Entra ID denied by " + join(w["entra_blocks"])
                          ).where(w["entra_blocks"].map(len) > 0,
                                  ("outbound TCP 443 to Microsoft Entra ID allowed: " + join(w["entra_allows"])
                                   ).where(w["entra_allows"].map(len) > 0,
                                           "no NSG applies to the NIC or its subnet")) + _forced(w),
    error=nsgs_missing,
    reads=(arm.VM, arm.NIC, arm.VNET, arm.NSG),
    references=(ENTRA_DOC,),
    mcsb=("NS-2", "BR-1"),
)
