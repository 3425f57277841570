"""The base estate every rule case starts from: one subscription, one clean v1 vault with its backup endpoint, three
storage endpoints, NICs, VNet, private DNS zones, records, links, zone group and roles, plus a second (hub)
subscription. Everything in it is Compliant or NotApplicable; each case patches in one condition."""
from __future__ import annotations

import copy
import sys
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import estate as E  # noqa: E402
from synth import Synth  # noqa: E402


@lru_cache(maxsize=2)
def _base(workloads: bool = False) -> tuple[list[dict], dict[str, str]]:
    s = Synth(seed=11)
    sub = s.subscription("prod")
    hub = s.subscription("hub")
    vid = s.v1_vault(sub, "rsv1", created="2023-01-01T00:00:00Z")
    if workloads:  # a protected SQL Server VM in a peered spoke, zones linked, NSGs (defaults only), a route table
        s.workload(vid, "vm1", peering="workload", nic_rules=[], subnet_rules=[],
                   routes=[("to-onprem", "192.168.0.0/16", "VirtualNetworkGateway", None)])
    s.finish()
    assert not s.expected, s.expected
    objs = s.objects
    by_type = lambda t: [o for o in objs if o.get("type") == t]  # noqa: E731
    pes = by_type("Microsoft.Network/privateEndpoints")
    pe = next(o["id"] for o in pes if o["name"] == "pe-rsv1")
    spe = {o["name"].rsplit("_", 2)[1][:3] + "_" + o["name"].rsplit("_", 1)[1]: o["id"] for o in pes if o["id"] != pe}
    vnet = by_type("Microsoft.Network/virtualNetworks")[0]
    zones = {o["name"]: o["id"] for o in by_type("Microsoft.Network/privateDnsZones")}
    vault = next(o for o in objs if o["id"] == vid)
    aliases = {
        "$sub": sub, "$hub": hub, "$vault": vid, "$pe": pe, "$spe_blob": spe["ecs_blob"], "$spe_queue": spe["ecs_queue"],
        "$spe_prot": spe["pro_blob"], "$vnet": vnet["id"], "$subnet": vnet["properties"]["subnets"][0]["id"],
        "$provider": f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices",
        "$hub_provider": f"/subscriptions/{hub}/providers/Microsoft.RecoveryServices",
        "$zone_backup": zones["privatelink.we.backup.windowsazure.com"],
        "$zone_blob": zones["privatelink.blob.core.windows.net"], "$zone_queue": zones["privatelink.queue.core.windows.net"],
        "$principal": vault["identity"]["principalId"], "$tenant": s.tenant, "$nic": pes[0]["properties"]["networkInterfaces"][0]["id"],
        "$rg": E.rg_id(sub, "rg-rsv1"),
    }
    pe_obj = next(o for o in pes if o["id"] == pe)
    fq0 = pe_obj["properties"]["customDnsConfigs"][0]["fqdn"]
    aliases["$record0"] = fq0.split(".privatelink.")[0]
    for i, cfg in enumerate(pe_obj["properties"]["customDnsConfigs"]):
        aliases[f"$record{i}"] = cfg["fqdn"].split(".privatelink.")[0]
    roles = {o["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]: o["id"] for o in by_type("Microsoft.Authorization/roleAssignments")}
    aliases.update({"$ra_rg": roles["b24988ac-6180-42a0-ab88-20f7382dd24c"], "$ra_vnet": roles["4d97b98b-1d4f-4787-a291-c67834d212e7"],
                    "$ra_dns": roles["b12aa53e-6015-4669-85d0-8515ebb3ae7f"]})
    for key in ("ecs_blob", "ecs_queue", "pro_blob"):
        o = next(p for p in pes if p["id"] == spe[key])
        aliases[f"${key}_acct"] = o["properties"]["customDnsConfigs"][0]["fqdn"].split(".")[0]
    # the hardening cases (RSV-012/013, PE-005): a Resource Guard in the hub, a subscription outside the audit
    aliases["$guard"] = f"/subscriptions/{hub}/resourceGroups/rg-security/providers/Microsoft.DataProtection/resourceGuards/guard1"
    aliases["$outside"] = "0b352192-dcac-4cc7-992e-a96190ccc68c"
    aliases["$pe_name"] = "pe-rsv1"
    if workloads:
        vm = next(o for o in objs if o.get("type") == "Microsoft.Compute/virtualMachines")
        nic = next(o for o in objs if o["id"] == vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"])
        ipc = nic["properties"]["ipConfigurations"][0]["properties"]
        spoke = next(o for o in by_type("Microsoft.Network/virtualNetworks") if o["name"] == "vnet-vm1")
        snet = spoke["properties"]["subnets"][0]
        aliases.update({
            "$vm": vm["id"], "$vm_nic": nic["id"], "$vm_ip": ipc["privateIPAddress"], "$vm_vnet": spoke["id"],
            "$vm_subnet": snet["id"], "$vm_prefix": snet["properties"]["addressPrefix"],
            "$nsg_nic": nic["properties"]["networkSecurityGroup"]["id"],
            "$nsg_subnet": snet["properties"]["networkSecurityGroup"]["id"],
            "$rt": snet["properties"]["routeTable"]["id"],
            "$container": next(o["id"] for o in by_type(
                "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers")),
            "$pe_prefix": vnet["properties"]["subnets"][0]["properties"]["addressPrefix"],
        })
    return objs, aliases


def base_estate(workloads: bool = False) -> tuple[list[dict], dict[str, str]]:
    """The base estate; ``workloads``: plus a protected VM (aliases $vm, $vm_nic, $vm_vnet, $nsg_nic ...)."""
    objs, aliases = _base(workloads)
    return copy.deepcopy(objs), dict(aliases)
