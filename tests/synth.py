"""Seeded synthetic estates with planted defects and their exact expected findings.

``Synth`` builds realistic Azure Backup private-endpoint estates out of :mod:`estate`'s ARM objects: v1 vaults (the
seed's experience: storage endpoints ``<pe>_ecs…_blob``/``_queue`` created by the vault identity, zones in the
vault's subscription), v2 vaults (storage FQDNs on the vault's own endpoint, zones in a hub subscription), and vaults
without endpoints. Each defect is planted so that exactly one (rule, subject) becomes NonCompliant, and ``expected``
records it: the ground truth the demo test, the rule tests and the benchmark compare the auditor against.

    python tests/synth.py demo > auditor/data/demo.json         # the built-in demo estate
    python tests/synth.py --vaults 4000 --seed 7 > big.json      # a large estate (benchmarks)
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estate as E  # noqa: E402

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
DNS_ZONE_CONTRIBUTOR = "b12aa53e-6015-4669-85d0-8515ebb3ae7f"
BACKUP_CONTRIBUTOR = "5e467623-bb1f-42f4-a55d-6e525e11384b"
BACKUP_MUA_ADMIN = "c2a970b4-16a7-4a51-8c84-8a8ea6ee0bb8"
BACKUP_MUA_OPERATOR = "f54b6d04-23c6-443e-b462-9c16ab7b4a52"
GEO = {"westeurope": "we", "northeurope": "ne", "eastus": "eus"}
V1_DEFECTS = ("public", "crr", "crr_flag", "no_identity", "moved_tenant", "pending", "failed", "storage_failed",
              "small_subnet", "missing_record", "missing_storage_record", "stale", "unlinked", "foreign_zone_group",
              "custom_dns", "missing_role", "many_pes")
V2_DEFECTS = ("public", "pending", "failed", "missing_record", "stale", "unlinked", "crr", "moved_tenant")


class Synth:
    def __init__(self, seed: int = 1, tenant: str = "72f988bf-86f1-41af-91ab-2d7cd011db47"):
        self.rng = random.Random(seed)
        self.hrng = random.Random(seed + 1)   # the hardening plants draw from their own stream: the rest stays as it was
        self.tenant = tenant
        self.objects: list[dict] = []
        self.expected: set[tuple[str, str]] = set()
        self.subs: dict[str, dict] = {}
        self.net_index = 0
        self.linked: set[tuple[str, str]] = set()
        self.nets: dict[str, dict] = {}   # vault id -> its endpoint VNet, subnet prefix and zone ids (workloads)

    # ------------------------------------------------------------------ helpers
    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hguid(self) -> str:
        return str(uuid.UUID(int=self.hrng.getrandbits(128), version=4))

    def add(self, *objs: dict) -> None:
        self.objects.extend(objs)

    def expect(self, rule: str, rid: str) -> None:
        self.expected.add((rule, rid.lower()))

    def subscription(self, name: str, *, registered: str = "Registered", hub: bool = False) -> str:
        sub = self.guid()
        self.subs[sub] = {"zones": {}, "name": name, "registered": registered, "vault_dates": [], "pe_vault": False,
                          "events": []}
        self.add(E.subscription(sub, self.tenant, name), E.provider(sub, registered))
        if registered.lower() != "registered":
            self.subs[sub]["unregistered"] = True
        return sub

    def zone(self, sub: str, name: str) -> str:
        zones = self.subs[sub]["zones"]
        if name not in zones:
            z = E.zone(sub, "rg-private-dns", name)
            zones[name] = z["id"]
            self.add(z)
        return zones[name]

    def link(self, zone_id: str, vnet_id: str) -> None:
        if (zone_id, vnet_id) not in self.linked:
            self.linked.add((zone_id, vnet_id))
            self.add(E.vnet_link(zone_id, f"link-{vnet_id.rsplit('/', 1)[-1]}", vnet_id))

    def network(self, sub: str, rg: str, name: str, prefix_len: int, dns: list[str] | None, nic_ipcs: list[str]):
        self.net_index += 1
        a, b = divmod(self.net_index, 250)
        base = f"10.{a % 250}.{b}.0"
        prefix = f"{base}/{prefix_len}"
        vid = f"{E.rg_id(sub, rg)}/providers/Microsoft.Network/virtualNetworks/{name}"
        snid = f"{vid}/subnets/snet-pe"
        return vid, snid, prefix, (lambda cfgs: E.vnet(sub, rg, name, prefix=f"{base}/24",
                                                       subnets=[("snet-pe", prefix, cfgs)], dns_servers=dns))

    # ------------------------------------------------------------------ hardening (RSV-008..014, PE-004/005)
    def guard(self, sub: str) -> str:
        """The estate's Resource Guard (one per subscription), owned by a security admin who holds no vault role."""
        key = ("guard", sub)
        if key not in self.subs[sub]:
            g = E.resource_guard(sub, "rg-security", "rg-guard")
            self.subs[sub][key] = g["id"]
            self.add(g, E.role_assignment(g["id"], self.hguid(), BACKUP_MUA_ADMIN, principal_type="User", sub=sub))
        return self.subs[sub][key]

    def harden(self, v: dict, hard: set[str], *, guard_sub: str | None = None, pe: dict | None = None) -> None:
        """Plant the hardening defects (and the traps around them) on a vault object, with their expectations.

        imm_unlocked/sd_enabled/sd_short/mua_off/csr_enabled/csr_absent: one vault setting each; proxy: MUA through a
        Resource Guard in ``guard_sub``; guard_admin: a backup admin who also holds Backup MUA Operator on that guard;
        guard_outside: the guard lives in a subscription the audit does not hold; mua_field_absent: the vault shows
        no multiUserAuthorization (older API versions), MUA is read from its proxy; cmk_restricted/cmk_open/cmk_hsm: a
        customer-managed key in a network-restricted key vault, an open one, a managed HSM; static_ip: the vault's
        PE in the static-IP form; dup_pe_name: a second backup PE of the vault, with the same name, known by reference.
        """
        vid, props = v["id"], v["properties"]
        sec, sub = props["securitySettings"], vid.split("/")[2]
        rg = vid.split("/")[4]
        if "imm_unlocked" in hard:
            sec["immutabilitySettings"]["state"] = "Unlocked"
            self.expect("RSV-010", vid)
        if "sd_enabled" in hard:
            sec["softDeleteSettings"]["softDeleteState"] = "Enabled"
            self.expect("RSV-011", vid)
        if "sd_short" in hard:  # AlwaysOn as the built-in spells it (case trap) but 7 days
            sec["softDeleteSettings"].update(softDeleteState="AlwaysOn", softDeleteRetentionPeriodInDays=7)
            self.expect("RSV-011", vid)
        if "mua_off" in hard:
            sec["multiUserAuthorization"] = "Disabled"
            self.expect("RSV-012", vid)
        if "csr_enabled" in hard:
            props["restoreSettings"]["crossSubscriptionRestoreSettings"]["crossSubscriptionRestoreState"] = "Enabled"
            self.expect("RSV-014", vid)
        if "proxy" in hard or "guard_admin" in hard or "guard_outside" in hard:
            if "guard_outside" in hard:   # a guard in a subscription outside the audit: (b) is not evaluated
                gid = E.resource_guard(self.hguid(), "rg-security", "rg-guard-tenant-sec")["id"]
            else:
                gid = self.guard(guard_sub or sub)
            self.add(E.guard_proxy(vid, gid))
            if "mua_field_absent" in hard:
                sec.pop("multiUserAuthorization")   # older API versions: MUA read from the proxy
            if "guard_admin" in hard:
                admin = self.hguid()
                self.add(E.role_assignment(E.rg_id(sub, rg), admin, BACKUP_CONTRIBUTOR, principal_type="User", sub=sub),
                         E.role_assignment(gid, admin, BACKUP_MUA_OPERATOR, principal_type="User",
                                           sub=gid.split("/")[2]))
                self.expect("RSV-012", vid)
        kv_name = f"kv-{v['name']}"[:24]
        if "cmk_restricted" in hard or "cmk_open" in hard:
            restricted = "cmk_restricted" in hard
            self.add(E.key_vault(sub, "rg-keys", kv_name, default_action="Deny" if restricted else "Allow"))
            props["encryption"] = {"infrastructureEncryption": "Disabled", "kekIdentity": {
                "useSystemAssignedIdentity": True}, "keyVaultProperties": {
                "keyUri": f"https://{kv_name}.vault.azure.net/keys/backup-cmk/0767b348bb1a4c07baa6c4ec0055d2b3"}}
            if restricted and props["privateEndpointConnections"]:
                self.expect("RSV-013", vid)
        if "cmk_hsm" in hard:   # a managed HSM key: not covered (NotApplicable), even though a same-named vault exists
            self.add(E.key_vault(sub, "rg-keys", kv_name, pna="Disabled"))
            props["encryption"] = {"keyVaultProperties": {
                "keyUri": f"https://{kv_name}.managedhsm.azure.net/keys/backup-cmk/0767b348bb1a4c07baa6c4ec0055d2b3"}}
        if "static_ip" in hard and pe is not None:
            pe["properties"]["ipConfigurations"] = [
                {"name": "pestaticconfig", "properties": {"groupId": "AzureBackup", "memberName": "default",
                                                          "privateIPAddress": pe["properties"]["customDnsConfigs"][0][
                                                              "ipAddresses"][0]}}]
            self.expect("PE-004", pe["id"])
        if "dup_pe_name" in hard and pe is not None:
            other = E.pe_id(self.hguid(), "rg-branch", pe["name"])   # the same name in a subscription not exported
            props["privateEndpointConnections"].append(E.vault_connection(vid, other))
            self.expect("PE-005", pe["id"])
            self.expect("PE-005", other)

    # ------------------------------------------------------------------ vaults
    def v1_vault(self, sub: str, name: str, defects: set[str] = frozenset(), *, location: str = "westeurope",
                 created: str = "2023-03-01T10:00:00Z", hub: str | None = None, hard: set[str] = frozenset()) -> str:
        geo = GEO[location]
        rg, net_rg = f"rg-{name}", f"rg-net-{name}"
        dns = ["10.200.0.4", "10.200.0.5"] if "custom_dns" in defects else None
        vnet_id, snet, prefix, make_vnet = self.network(sub, net_rg, f"vnet-{name}",
                                                        28 if "small_subnet" in defects else 26, dns, [])
        ips = E.hosts(prefix)
        vid = f"{E.rg_id(sub, rg)}/providers/Microsoft.RecoveryServices/vaults/{name}"
        pe_name = f"pe-{name}"
        pid = E.pe_id(sub, rg, pe_name)
        conns = [E.vault_connection(vid, pid, status="Pending" if "pending" in defects else "Approved")]
        if "many_pes" in defects:
            for i in range(11):
                other = E.pe_id(sub, f"rg-asr-{name}", f"pe-asr-{i}")
                conns.append(E.vault_connection(vid, other, group="AzureSiteRecovery"))
        principal = self.guid()
        v = E.vault(sub, rg, name, location=location, pna="Enabled" if "public" in defects else "Disabled",
                    identity=None if "no_identity" in defects else "SystemAssigned", principal=principal,
                    tenant=self.guid() if "moved_tenant" in defects else self.tenant, connections=conns,
                    crr="Enabled" if "crr" in defects else "Disabled", created=created)
        self.add(v)
        self.subs[sub]["vault_dates"].append(created)
        self.subs[sub]["pe_vault"] = True
        self.add(E.storage_config(vid, True if "crr_flag" in defects else False))
        vguid = self.guid()
        backup_fqdns = [(f"{vguid}-ab-pod01-{svc}.privatelink.{geo}.backup.windowsazure.com", next(ips))
                        for svc in ("fc1", "ecs1", "id1", "prot1", "rec2")]
        nic_cfgs = []
        pe = E.private_endpoint(sub, rg, pe_name, subnet_id=snet, target=vid, fqdns=backup_fqdns,
                                provisioning="Failed" if "failed" in defects else "Succeeded", location=location)
        n = E.nic(sub, rg, f"{pe_name}.nic.{vguid[:8]}", subnet_id=snet, pe=pid,
                  ips=[(ip, [f]) for f, ip in backup_fqdns])
        pe["properties"]["networkInterfaces"] = [{"id": n["id"]}]
        nic_cfgs += [c["id"] for c in n["properties"]["ipConfigurations"]]
        self.add(pe, n)
        bzone = self.zone(sub, f"privatelink.{geo}.backup.windowsazure.com")
        if "unlinked" not in defects:
            self.link(bzone, vnet_id)
        for i, (f, ip) in enumerate(backup_fqdns):
            if i == 0 and "missing_record" in defects:
                continue
            self.add(E.a_record(bzone, f.split(".privatelink.")[0], ["10.254.254.254"] if i == 1 and "stale" in defects else [ip]))
        # storage endpoints the vault identity created
        storage = []
        for kind, svc in (("ecs", "blob"), ("ecs", "queue"), ("prot", "blob")):
            acct = f"{kind}{self.rng.getrandbits(40):010x}"[:16]
            sname = f"{pe_name}_{kind}{self.rng.getrandbits(32):08x}_{svc}"
            sid = E.pe_id(sub, rg, sname)
            ip = next(ips)
            fq = f"{acct}.{svc}.core.windows.net"
            failed = "storage_failed" in defects and not storage
            spe = E.private_endpoint(sub, rg, sname, subnet_id=snet,
                                     target=f"/subscriptions/{sub}/resourceGroups/rg-backup-storage/providers/"
                                            f"Microsoft.Storage/storageAccounts/{acct}", group=svc, fqdns=[(fq, ip)],
                                     provisioning="Failed" if failed else "Succeeded", location=location)
            sn = E.nic(sub, rg, f"{sname}.nic", subnet_id=snet, pe=sid, ips=[(ip, [fq])])
            spe["properties"]["networkInterfaces"] = [{"id": sn["id"]}]
            nic_cfgs += [c["id"] for c in sn["properties"]["ipConfigurations"]]
            self.add(spe, sn)
            z = self.zone(sub, f"privatelink.{svc}.core.windows.net")
            self.link(z, vnet_id)
            if not ("missing_storage_record" in defects and svc == "queue"):
                self.add(E.a_record(z, acct, [ip]))
            elif True:
                self.expect("DNS-002", sid)
            if failed:
                self.expect("PE-002", sid)
            storage.append(sid)
        self.add(make_vnet(nic_cfgs))
        zg_zone = bzone
        if "foreign_zone_group" in defects:
            zg_zone = self.zone(hub, f"privatelink.{geo}.backup.windowsazure.com")
        self.add(E.zone_group(pid, [zg_zone]))
        if "no_identity" not in defects:
            self.add(E.role_assignment(E.rg_id(sub, rg), principal, CONTRIBUTOR, sub=sub))
            if "missing_role" not in defects:
                self.add(E.role_assignment(vnet_id, principal, NETWORK_CONTRIBUTOR, sub=sub))
            self.add(E.role_assignment(E.rg_id(sub, "rg-private-dns"), principal, DNS_ZONE_CONTRIBUTOR, sub=sub))
        self.nets[vid] = {"vnet": vnet_id, "prefix": prefix, "sub": sub, "zones": [bzone] + [
            self.subs[sub]["zones"][f"privatelink.{svc}.core.windows.net"] for svc in ("blob", "queue")]}
        self.harden(v, hard, guard_sub=hub, pe=pe)
        crr_on = "crr" in defects or "crr_flag" in defects
        self.crr_and_public(vid, crr_on, "public" in defects, approved="pending" not in defects)
        for d, rule, rid in (("crr", "RSV-003", vid), ("crr_flag", "RSV-003", vid),
                             ("no_identity", "RSV-005", vid), ("moved_tenant", "RSV-006", vid),
                             ("pending", "PE-001", pid), ("failed", "PE-002", pid), ("small_subnet", "PE-003", snet),
                             ("stale", "DNS-003", pid), ("foreign_zone_group", "DNS-005", pid),
                             ("custom_dns", "DNS-006", vnet_id), ("missing_role", "IAM-001", vid),
                             ("many_pes", "RSV-004", vid)):
            if d in defects:
                self.expect(rule, rid)
        if "custom_dns" not in defects:
            if "missing_record" in defects:
                self.expect("DNS-001", pid)
            if "unlinked" in defects:
                self.expect("DNS-004", pid)
        return vid

    def v2_vault(self, sub: str, name: str, hub: str, defects: set[str] = frozenset(), *,
                 location: str = "westeurope", secondary: bool = False, created: str = "2024-06-01T09:00:00Z",
                 hard: set[str] = frozenset()) -> str:
        geo = GEO[location]
        rg, net_rg = f"rg-{name}", f"rg-net-{name}"
        vnet_id, snet, prefix, make_vnet = self.network(sub, net_rg, f"vnet-{name}", 26, None, [])
        ips = E.hosts(prefix)
        vid = f"{E.rg_id(sub, rg)}/providers/Microsoft.RecoveryServices/vaults/{name}"
        pe_name = f"pe-{name}"
        pid = E.pe_id(sub, rg, pe_name)
        conns = [E.vault_connection(vid, pid, status="Pending" if "pending" in defects else "Approved")]
        objs = []
        if secondary:
            sec_id = E.pe_id(sub, rg, f"{pe_name}-secondary")
            conns.append(E.vault_connection(vid, sec_id, group="AzureBackup_secondary"))
        v = E.vault(sub, rg, name, location=location, pna="Enabled" if "public" in defects else "Disabled",
                    identity="SystemAssigned", principal=self.guid(),
                    tenant=self.guid() if "moved_tenant" in defects else self.tenant,
                    connections=conns, crr="Enabled" if ("crr" in defects or secondary) else "Disabled",
                    created=created)
        self.add(v)
        self.subs[sub]["vault_dates"].append(created)
        self.subs[sub]["pe_vault"] = True
        self.add(E.storage_config(vid, None))
        vguid = self.guid()
        fqdns = [(f"{vguid}-ab-pod01-{svc}.privatelink.{geo}.backup.windowsazure.com", next(ips))
                 for svc in ("fc1", "id1", "rec2")]
        acct = f"zrs{self.rng.getrandbits(40):010x}"
        fqdns += [(f"{acct}.blob.core.windows.net", next(ips)), (f"{acct}.queue.core.windows.net", next(ips))]
        pe = E.private_endpoint(sub, rg, pe_name, subnet_id=snet, target=vid, fqdns=fqdns,
                                provisioning="Failed" if "failed" in defects else "Succeeded", location=location)
        n = E.nic(sub, rg, f"{pe_name}.nic.{vguid[:8]}", subnet_id=snet, pe=pid, ips=[(ip, [f]) for f, ip in fqdns])
        pe["properties"]["networkInterfaces"] = [{"id": n["id"]}]
        objs += [pe, n, make_vnet([c["id"] for c in n["properties"]["ipConfigurations"]])]
        zones = []
        for i, (f, ip) in enumerate(fqdns):
            zname = f.split(".", 1)[1] if ".privatelink." not in f else f.split(".", 1)[1]
            if not zname.startswith("privatelink."):
                zname = "privatelink." + zname
            z = self.zone(hub, zname)
            if z not in zones:
                zones.append(z)
                if not ("unlinked" in defects and i == 0):
                    self.link(z, vnet_id)
            if i == 0 and "missing_record" in defects:
                continue
            objs.append(E.a_record(z, f.split(".")[0], ["10.254.254.253"] if i == 1 and "stale" in defects else [ip]))
        objs.append(E.zone_group(pid, zones))
        self.add(*objs)
        self.nets[vid] = {"vnet": vnet_id, "prefix": prefix, "sub": sub, "zones": zones}
        self.harden(v, hard, guard_sub=hub, pe=pe)
        self.crr_and_public(vid, "crr" in defects or secondary, "public" in defects, approved="pending" not in defects)
        for d, rule, rid in (("pending", "PE-001", pid), ("failed", "PE-002", pid),
                             ("missing_record", "DNS-001", pid), ("stale", "DNS-003", pid),
                             ("unlinked", "DNS-004", pid), ("moved_tenant", "RSV-006", vid)):
            if d in defects:
                self.expect(rule, rid)
        if "crr" in defects and not secondary:
            self.expect("RSV-003", vid)
        return vid

    def crr_and_public(self, vid: str, crr_on: bool, public: bool, approved: bool) -> None:
        """RSV-001 (wants Disabled; NotApplicable under CRR), RSV-009 (forbids Disabled under CRR), RSV-008 (Disabled
        needs an approved backup endpoint): never RSV-001 and RSV-009 on one vault."""
        if crr_on and not public:
            self.expect("RSV-009", vid)
        if public and not crr_on:
            self.expect("RSV-001", vid)
        if not public and not approved:
            self.expect("RSV-008", vid)

    def plain_vault(self, sub: str, name: str, *, protected: int = 0, created: str = "2022-01-10T08:00:00Z",
                    hard: set[str] = frozenset()) -> str:
        v = E.vault(sub, f"rg-{name}", name, pna=None, identity=None, created=created)
        self.harden(v, hard)
        self.add(v)
        self.subs[sub]["vault_dates"].append(created)
        for i in range(protected):
            self.add(E.protected_item(v["id"], f"vm-{name}-{i}"))
        self.expect("RSV-002", v["id"])
        if protected:
            self.expect("RSV-007", v["id"])
        return v["id"]

    # ------------------------------------------------------------------ workloads (WL-*)
    def workload(self, vault_id: str, name: str, *, sub: str | None = None, same_vnet: bool = False,
                 peering: str | None = None, link_zones: bool = True, dns: list[str] | None = None,
                 nic_rules: list[dict] | None = None, subnet_rules: list[dict] | None = None,
                 nsg_defaults: bool = True, routes: list[tuple] | None = None, asgs: list[str] = (),
                 in_input: bool = True, blocks_entra: bool = False, blocks_endpoints: bool = False) -> str:
        """A SQL Server VM the vault protects (an AzureWorkload container names it), in the vault's endpoint VNet
        (``same_vnet``, a new subnet there) or in a spoke VNet of its own: ``peering`` "workload" (Connected, on the
        spoke), "endpoint" (Connected, only on the endpoint VNet), "disconnected" (on the spoke) or None; the
        vault's zones linked to the spoke (``link_zones``); custom ``dns``; NSGs on the NIC and on the subnet
        (``*_rules``, see :func:`estate.nsg`); a route table (``routes``). Records the WL findings it plants (the
        caller says whether its NSG rules block Entra ID / the endpoints: ``blocks_*``)."""
        net = self.nets.get(vault_id)
        sub = sub or (net["sub"] if net else vault_id.split("/")[2])
        rg = f"rg-app-{name}"
        vm = E.vm_id(sub, rg, name)
        self.add(E.protection_container(vault_id, vm))
        if not in_input:
            return vm
        if same_vnet:
            vnet_id = net["vnet"]
            base = net["prefix"].split("/")[0].rsplit(".", 1)[0]
            prefix, subnet_name = f"{base}.128/27", "snet-workload"
        else:
            self.net_index += 1
            a, b = divmod(self.net_index, 250)
            base = f"10.{a % 250}.{b}"
            vnet_id = f"{E.rg_id(sub, rg)}/providers/{E.NET}/virtualNetworks/vnet-{name}"
            prefix, subnet_name = f"{base}.0/26", "snet-workload"
        subnet_id = f"{vnet_id}/subnets/{subnet_name}"
        ip = f"{prefix.split('/')[0].rsplit('.', 1)[0]}.{int(prefix.split('/')[0].rsplit('.', 1)[1]) + 4}"
        refs: dict = {}
        nic_nsg = None
        if nic_rules is not None:
            g = E.nsg(sub, rg, f"nsg-{name}-nic", nic_rules, defaults=nsg_defaults)
            nic_nsg = g["id"]
            self.add(g)
        if subnet_rules is not None:
            g = E.nsg(sub, rg, f"nsg-{name}-subnet", subnet_rules, defaults=nsg_defaults)
            refs["networkSecurityGroup"] = {"id": g["id"]}
            self.add(g)
        if routes is not None:
            rt = E.route_table(sub, rg, f"rt-{name}", routes)
            refs["routeTable"] = {"id": rt["id"]}
            self.add(rt)
        nic = E.vm_nic(sub, rg, f"{name}-nic01", subnet_id=subnet_id, ip=ip, vm=vm, nsg=nic_nsg, asgs=list(asgs))
        self.add(E.virtual_machine(sub, rg, name, [nic["id"]]), nic)
        ipc = [nic["properties"]["ipConfigurations"][0]["id"]]
        endpoint_vnet = next(o for o in self.objects if o["id"] == net["vnet"]) if net else None
        if same_vnet:
            endpoint_vnet["properties"]["subnets"].append(
                {"name": subnet_name, "id": subnet_id, "properties": {
                    "addressPrefix": prefix, "provisioningState": "Succeeded", "ipConfigurations": [{"id": ipc[0]}],
                    **refs}})
        else:
            peers = []
            if peering in ("workload", "disconnected") and net:
                peers.append(E.peering(vnet_id, f"peer-{name}-to-endpoints", net["vnet"],
                                       "Connected" if peering == "workload" else "Disconnected"))
            if peering == "endpoint" and net:
                endpoint_vnet["properties"]["virtualNetworkPeerings"].append(
                    E.peering(net["vnet"], f"peer-to-{name}", vnet_id, "Connected", f"{base}.0/24"))
            self.add(E.vnet(sub, rg, f"vnet-{name}", prefix=f"{base}.0/24", subnets=[(subnet_name, prefix, ipc)],
                            dns_servers=dns, subnet_refs={subnet_name: refs}, peerings=peers))
            if link_zones and net:
                for z in net["zones"]:
                    self.link(z, vnet_id)
        forwarded = any(r[2] in ("VirtualAppliance", "VirtualNetworkGateway") for r in routes or ())
        for rule, planted in (("WL-001", net and not same_vnet and not dns and not link_zones),
                              ("WL-002", net and not same_vnet and peering not in ("workload", "endpoint")
                               and not forwarded),
                              ("WL-003", blocks_entra), ("WL-004", net and blocks_endpoints)):
            if planted:
                self.expect(rule, vm)
        return vm

    def reregistered(self, sub: str, when: str = "2026-10-02T12:00:00Z") -> None:
        self.subs[sub]["events"].append(when)
        self.add(E.register_event(sub, when))

    def policies(self, prod: str, dev: str, hub: str) -> None:
        """The demo's management groups and policy assignments: POL-001..003 each NonCompliant once and Compliant
        once (plus traps: a set that passes the zone parameter through, an assignment not enforced)."""
        t = self.tenant
        self.add(E.management_group("contoso", t, "Contoso", t, [
            E.mg_child("contoso-platform", "Platform", [E.sub_child(hub, "contoso-connectivity-hub")]),
            E.mg_child("contoso-landingzones", "Landing zones", [E.sub_child(prod, "contoso-prod"),
                                                                 E.sub_child(dev, "contoso-dev")])]))
        mg = lambda name: E.MG + name  # noqa: E731
        dns, asr = E.POLICY_DEF + "af783da1-4ad1-42be-800d-d19c70038820", E.POLICY_DEF + "942bd215-1a66-44be-af65-6a1c0318dbe2"
        zone = lambda geo: (f"{E.rg_id(hub, 'rg-private-dns')}/providers/Microsoft.Network/privateDnsZones/"  # noqa: E731
                            f"privatelink.{geo}.backup.windowsazure.com")
        dns_set = E.policy_set(mg("contoso"), "Deploy-Private-DNS-Zones", "Configure private DNS zones", [
            ("DINE-Private-DNS-Azure-Backup", dns, {"privateDnsZone-Backup": "[parameters('azureBackupZone')]",
                                                    "effect": "[parameters('effect')]"}),
            ("DINE-Private-DNS-Azure-Site-Recovery", asr, {"privateDnsZoneId": "[parameters('siteRecoveryZone')]",
                                                           "effect": "[parameters('effect')]"})],
            params={"azureBackupZone": {"type": "String"}, "siteRecoveryZone": {"type": "String"},
                    "effect": {"type": "String", "defaultValue": "DeployIfNotExists"}})
        platform = E.policy_assignment(mg("contoso-platform"), "platform-private-dns", dns_set["id"],
                                       params={"azureBackupZone": zone("we"), "siteRecoveryZone":
                                               zone("we").replace(".we.backup.", ".we.siterecovery.")})
        prod_dns = E.policy_assignment(f"/subscriptions/{prod}", "prod-backup-dns", dns,
                                       params={"privateDnsZone-Backup": zone("eus")})
        dev_dns = E.policy_assignment(f"/subscriptions/{dev}", "dev-backup-dns", dns, enforcement="DoNotEnforce",
                                      params={"privateDnsZone-Backup": zone("eus")})
        dev_asr = E.policy_assignment(f"/subscriptions/{dev}", "dev-asr-dns", asr,
                                      params={"privateDnsZoneId": zone("we").replace(".we.backup.", ".we.siterecovery.")})
        deny = E.policy_assignment(mg("contoso-landingzones"), "deny-vault-public-access",
                                   E.POLICY_DEF + "9ebbbba3-4d65-4da9-bb67-b22cfaaff090", params={"effect": "Deny"})
        modify = E.policy_assignment(E.rg_id(prod, "rg-rsv-prod-sql-01"), "modify-vault-public-access",
                                     E.POLICY_DEF + "04726aae-4e8d-427c-af7d-ecf56d490022")
        self.add(dns_set, platform, prod_dns, dev_dns, dev_asr, deny, modify)
        self.expect("POL-001", prod_dns["id"])   # an East US zone for West Europe vaults
        self.expect("POL-002", dev_asr["id"])    # Site Recovery's DNS policy; the backup one is not enforced
        self.expect("POL-003", deny["id"])       # Deny over vaults without an approved backup endpoint

    def finish(self) -> None:
        """Subscription-level truths (SUB-001, SUB-002), once every vault is in."""
        for sub, s in self.subs.items():
            prov = f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices"
            if s.get("unregistered") and s["vault_dates"]:
                self.expect("SUB-001", prov)
            if s["pe_vault"] and min(s["vault_dates"]) < "2020-05-01" and not any(e >= "2020-05-01" for e in s["events"]):
                self.expect("SUB-002", prov)


def demo() -> Synth:
    """The built-in demo estate: three subscriptions, 20 vaults, every rule NonCompliant and Compliant somewhere."""
    s = Synth(seed=2026)
    prod = s.subscription("contoso-prod")
    dev = s.subscription("contoso-dev", registered="Registering")
    hub = s.subscription("contoso-connectivity-hub")
    s.v1_vault(prod, "rsv-prod-sql-01", hub=hub, hard={"proxy"})             # clean v1; MUA through a guard in the hub
    s.v1_vault(prod, "rsv-prod-sap-01", {"public"}, hard={"imm_unlocked"})
    s.v1_vault(prod, "rsv-prod-sql-02", {"crr", "public"})                   # CRR on, public access allowed: as it must
    s.v1_vault(prod, "rsv-prod-mars-01", {"no_identity"}, created="2019-11-04T09:30:00Z", hard={"mua_off"})
    s.v1_vault(prod, "rsv-prod-dpm-01", {"moved_tenant"}, hard={"sd_short"})
    s.v1_vault(prod, "rsv-prod-sql-03", {"pending", "small_subnet"})
    s.v1_vault(prod, "rsv-prod-hana-01", {"failed", "storage_failed"})
    s.v1_vault(prod, "rsv-prod-sql-04", {"missing_record", "missing_storage_record"}, hard={"sd_enabled"})
    s.v1_vault(prod, "rsv-prod-sql-05", {"stale", "unlinked"})
    s.v1_vault(prod, "rsv-prod-sql-06", {"foreign_zone_group"}, hub=hub, hard={"guard_admin"})
    s.v1_vault(prod, "rsv-prod-sql-07", {"custom_dns"}, hard={"cmk_hsm"})
    s.v1_vault(prod, "rsv-prod-sql-08", {"missing_role", "many_pes"})
    s.plain_vault(prod, "rsv-prod-vm-01", protected=3, hard={"cmk_restricted"})   # no private endpoints: RSV-013 n/a
    s.v2_vault(prod, "rsv-prod-v2-01", hub, hard={"cmk_open"})              # clean v2, zones in the hub subscription
    s.v2_vault(prod, "rsv-prod-v2-02", hub, secondary=True, hard={"cmk_restricted"})   # CRR through AzureBackup_secondary
    s.v2_vault(prod, "rsv-prod-v2-03", hub, {"public", "stale"}, hard={"static_ip", "dup_pe_name"})
    s.v1_vault(dev, "rsv-dev-sql-01", {"crr_flag"}, created="2019-06-20T14:00:00Z")
    s.v1_vault(dev, "rsv-dev-sql-02", hard={"guard_outside"})
    s.plain_vault(dev, "rsv-dev-files-01", hard={"csr_enabled"})
    s.v1_vault(hub, "rsv-hub-mars-01", created="2018-02-02T10:00:00Z")
    s.reregistered(hub, "2026-09-14T07:12:00Z")
    workloads(s, prod)
    s.policies(prod, dev, hub)
    s.finish()
    return s


def _vault(s: Synth, sub: str, name: str) -> str:
    return f"{E.rg_id(sub, 'rg-' + name)}/providers/Microsoft.RecoveryServices/vaults/{name}"


def workloads(s: Synth, prod: str) -> None:
    """The demo's protected SQL Server / SAP HANA VMs (WL-001..004), each with the traps RULES.md names."""
    sql01, sql02, sql03 = (_vault(s, prod, n) for n in ("rsv-prod-sql-01", "rsv-prod-sql-02", "rsv-prod-sql-03"))
    asg = f"{E.rg_id(prod, 'rg-app-vm-sql-02a')}/providers/Microsoft.Network/applicationSecurityGroups/asg-sql"
    # in the endpoint's VNet; subnet NSG without defaultSecurityRules: a Deny on port 80 only and a Deny whose source
    # does not hold the VM's IP (neither matches TCP 443 from the VM)
    s.workload(sql01, "vm-sql-01a", same_vnet=True, nsg_defaults=False, subnet_rules=[
        dict(name="DenyHttpOut", priority=100, access="Deny", port="80", destination="Internet"),
        dict(name="DenyLegacyRangeOut", priority=110, access="Deny", source="10.99.0.0/16", destination="*")])
    # a spoke peered from the endpoint VNet's side only, zones linked; NIC NSG: Allow AzureActiveDirectory above a
    # Deny for Internet
    s.workload(sql01, "vm-sql-01b", peering="endpoint", nic_rules=[
        dict(name="AllowEntraIdOut", priority=100, access="Allow", destination="AzureActiveDirectory"),
        dict(name="DenyInternetOut", priority=200, access="Deny", destination="Internet")])
    # a VM the container names but the input lacks
    s.workload(sql01, "vm-sql-decom", in_input=False)
    # SAP HANA behind a v2 vault: a Disconnected peering and no zone linked to its VNet
    s.workload(_vault(s, prod, "rsv-prod-v2-01"), "vm-hana-01", peering="disconnected", link_zones=False)
    # subnet NSG allows, NIC NSG denies Internet and (by its application security group) the VNet on 443
    s.workload(sql02, "vm-sql-02a", peering="workload", asgs=[asg], blocks_entra=True, blocks_endpoints=True,
               subnet_rules=[dict(name="AllowHttpsOut", priority=100, access="Allow", destination="*")],
               nic_rules=[dict(name="DenyInternetHttpsOut", priority=100, access="Deny", destination="Internet"),
                          dict(name="DenySqlTierToVnetOut", priority=110, access="Deny", source_asgs=[asg],
                               destination="VirtualNetwork")])
    # custom DNS, no peering, everything through an appliance (0.0.0.0/0 too: WL-003's forced-tunnel note)
    s.workload(sql03, "vm-sql-03a", dns=["10.200.0.4"], link_zones=False, routes=[
        ("to-backup-endpoints", "10.0.0.0/8", "VirtualAppliance", "10.250.0.4"),
        ("default-via-firewall", "0.0.0.0/0", "VirtualAppliance", "10.250.0.4")])
    # a vault without private endpoints: only WL-003 applies
    s.workload(_vault(s, prod, "rsv-prod-vm-01"), "vm-sql-legacy", sub=prod)


def large(vaults: int, seed: int = 7, subs: int = 20, defect_rate: float = 0.15, heavy: int = 0) -> Synth:
    """A large estate: ``vaults`` vaults over ``subs`` subscriptions, a share of them with one random defect; and
    ``heavy`` more vaults in the first subscription (one subscription that ARM's read budget holds back)."""
    s = Synth(seed=seed)
    sub_ids = [s.subscription(f"sub-{i:03d}", registered="NotRegistered" if i % 17 == 5 else "Registered")
               for i in range(subs)]
    hub = s.subscription("hub")
    for i in range(vaults + heavy):
        sub = sub_ids[i % subs] if i < vaults else sub_ids[0]
        r = s.rng.random()
        defect = set()
        kind = s.rng.random()
        if kind < 0.1:
            s.plain_vault(sub, f"rsv-{i:05d}", protected=s.rng.choice([0, 2]))
            continue
        if r < defect_rate:
            pool = V2_DEFECTS if kind > 0.75 else V1_DEFECTS
            defect = {s.rng.choice(pool)}
        if kind > 0.75:
            s.v2_vault(sub, f"rsv-{i:05d}", hub, defect)
        else:
            created = "2019-05-01T00:00:00Z" if i % 97 == 3 else "2023-01-01T00:00:00Z"
            s.v1_vault(sub, f"rsv-{i:05d}", defect, hub=hub, created=created)
    s.finish()
    return s


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=("demo", "large"), nargs="?", default="large")
    p.add_argument("--vaults", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--expected", help="also write the expected NonCompliant (rule, id) pairs here")
    a = p.parse_args()
    s = demo() if a.what == "demo" else large(a.vaults, a.seed)
    json.dump(s.objects, sys.stdout, indent=1 if a.what == "demo" else None)
    sys.stdout.write("\n")
    if a.expected:
        Path(a.expected).write_text(json.dumps(sorted(s.expected), indent=0))


if __name__ == "__main__":
    main()
