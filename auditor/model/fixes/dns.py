"""DNS fixes: A records, stale addresses and VNet links (DNS-001..004), zone groups (DNS-005) and the zones a custom
DNS server must forward (DNS-006)."""
from __future__ import annotations

from ... import arm
from .common import LINK, RECORD, REVIEW, STALE, Plan, Step, az, id_parts, link_name, q
from .lookups import Lookups


def judged_endpoints(lk: Lookups) -> list[bool]:
    """Per endpoint row: whether the DNS rules judge it (backup or storage, in the input, Azure DNS, known VNet)."""
    ep = lk.ep
    return [((b or s) and ii and not cd and (vi or not vk) and n > 0) for b, s, ii, cd, vi, vk, n in zip(
        *(ep[c] for c in ("backup", "storage", "in_input", "custom_dns", "vnet_in_input", "vnet_known_anywhere",
                          "n_fqdns")))]


class ZonePicker:
    """The zone an unlinked (VNet, zone name) gets: the one holding most of the group's records, then the one in the
    vault's subscription, then the lowest id (decided once per (VNet, zone name), by its first caller's vault)."""

    def __init__(self, lk: Lookups) -> None:
        self.lk = lk
        self.chosen: dict[tuple[str, str], str | None] = {}
        self.group_hits: dict[tuple[str, str], dict[str, int]] = {}
        fq = lk.fq
        for pid, zn, vnet, lz, rz in zip(fq["pe_id"], fq["zone_name"], fq["vnet_id"], fq["linked_zone_ids"],
                                         fq["record_zone_ids"]):
            if not lz and isinstance(vnet, str):
                hits = self.group_hits.setdefault((vnet, zn), {})
                for z in rz:
                    hits[z] = hits.get(z, 0) + 1

    def __call__(self, vnet: str, zn: str, vault: str) -> str | None:
        key = (vnet, zn)
        if key not in self.chosen:
            cands = self.lk.zones_by_name.get(zn, [])
            hits = self.group_hits.get(key, {})
            vs = self.lk.vault_sub.get(vault, "")
            zone_sub = self.lk.zone_sub
            self.chosen[key] = min(cands, key=lambda z: (-hits.get(z, 0), zone_sub.get(z) != vs, z)) if cands \
                else None
        return self.chosen[key]


def record_and_link_fixes(plan: Plan, lk: Lookups) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """DNS-001..004: add the missing records, remove the stale addresses, link the zones to the VNets.

    Returns (vault -> keys of the review steps on its endpoints' DNS, vnet id -> zone ids the plan links to it)."""
    dns_review: dict[str, list[str]] = {}
    planned_links: dict[str, set[str]] = {}
    expected_by_fqdn: dict[str, set[str]] = {}
    for f, exp in zip(lk.fq["fqdn"], lk.fq["expected"]):
        expected_by_fqdn.setdefault(f, set()).update(exp)
    judged = judged_endpoints(lk)
    zone_for = ZonePicker(lk)
    for pid, f, exp, zn, rn, vnet, lz, has, stale, linked, rz in zip(*lk.fq.values()):
        i = lk.pe_row.get(pid)
        if i is None or not judged[i]:
            continue
        backup, storage = lk.ep["backup"][i], lk.ep["storage"][i]
        vault = lk.vault_of(i)
        missing_rule = "DNS-001" if backup else "DNS-002"
        tags = []
        if not has and (backup or storage):
            tags.append((missing_rule, pid))
        if stale:
            tags.append(("DNS-003", pid))
        if not linked:
            tags.append(("DNS-004", pid))
        if not tags:
            continue
        if lz:
            target = next((z for z in lz if z in rz), lz[0])
        elif isinstance(vnet, str):
            target = zone_for(vnet, zn, vault)
        else:
            target = None
        if target is None or not exp:
            s = _dns_review_step(plan, lk, tags, target, pid, f, exp, zn, rn, vnet, linked, vault)
            dns_review.setdefault(vault, []).append(s.key)
            continue
        present = lk.rec_ips.get((target, rn), [])
        if not set(present) & set(exp):
            _add_record_steps(plan, lk, tags, target, f, exp, rn, vault)
        if stale:
            _stale_address_steps(plan, lk, target, pid, f, exp, rn, present, expected_by_fqdn.get(f, set()), vault)
        if not linked:
            _link_step(plan, lk, target, pid, vnet, vault)
            planned_links.setdefault(vnet, set()).add(target)
    return dns_review, planned_links


def _dns_review_step(plan: Plan, lk: Lookups, tags: list[tuple[str, str]], target: str | None, pid: str, f: str,
                     exp: list[str], zn: str, rn: str, vnet: object, linked: bool, vault: str) -> Step:
    """The DNS of one FQDN when the zone or the endpoint's IP is unknown: a review step with placeholders."""
    why = (f"no private DNS zone named {zn} exists: choose the subscription and resource group that should "
           "hold it" if target is None and isinstance(vnet, str) else
           "the endpoint's virtual network is unknown" if target is None else
           f"the endpoint's private IP for {f} is unknown: read it from the endpoint's network interface")
    ip = exp[0] if exp else "<endpoint-private-ip>"
    zsub, zrg = ("<zone-subscription>", "<zone-resource-group>") if target is None else \
        id_parts(lk.zone_rid.get(target, target))[:2]
    lines = []
    if target is None:
        lines.append(az("network", "private-dns", "zone", "create", "--subscription", zsub,
                        "--resource-group", zrg, "--name", zn))
    lines.append(az("network", "private-dns", "record-set", "a", "add-record", "--subscription", zsub,
                    "--resource-group", zrg, "--zone-name", zn, "--record-set-name", rn, "--ipv4-address", ip))
    if not linked and isinstance(vnet, str):
        vr = lk.vnet_rid.get(vnet, vnet)
        lines.append(az("network", "private-dns", "link", "vnet", "create", "--subscription", zsub,
                        "--resource-group", zrg, "--zone-name", zn, "--name", link_name(vr),
                        "--virtual-network", vr, "--registration-enabled", "false"))
    return plan.add(Step(RECORD, zsub, vault, f"dns-review|{pid}|{f}", f"DNS for {f} ({why})",
                         "; ".join(lines), lines, review=why), *tags)


def _add_record_steps(plan: Plan, lk: Lookups, tags: list[tuple[str, str]], target: str, f: str, exp: list[str],
                      rn: str, vault: str) -> None:
    """DNS-001/002: the FQDN's expected addresses in the target zone (skipped where the record already holds one)."""
    zr = lk.zone_rid.get(target, target)
    zsub, zrg, zname = id_parts(zr)
    for ip in exp:
        add = az("network", "private-dns", "record-set", "a", "add-record", "--subscription", zsub,
                 "--resource-group", zrg, "--zone-name", zname, "--record-set-name", rn, "--ipv4-address", ip)
        guard = "has_a_record " + " ".join(q(x) for x in (zsub, zrg, zname, rn, ip)) + " || " + add
        plan.add(Step(RECORD, zsub, vault, f"record|{target}|{rn}|{ip}",
                      f"A record {rn}.{zname} -> {ip} (FQDN {f}) in zone {zr}", add, [guard]), *tags)


def _stale_address_steps(plan: Plan, lk: Lookups, target: str, pid: str, f: str, exp: list[str], rn: str,
                         present: list[str], keep: set[str], vault: str) -> None:
    """DNS-003: remove the record's addresses no endpoint expects for the FQDN."""
    zr = lk.zone_rid.get(target, target)
    zsub, zrg, zname = id_parts(zr)
    for old in sorted(set(present) - keep):
        rm = az("network", "private-dns", "record-set", "a", "remove-record", "--subscription", zsub,
                "--resource-group", zrg, "--zone-name", zname, "--record-set-name", rn, "--ipv4-address",
                old, "--keep-empty-record-set")
        guard = ("if has_a_record " + " ".join(q(x) for x in (zsub, zrg, zname, rn, old)) + "; then " + rm
                 + "; fi")
        plan.add(Step(STALE, zsub, vault, f"unrecord|{target}|{rn}|{old}",
                      f"remove the stale address {old} from {rn}.{zname} (expected {', '.join(exp)})", rm,
                      [guard]), ("DNS-003", pid))


def _link_step(plan: Plan, lk: Lookups, target: str, pid: str, vnet: str, vault: str) -> None:
    """DNS-004: link the target zone to the endpoint's VNet."""
    zr = lk.zone_rid.get(target, target)
    zsub, zrg, zname = id_parts(zr)
    vr = lk.vnet_rid.get(vnet, vnet)
    name = link_name(vr)
    create = az("network", "private-dns", "link", "vnet", "create", "--subscription", zsub, "--resource-group",
                zrg, "--zone-name", zname, "--name", name, "--virtual-network", vr, "--registration-enabled",
                "false")
    show = az("network", "private-dns", "link", "vnet", "show", "--subscription", zsub, "--resource-group",
              zrg, "--zone-name", zname, "--name", name)
    plan.add(Step(LINK, zsub, vault, f"link|{target}|{vnet}", f"link zone {zr} to VNet {vr}", create,
                  [f"{show} >/dev/null 2>&1 || {create}"]), ("DNS-004", pid))


def zone_group_fixes(plan: Plan, lk: Lookups, endpoints) -> None:
    """DNS-005: point each endpoint's zone group at the zones in the vault's subscription (a review step)."""
    for pid, zg, foreign, vs in zip(endpoints["id"].tolist(), endpoints["zg_zone_ids"].tolist(),
                                    endpoints["foreign_zones"].tolist(), endpoints["vault_sub"].tolist()):
        if not foreign:
            continue
        i = lk.pe_row[pid]
        psub, prg, pname = id_parts(lk.ep["rid"][i])
        vault = lk.vault_of(i)
        lines = []
        for z in foreign:
            zn = arm.ZONE_IN_ID.search(z)
            local = [x for x in lk.zones_by_name.get(zn.group(1) if zn else "", []) if lk.zone_sub.get(x) == vs]
            lines.append(az("network", "private-endpoint", "dns-zone-group", "update", "--subscription", psub,
                            "--resource-group", prg, "--endpoint-name", pname, "--name", "<zone-group-name>",
                            "--private-dns-zone", lk.zone_rid.get(local[0], local[0]) if local else
                            "<zone-id-in-the-vault-subscription>"))
        plan.add(Step(REVIEW, psub, vault, f"zonegroup|{pid}", f"zone group of endpoint {pname}", "; ".join(lines),
                      lines, review="moving the zone group to another zone re-creates the endpoint's records there; "
                                    "VMs that resolve from the old zone lose them (choose the group and the zone)"),
                 ("DNS-005", pid))


def zones_to_forward(lk: Lookups) -> dict[str, set[str]]:
    """DNS-006: vnet id -> the zone names of its backup and storage endpoints (what a custom DNS must forward)."""
    zones_of_vnet: dict[str, set[str]] = {}
    for pid, zn, vnet in zip(lk.fq["pe_id"], lk.fq["zone_name"], lk.fq["vnet_id"]):
        i = lk.pe_row.get(pid)
        if i is not None and isinstance(vnet, str) and (lk.ep["backup"][i] or lk.ep["storage"][i]):
            zones_of_vnet.setdefault(vnet, set()).add(zn)
    return zones_of_vnet
