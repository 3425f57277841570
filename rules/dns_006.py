"""DNS-006: custom DNS servers must forward the privatelink zones to Azure DNS."""
from auditor import arm
from auditor.rule import Rule, join

RULE = Rule(
    id="DNS-006", title="VNet of a backup endpoint uses custom DNS servers", severity="Informational",
    subject="vnets",
    rationale="Seed: 'If you've configured a DNS proxy server, using third-party proxy servers or firewalls, the "
              "above domain names must be allowed and redirected to a custom DNS (which has DNS records for the above "
              "FQDNs) or to 168.63.129.16 on Azure virtual network which has private DNS zones linked to it.'",
    condition="a virtual network that holds a backup or storage private endpoint has dhcpOptions.dnsServers set",
    remediation="Make the DNS servers forward {fixes[DNS-006]} to 168.63.129.16 (conditional forwarders), or hold "
                "the records; verify with auditor audit --resolve from inside the VNet",
    applies=lambda n, p: n["holds_pe"] & n["in_input"],
    violates=lambda n, p: n["dns_servers"].map(len) > 0,
    message=lambda n, p: ("custom DNS servers " + join(n["dns_servers"], ", ")
                          + ": they must forward the privatelink zones to 168.63.129.16 (endpoints "
                          + join(n["pe_names"], ", ") + ")").where(n["dns_servers"].map(len) > 0,
                                                                    "Azure-provided DNS"),
    not_applicable="holds no backup or storage private endpoint",
    reads=(arm.VNET, arm.PRIVATE_ENDPOINT),
    needs=((arm.VNET, arm.SUBNET),),
    mcsb=("NS-2", "NS-10"),
)
