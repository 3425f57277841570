"""WL-001: the protected VM resolves the vault's private names from the zones linked to *its own* VNet."""
from auditor import arm
from auditor.rule import Rule, join
from auditor.rules.wl_common import ENTRA_DOC, RESOLVE_NOTE, vnet

RULE = Rule(
    id="WL-001", title="Private DNS zones of the vault not linked to the workload's VNet", severity="High",
    subject="workloads",
    rationale="Seed: 'name resolution ... should return a private IP address'; a VM using Azure-provided DNS resolves "
              "through '168.63.129.16 on the Azure virtual network which has private DNS zones linked to it'.",
    condition="the vault uses private endpoints, the workload VNet is not an endpoint VNet, it uses Azure-provided DNS "
              "(no dhcpOptions.dnsServers), and for some zone name of the FQDNs of the vault's backup and storage "
              "endpoints no private DNS zone of that name is linked to the workload VNet",
    remediation="Link each missing zone to the workload's VNet: az network private-dns link vnet create "
                "--subscription <zone-subscription> --resource-group <zone rg> --zone-name <zone> --name <link> "
                "--virtual-network <workload vnet id> "
                "--registration-enabled false",
    applies=lambda w, p: w["vault_uses_pe"] & ~w["in_endpoint_vnet"] & ~w["custom_dns"]
                         & (w["endpoint_zones"].map(len) > 0),
    violates=lambda w, p: w["missing_zones"].map(len) > 0,
    message=lambda w, p: ("no private DNS zone linked to VNet " + vnet(w) + " for " + join(w["missing_zones"], ", ")
                          ).where(w["missing_zones"].map(len) > 0,
                                  "zones linked to VNet " + vnet(w) + ": " + join(w["linked_zones"], ", ")),
    not_applicable=lambda w, p: w["vault_uses_pe"].map({True: "no FQDNs known for the vault's private endpoints",
                                                        False: "the vault uses no private endpoints"}).mask(
        w["vault_uses_pe"] & w["custom_dns"],
        "the workload VNet uses custom DNS servers (" + join(w["dns_servers"], ", ") + "): " + RESOLVE_NOTE).mask(
        w["vault_uses_pe"] & w["in_endpoint_vnet"], "the workload is in an endpoint VNet (DNS-004 covers it)"),
    reads=(arm.VM, arm.NIC, arm.VNET, arm.PRIVATE_ENDPOINT, arm.ZONE, arm.VNET_LINK),
    needs=((arm.VNET_LINK,),),
    references=(ENTRA_DOC,),
    mcsb=("NS-2", "NS-10"),
)
