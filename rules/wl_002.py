"""WL-002: the protected VM's VNet must reach the vault's private endpoints: the same VNet, or peered with it."""
from auditor import arm
from auditor.rule import Rule, join
from auditor.rules.wl_common import ENTRA_DOC, reach, short, vnet

RULE = Rule(
    id="WL-002", title="Workload VNet neither holds nor is peered with the vault's private endpoints", severity="High",
    subject="workloads",
    rationale="Seed: 'file recovery ... restricted to virtual networks that contain a private endpoint for the vault'; "
              "'Changed virtual network for a private endpoint in the vault and virtual machine: stop backup "
              "protection and configure backup protection in a new vault'.",
    condition="the vault uses private endpoints and the workload VNet is neither an endpoint VNet nor peered "
              "(Connected, either side) with one, and no route of the workload subnet's route table that holds an "
              "endpoint IP goes to a VirtualAppliance or VirtualNetworkGateway (such a route: NotApplicable)",
    remediation="Peer the workload VNet with an endpoint VNet (both sides): az network vnet peering create "
                "--subscription {subscription_id} --resource-group <rg> --vnet-name <workload vnet> --name <peering> "
                "--remote-vnet <endpoint vnet id> "
                "--allow-vnet-access; or create a private endpoint for the vault in the workload VNet",
    applies=lambda w, p: w["vault_uses_pe"] & (w["endpoint_vnets"].map(len) > 0)
                         & (reach(w) | (w["forwarding_routes"].map(len) == 0)),
    violates=lambda w, p: ~reach(w),
    message=lambda w, p: ("VNet " + vnet(w) + " is neither an endpoint VNet (" + short(w["endpoint_vnets"])
                          + ") nor peered with one" + join(w["peering_notes"]).map(lambda s: f"; {s}" if s else "")
                          ).mask(w["peered_with"].map(len) > 0,
                                 "VNet " + vnet(w) + " is peered with " + join(w["peered_with"], ", ")
                                 ).mask(w["in_endpoint_vnet"], "the workload is in endpoint VNet " + vnet(w)),
    not_applicable=lambda w, p: w["vault_uses_pe"].map({True: "the VNets of the vault's private endpoints are not "
                                                              "in the input",
                                                        False: "the vault uses no private endpoints"}).mask(
        w["forwarding_routes"].map(len) > 0, "reached through " + join(w["forwarding_routes"])
        + ": not verifiable from configuration"),
    error=lambda w, p: ("route table " + w["route_table_id"].fillna("?").astype(str)
                        + " of the workload subnet is not in the input").where(w["route_table_missing"] & ~reach(w),
                                                                               None),
    reads=(arm.VM, arm.NIC, arm.VNET, arm.VNET_PEERING, arm.ROUTE_TABLE, arm.PRIVATE_ENDPOINT),
    references=(ENTRA_DOC,),
    mcsb=("NS-2", "BR-1"),
)
