"""Concrete fixes: for every finding the auditor can act on, the ``az`` commands with every value it knows filled in.

:func:`attach` runs at the end of :func:`auditor.model.build`. It adds to every view a ``fixes`` column (rule id ->
the concrete remediation text of that row; the rules' remediation templates read it as ``{fixes[RULE-ID]}``) and
sets ``Model.steps``: the same fixes as structured :class:`Step`\\ s, which :mod:`auditor.plan` orders into
``remediation.sh`` / ``remediation.md``.

What the fixes read from the views (all built by :mod:`auditor.model`): the endpoints' FQDN rows (zone name, record
name, expected IPs, linked zones, the record's addresses), the zones, records, links, connections and role
assignments tables, the vaults' identity and public network access, the providers' registration state.

The fixes are computed for the state the plan leaves behind, not only for each row alone: the zone a VNet gets
linked to is the zone its records are added to, and the roles IAM-001 needs include the zones the plan links and
the identity RSV-005 creates. A value the auditor cannot know (a new vault's name, a subnet to move to, the resource
group of a zone that does not exist) stays a placeholder ``<like-this>``, named in the text, and its step is a
``review`` step: :mod:`auditor.plan` emits it commented out under ``# REVIEW: <reason>``.
"""
from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field

from .. import arm

# phases: the order of the steps of one vault (auditor.plan keeps it); public access comes last of all
REGISTER, APPROVE, RECORD, STALE, LINK, IDENTITY, GRANT, REVIEW, PUBLIC = range(9)
ROLE_NAMES = {arm.CONTRIBUTOR: "Contributor", arm.NETWORK_CONTRIBUTOR: "Network Contributor",
              arm.DNS_ZONE_CONTRIBUTOR: "Private DNS Zone Contributor"}
NEED_ROLE = {"rg": arm.CONTRIBUTOR, "vnet": arm.NETWORK_CONTRIBUTOR, "zone": arm.DNS_ZONE_CONTRIBUTOR}
VAULT_API = "2024-04-01"   # Microsoft.RecoveryServices/vaults, for the az rest fallback of RSV-001's PATCH
NEED_KIND = {"rg": "resource group", "vnet": "virtual network", "zone": "private DNS zone"}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# the remediation of a row that has no concrete fix (Error and Exempt rows, data the auditor lacks)
FALLBACK = {
    "DNS-001": "add the missing A record(s) (az network private-dns record-set a add-record --subscription "
               "<zone-subscription> --resource-group <zone-resource-group> --zone-name <zone> --record-set-name "
               "<record> --ipv4-address <endpoint-ip>), or attach a DNS zone group so Azure keeps them",
    "DNS-002": "grant the vault's identity Private DNS Zone Contributor on the zone, or add the record(s) by hand "
               "(az network private-dns record-set a add-record --subscription <zone-subscription> --resource-group "
               "<zone-resource-group> --zone-name <zone> --record-set-name <record> --ipv4-address <endpoint-ip>)",
    "DNS-003": "point the record at the endpoint's IP (az network private-dns record-set a add-record, then "
               "remove-record of the old address)",
    "DNS-004": "link the zone to the endpoint's VNet (az network private-dns link vnet create --subscription "
               "<zone-subscription> --resource-group <zone-resource-group> --zone-name <zone> --name <link-name> "
               "--virtual-network <vnet-id> --registration-enabled false)",
    "PE-001": "approve the vault's side of the connection (az network private-endpoint-connection approve "
              "--subscription <vault-subscription> --resource-group <vault-resource-group> --resource-name "
              "<vault-name> --type Microsoft.RecoveryServices/vaults --name <connection-name>)",
    "DNS-005": "az network private-endpoint dns-zone-group update --subscription <endpoint-subscription> "
               "--resource-group <endpoint-resource-group> --endpoint-name <endpoint> --name <zone-group-name> "
               "--private-dns-zone <zone-id-in-the-vault-subscription>",
    "PE-002": "az network private-endpoint delete, then az network private-endpoint create in the same subnet "
              "(--group-id AzureBackup)",
    "RSV-001": "az backup vault update --subscription <vault-subscription> --resource-group <vault-resource-group> "
               "--name <vault-name> --public-network-access Disable",
    "RSV-002": "az network private-endpoint create --subscription <vault-subscription> --resource-group "
               "<resource-group> --name <endpoint-name> --subnet <subnet-id> --private-connection-resource-id "
               "<vault-id> --group-id AzureBackup --connection-name <endpoint-name>",
    "RSV-005": "az backup vault identity assign --system-assigned --subscription <vault-subscription> "
               "--resource-group <vault-resource-group> --name <vault-name>",
    "RSV-006": "az backup vault identity remove --system-assigned ...; az backup vault identity assign "
               "--system-assigned ... (--subscription <vault-subscription> --resource-group <vault-resource-group> "
               "--name <vault-name>)",
    "RSV-007": "az backup vault create --subscription <vault-subscription> --resource-group <resource-group> "
               "--name <new-vault-name> --location <region>",
    "SUB-001": "az provider register --namespace Microsoft.RecoveryServices --subscription <subscription-id>",
    "SUB-002": "az provider register --namespace Microsoft.RecoveryServices --subscription <subscription-id>",
    "DNS-006": "privatelink.<geo>.backup.windowsazure.com, privatelink.blob.core.windows.net and "
               "privatelink.queue.core.windows.net (the zones of the VNet's endpoints)",
    "IAM-001": "grant the vault's identity each missing role (az role assignment create --subscription "
               "<scope-subscription> --assignee-object-id <vault-principal-id> --assignee-principal-type "
               "ServicePrincipal --role <role> --scope <scope>)",
}


def _clean(text: object) -> str:
    """One line of inert text (for comments and messages): no newline, control or bidi characters."""
    return _UNSAFE.sub(" ", str(text))


def q(value: object) -> str:
    """A shell word (quoted only where needed)."""
    return shlex.quote(_clean(value))


def az(*parts: object) -> str:
    """``az`` and its words, each a shell word (values quoted where they need it)."""
    return " ".join(["az", *(q(p) for p in parts)])


@dataclass
class Step:
    """One change of the plan."""
    phase: int
    sub: str                       # the subscription the command changes (named by --subscription)
    vault: str                     # lower-cased vault id the step belongs to ('' for a subscription's own steps)
    key: str                       # identity of the change (the same change asked by two findings is one step)
    what: str                      # one line for people
    command: str                   # the plain az command(s), as the finding's remediation shows them
    script: list[str]              # the bash lines (guards make them idempotent)
    targets: list[tuple[str, str]] = field(default_factory=list)   # (rule id, lower-cased subject id) it fixes
    review: str = ""               # why a person must decide first: the step is emitted commented out
    requires_any: tuple[str, ...] = ()   # PUBLIC: keys of approval steps, one of which makes a usable endpoint
    usable_now: bool = False       # PUBLIC: the vault already has an approved, healthy backup endpoint
    blocked_by: tuple[str, ...] = ()     # PUBLIC: keys of review steps on the vault's endpoints that come first


class Fixes(dict):
    """rule id -> remediation text of one row; a rule without a concrete fix reads its generic text."""

    def __missing__(self, key: str) -> str:
        return FALLBACK.get(key, "see auditor plan")


_NONE = Fixes()


def _id_parts(rid: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of an id, case as given."""
    sub, rg, names = arm.segments(rid)
    return sub, rg, (names[-1] if names else rid.rstrip("/").rsplit("/", 1)[-1])


def _rg_scope(rid: str) -> str:
    sub, rg, _ = _id_parts(rid)
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def _link_name(vnet_rid: str) -> str:
    name = _id_parts(vnet_rid)[2]
    digest = hashlib.sha256(vnet_rid.lower().encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{name}"[:60]) + f"-link-{digest}"


class _Plan:
    """Collects steps, merging the same change asked by several findings."""

    def __init__(self) -> None:
        self.steps: dict[str, Step] = {}

    def add(self, step: Step, *targets: tuple[str, str]) -> Step:
        have = self.steps.get(step.key)
        if have is None:
            self.steps[step.key] = have = step
        for t in targets:
            if t not in have.targets:
                have.targets.append(t)
        return have


def attach(m) -> None:
    """Add the ``fixes`` column to every view and set ``m.steps`` (see the module docstring)."""
    plan = _Plan()
    t = m.tables
    ep, fq, vaults = m.endpoints, m.fqdns, m.vaults
    zones = t["zones"]
    zone_rid = dict(zip(zones["id"].tolist(), zones["rid"].astype(str).tolist()))
    zone_sub = {z: arm.subscription_of(z) for z in zone_rid}
    zones_by_name: dict[str, list[str]] = {}
    for zid, name in zip(zones["id"].tolist(), zones["name"].tolist()):
        if isinstance(zid, str) and isinstance(name, str):
            zones_by_name.setdefault(name.lower(), []).append(zid)
    rec = t["records"]
    rec_ips: dict[tuple[str, str], list[str]] = {}
    for zid, rel, ips in zip(rec["zone_id"].tolist(), rec["rel"].tolist(), rec["ips"].tolist()):
        rec_ips.setdefault((zid, rel), []).extend(ips or ())
    vnets = t["vnets"]
    vnet_rid = dict(zip(vnets["id"].tolist(), vnets["rid"].astype(str).tolist()))
    vault_rid = m.vault_rids()
    vault_sub = dict(zip(vaults["id"].tolist(), vaults["sub"].tolist()))

    ep_cols = {c: ep[c].tolist() for c in ("id", "rid", "name", "sub", "backup", "storage", "in_input", "custom_dns",
                                           "vnet_in_input", "vnet_known_anywhere", "n_fqdns", "vault_id",
                                           "related_vaults", "vnet_id", "subnet_id", "prov_state", "vault_ids")}
    pe_row = {pid: i for i, pid in enumerate(ep_cols["id"])}

    # ------------------------------------------------------------------ DNS (DNS-001..004): records, then links
    dns_review: dict[str, list[str]] = {}   # vault -> keys of review steps on its endpoints' DNS
    planned_links: dict[str, set[str]] = {}  # vnet id -> zone ids the plan links to it
    fq_cols = {c: fq[c].tolist() for c in ("pe_id", "fqdn", "expected", "zone_name", "rec_name", "vnet_id",
                                           "linked_zone_ids", "has_record", "stale", "linked", "record_zone_ids")}
    expected_by_fqdn: dict[str, set[str]] = {}
    for f, exp in zip(fq_cols["fqdn"], fq_cols["expected"]):
        expected_by_fqdn.setdefault(f, set()).update(exp)
    judged = [((b or s) and ii and not cd and (vi or not vk) and n > 0) for b, s, ii, cd, vi, vk, n in zip(
        *(ep_cols[c] for c in ("backup", "storage", "in_input", "custom_dns", "vnet_in_input", "vnet_known_anywhere",
                               "n_fqdns")))]
    # the zone an unlinked (VNet, zone name) gets: the one holding most of the group's records, then the one in the
    # vault's subscription, then the lowest id
    group_hits: dict[tuple[str, str], dict[str, int]] = {}
    for pid, zn, vnet, lz, rz in zip(fq_cols["pe_id"], fq_cols["zone_name"], fq_cols["vnet_id"],
                                     fq_cols["linked_zone_ids"], fq_cols["record_zone_ids"]):
        if not lz and isinstance(vnet, str):
            hits = group_hits.setdefault((vnet, zn), {})
            for z in rz:
                hits[z] = hits.get(z, 0) + 1
    chosen: dict[tuple[str, str], str | None] = {}

    def zone_for(vnet: str, zn: str, vault: str) -> str | None:
        key = (vnet, zn)
        if key not in chosen:
            cands = zones_by_name.get(zn, [])
            hits = group_hits.get(key, {})
            vs = vault_sub.get(vault, "")
            chosen[key] = min(cands, key=lambda z: (-hits.get(z, 0), zone_sub.get(z) != vs, z)) if cands \
                else None
        return chosen[key]

    for k, (pid, f, exp, zn, rn, vnet, lz, has, stale, linked, rz) in enumerate(zip(*fq_cols.values())):
        i = pe_row.get(pid)
        if i is None or not judged[i]:
            continue
        backup, storage = ep_cols["backup"][i], ep_cols["storage"][i]
        vault = ep_cols["vault_id"][i] if isinstance(ep_cols["vault_id"][i], str) else ""
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
            why = (f"no private DNS zone named {zn} exists: choose the subscription and resource group that should "
                   "hold it" if target is None and isinstance(vnet, str) else
                   "the endpoint's virtual network is unknown" if target is None else
                   f"the endpoint's private IP for {f} is unknown: read it from the endpoint's network interface")
            ip = exp[0] if exp else "<endpoint-private-ip>"
            zsub, zrg = ("<zone-subscription>", "<zone-resource-group>") if target is None else \
                _id_parts(zone_rid.get(target, target))[:2]
            lines = []
            if target is None:
                lines.append(az("network", "private-dns", "zone", "create", "--subscription", zsub,
                                "--resource-group", zrg, "--name", zn))
            lines.append(az("network", "private-dns", "record-set", "a", "add-record", "--subscription", zsub,
                            "--resource-group", zrg, "--zone-name", zn, "--record-set-name", rn, "--ipv4-address", ip))
            if not linked and isinstance(vnet, str):
                vr = vnet_rid.get(vnet, vnet)
                lines.append(az("network", "private-dns", "link", "vnet", "create", "--subscription", zsub,
                                "--resource-group", zrg, "--zone-name", zn, "--name", _link_name(vr),
                                "--virtual-network", vr, "--registration-enabled", "false"))
            s = plan.add(Step(RECORD, zsub, vault, f"dns-review|{pid}|{f}", f"DNS for {f} ({why})",
                              "; ".join(lines), lines, review=why), *tags)
            dns_review.setdefault(vault, []).append(s.key)
            continue
        zr = zone_rid.get(target, target)
        zsub, zrg, zname = _id_parts(zr)
        present = rec_ips.get((target, rn), [])
        if not set(present) & set(exp):
            for ip in exp:
                add = az("network", "private-dns", "record-set", "a", "add-record", "--subscription", zsub,
                         "--resource-group", zrg, "--zone-name", zname, "--record-set-name", rn, "--ipv4-address", ip)
                guard = "has_a_record " + " ".join(q(x) for x in (zsub, zrg, zname, rn, ip)) + " || " + add
                plan.add(Step(RECORD, zsub, vault, f"record|{target}|{rn}|{ip}",
                              f"A record {rn}.{zname} -> {ip} (FQDN {f}) in zone {zr}", add, [guard]), *tags)
        if stale:
            keep = expected_by_fqdn.get(f, set())
            for old in sorted(set(present) - keep):
                rm = az("network", "private-dns", "record-set", "a", "remove-record", "--subscription", zsub,
                        "--resource-group", zrg, "--zone-name", zname, "--record-set-name", rn, "--ipv4-address",
                        old, "--keep-empty-record-set")
                guard = ("if has_a_record " + " ".join(q(x) for x in (zsub, zrg, zname, rn, old)) + "; then " + rm
                         + "; fi")
                plan.add(Step(STALE, zsub, vault, f"unrecord|{target}|{rn}|{old}",
                              f"remove the stale address {old} from {rn}.{zname} (expected {', '.join(exp)})", rm,
                              [guard]), ("DNS-003", pid))
        if not linked:
            vr = vnet_rid.get(vnet, vnet)
            name = _link_name(vr)
            create = az("network", "private-dns", "link", "vnet", "create", "--subscription", zsub, "--resource-group",
                        zrg, "--zone-name", zname, "--name", name, "--virtual-network", vr, "--registration-enabled",
                        "false")
            show = az("network", "private-dns", "link", "vnet", "show", "--subscription", zsub, "--resource-group",
                      zrg, "--zone-name", zname, "--name", name)
            plan.add(Step(LINK, zsub, vault, f"link|{target}|{vnet}", f"link zone {zr} to VNet {vr}", create,
                          [f"{show} >/dev/null 2>&1 || {create}"]), ("DNS-004", pid))
            planned_links.setdefault(vnet, set()).add(target)

    # ------------------------------------------------------------------ PE-001: approve the vault's side
    conns = t["conns"]
    pairs: dict[tuple[str, str], dict] = {}
    for v, pe, backup, secondary, status, side, cid in zip(*(conns[c].tolist() for c in (
            "vault_id", "pe_id", "backup", "secondary", "status", "side", "conn_id"))):
        if not backup:
            continue
        p = pairs.setdefault((v, pe), {"secondary": bool(secondary), "sides": {}, "conn": None})
        p["sides"][side] = (status or "").lower() if isinstance(status, str) else ""
        if side == "vault" and isinstance(cid, str) and cid:
            p["conn"] = cid
    approve_key: dict[tuple[str, str], str] = {}
    pairs_of_vault: dict[str, list[tuple[str, dict]]] = {}
    for (v, pe), p in pairs.items():
        pairs_of_vault.setdefault(v, []).append((pe, p))
    for (v, pe), p in pairs.items():
        states = set(p["sides"].values())
        if states <= {"approved"}:
            continue
        vr = vault_rid.get(v, v)
        vsub, vrg, vname = _id_parts(vr)
        if states & {"rejected", "disconnected"} or not p["conn"]:
            why = ("a rejected or disconnected connection cannot be approved again: the endpoint must be deleted "
                   "and re-created, which cuts its traffic until the new one is approved"
                   if states & {"rejected", "disconnected"} else
                   "the vault's side of the connection is not in the input: find its name first with "
                   f"az network private-endpoint-connection list --id {vr}")
            i = pe_row.get(pe)
            pr = ep_cols["rid"][i] if i is not None else pe
            lines = [az("network", "private-endpoint", "delete", "--ids", pr)] if states & {"rejected",
                                                                                        "disconnected"} else []
            lines.append(az("network", "private-endpoint-connection", "approve", "--subscription", vsub,
                            "--resource-group", vrg, "--resource-name", vname, "--type", arm.VAULT,
                            "--name", "<connection-name>"))
            plan.add(Step(REVIEW, vsub, v, f"approve-review|{v}|{pe}", f"connection of endpoint {pr} to {vr}",
                          "; ".join(lines), lines, review=why), ("PE-001", pe))
            continue
        name = p["conn"].rsplit("/", 1)[-1]
        line = az("network", "private-endpoint-connection", "approve", "--subscription", vsub, "--resource-group",
                  vrg, "--resource-name", vname, "--type", arm.VAULT, "--name", name, "--description",
                  "Approved by the remediation plan")
        run = line
        if p["sides"].get("vault") != "approved":  # re-run: skipped once the vault's side says Approved
            show = az("network", "private-endpoint-connection", "show", "--subscription", vsub, "--resource-group",
                      vrg, "--resource-name", vname, "--type", arm.VAULT, "--name", name, "--query",
                      "properties.privateLinkServiceConnectionState.status", "--output", "tsv")
            run = f'[ "$({show} 2>/dev/null)" = Approved ] || {line}'
        s = plan.add(Step(APPROVE, vsub, v, f"approve|{p['conn']}", f"approve connection {name} of vault {vname}",
                          line, [run]), ("PE-001", pe))
        approve_key[(v, pe)] = s.key

    # ------------------------------------------------------------------ PE-002: re-create a failed endpoint
    for i, pid in enumerate(ep_cols["id"]):
        if not (ep_cols["in_input"][i] and (ep_cols["backup"][i] or ep_cols["storage"][i])):
            continue
        if str(ep_cols["prov_state"][i] or "").lower() != "failed":
            continue
        pr = ep_cols["rid"][i]
        psub, prg, pname = _id_parts(pr)
        vault = ep_cols["vault_id"][i] if isinstance(ep_cols["vault_id"][i], str) else ""
        lines = [az("network", "private-endpoint", "delete", "--subscription", psub, "--resource-group", prg,
                    "--name", pname)]
        if ep_cols["backup"][i] and isinstance(ep_cols["subnet_id"][i], str):
            for v in ep_cols["vault_ids"][i]:
                lines.append(az("network", "private-endpoint", "create", "--subscription", psub, "--resource-group",
                                prg, "--name", pname, "--subnet", ep_cols["subnet_id"][i],
                                "--private-connection-resource-id", vault_rid.get(v, v), "--group-id", "AzureBackup",
                                "--connection-name", pname))
            why = ("deleting and re-creating the endpoint cuts backup traffic through it until the new one is approved "
                   "and its DNS records point at its new IPs")
        else:
            why = ("deleting the storage endpoint is irreversible; the vault re-creates storage endpoints as it "
                   "allocates storage")
        plan.add(Step(REVIEW, psub, vault, f"recreate|{pid}", f"re-create failed endpoint {pname}", "; ".join(lines),
                      lines, review=why), ("PE-002", pid))

    # ------------------------------------------------------------------ vaults
    vc = {c: vaults[c].tolist() for c in ("id", "rid", "name", "sub", "rg", "location", "uses_pe", "experience",
                                          "system_identity", "principal_id", "identity_tenant", "sub_tenant",
                                          "identity_type", "protected_count")}
    roles = t["roles"]
    from .iam import NEEDS, custom_grants
    grants = custom_grants(t["role_defs"])
    granted: dict[tuple[str, str], list[str]] = {}
    for pr, g, sc in zip(roles["principal_id"].tolist(), roles["role_guid"].tolist(), roles["scope"].tolist()):
        if not isinstance(pr, str) or not isinstance(sc, str):
            continue
        for n, (builtin, _, _) in NEEDS.items():
            if g in builtin or n in grants.get(g, ()):
                granted.setdefault((pr.lower(), n), []).append(sc.lower())
    # what each vault's identity must hold once the plan has run: (need, scope id as ARM spells it)
    needs: dict[str, set[tuple[str, str]]] = {}
    for i, pid in enumerate(ep_cols["id"]):
        for v in ep_cols["vault_ids"][i]:
            want = needs.setdefault(v, set())
            if arm.RG_PREFIX.match(pid):
                want.add(("rg", _rg_scope(ep_cols["rid"][i])))
            vn = ep_cols["vnet_id"][i]
            if isinstance(vn, str):
                want.add(("vnet", vnet_rid.get(vn, vn)))
    storage_rows = {pid: i for pid, i in pe_row.items() if ep_cols["storage"][i]}
    for pid, zn, vnet, lz in zip(fq_cols["pe_id"], fq_cols["zone_name"], fq_cols["vnet_id"],
                                 fq_cols["linked_zone_ids"]):
        i = storage_rows.get(pid)
        if i is None or not zn.startswith(("privatelink.blob.", "privatelink.queue.")):
            continue
        zs = set(lz) or {z for z in planned_links.get(vnet, ()) if z in zones_by_name.get(zn, ())}
        for v in ep_cols["related_vaults"][i]:
            needs.setdefault(v, set()).update(("zone", zone_rid.get(z, z)) for z in zs)

    def grant_steps(v: str, principal: str, var: str | None, rule: str) -> None:
        missing = sorted((n, sc) for n, sc in needs.get(v, ()) if not any(
            arm.covers(g, sc.lower()) for g in granted.get((principal.lower(), n), ())))
        vr = vault_rid.get(v, v)
        for n, scope in missing:
            role = NEED_ROLE[n]
            ssub = _id_parts(scope)[0]
            who = f'"${var}"' if var else q(principal)
            shown = "<principal-id-printed-by-identity-assign>" if var else principal
            plain = az("role", "assignment", "create", "--subscription", ssub, "--assignee-object-id", shown,
                       "--assignee-principal-type", "ServicePrincipal", "--role", role, "--scope", scope)
            run = (f"has_role {q(ssub)} {who} {role} {q(scope)} || az role assignment create --subscription "
                   f"{q(ssub)} --assignee-object-id {who} --assignee-principal-type ServicePrincipal --role {role} "
                   f"--scope {q(scope)} --output none")
            plan.add(Step(GRANT, vault_sub.get(v, ssub), v, f"grant|{v}|{role}|{scope.lower()}",
                          f"{ROLE_NAMES[role]} ({role}) on {NEED_KIND[n]} {scope} for the identity of {vr}",
                          f"{plain}  # {ROLE_NAMES[role]}", [run]), (rule, v))

    for j, v in enumerate(vc["id"]):
        vr = vc["rid"][j]
        vsub, vrg, vname = _id_parts(vr)
        uses, v2 = bool(vc["uses_pe"][j]), vc["experience"][j] == "v2"
        # RSV-005 (identity), then IAM-001's grants for it
        if uses and not v2 and not vc["system_identity"][j]:
            var = f"principal_{j}"
            # re-run: the identity assigned by the first run is read, not assigned again
            shown = az("backup", "vault", "show", "--subscription", vsub, "--resource-group", vrg, "--name", vname,
                       "--query", "identity.principalId", "--output", "tsv")
            assign = az("backup", "vault", "identity", "assign", "--system-assigned", "--subscription", vsub,
                        "--resource-group", vrg, "--name", vname)
            plan.add(Step(IDENTITY, vsub, v, f"identity|{v}", f"system-assigned identity for vault {vname}",
                          assign + " --query identity.principalId --output tsv",
                          [f"{var}=$({shown} 2>/dev/null || true)",
                           f'[ -n "${var}" ] || {var}=$({assign} --query identity.principalId --output tsv)']),
                     ("RSV-005", v))
            grant_steps(v, "", var, "RSV-005")
        elif uses and not v2 and vc["system_identity"][j] and isinstance(vc["principal_id"][j], str):
            grant_steps(v, vc["principal_id"][j], None, "IAM-001")
        # RSV-001: last, and only once the vault has an approved, healthy backup endpoint
        if uses:
            line = az("backup", "vault", "update", "--subscription", vsub, "--resource-group", vrg, "--name", vname,
                      "--public-network-access", "Disable")
            shown = az("backup", "vault", "show", "--subscription", vsub, "--resource-group", vrg, "--name", vname,
                       "--query", "properties.publicNetworkAccess", "--output", "tsv")
            # the same PATCH through az rest where the backup module cannot read the vault (it needs securitySettings)
            patch = az("rest", "--method", "patch", "--subscription", vsub, "--url",
                       f"{vr}?api-version={VAULT_API}", "--body", '{"properties":{"publicNetworkAccess":"Disabled"}}',
                       "--output", "none")
            usable_now, requires = False, []
            for pe, p in pairs_of_vault.get(v, ()):
                if p["secondary"]:
                    continue
                i = pe_row.get(pe)
                if i is not None and str(ep_cols["prov_state"][i] or "").lower() == "failed":
                    continue
                if set(p["sides"].values()) <= {"approved"}:
                    usable_now = True
                elif (v, pe) in approve_key:
                    requires.append(approve_key[(v, pe)])
            plan.add(Step(PUBLIC, vsub, v, f"public|{v}", f"disable public network access on vault {vname}", line,
                          [f'[ "$({shown} 2>/dev/null)" = Disabled ] || {line} --output none || {patch}'], usable_now=usable_now, requires_any=tuple(requires),
                          blocked_by=tuple(dns_review.get(v, ()))), ("RSV-001", v))
        # RSV-006: a new identity in the new tenant
        it, st = vc["identity_tenant"][j], vc["sub_tenant"][j]
        if isinstance(it, str) and isinstance(st, str) and it != st:
            lines = [az("backup", "vault", "identity", "remove", "--system-assigned", "--subscription", vsub,
                        "--resource-group", vrg, "--name", vname),
                     az("backup", "vault", "identity", "assign", "--system-assigned", "--subscription", vsub,
                        "--resource-group", vrg, "--name", vname)]
            plan.add(Step(REVIEW, vsub, v, f"tenant|{v}", f"re-create the identity of vault {vname} in tenant {st}",
                          "; ".join(lines) + "; then re-create the vault's private endpoints and grant the new "
                          "principal the roles IAM-001 lists", lines,
                          review=f"the vault moved from tenant {it} to {st}: removing its identity stops what "
                                 "the old identity still does, the new principal needs every role granted again, and "
                                 "the private endpoints must be re-created"), ("RSV-006", v))
        # RSV-007 / RSV-002: a new vault, or a new endpoint
        try:
            protected = int(vc["protected_count"][j])
        except (TypeError, ValueError):
            protected = 0
        if not uses:
            if protected > 0:
                line = az("backup", "vault", "create", "--subscription", vsub, "--resource-group", vrg, "--name",
                          "<new-vault-name>", "--location", vc["location"][j] or "<region>")
                plan.add(Step(REVIEW, vsub, v, f"newvault|{v}", f"a new vault beside {vname} for private access", line,
                              [line], review="the vault protects items, so it can get no private endpoint: a new "
                                             "vault (its name is yours to choose) and moving protection to it"),
                         ("RSV-007", v), ("RSV-002", v))
            else:
                line = az("network", "private-endpoint", "create", "--subscription", vsub, "--resource-group", vrg,
                          "--name", f"pe-{vname}", "--subnet", "<subnet-id>", "--private-connection-resource-id", vr,
                          "--group-id", "AzureBackup", "--connection-name", f"pe-{vname}")
                plan.add(Step(REVIEW, vsub, v, f"newpe|{v}", f"a backup private endpoint for vault {vname}", line,
                              [line], review="a new private endpoint needs a subnet with at least 11 free IPs "
                                             "(<subnet-id>: your choice)"), ("RSV-002", v))

    # ------------------------------------------------------------------ providers (SUB-001, SUB-002)
    pv = m.providers
    for pid, sub in zip(pv["id"].tolist(), pv["sub"].tolist()):
        line = az("provider", "register", "--namespace", arm.RECOVERY_SERVICES, "--subscription", sub)
        plan.add(Step(REGISTER, sub, "", f"register|{sub}", f"register {arm.RECOVERY_SERVICES} in {sub}", line,
                      [line, f"wait_registered {q(sub)} {arm.RECOVERY_SERVICES}"]), ("SUB-001", pid), ("SUB-002", pid))

    # ------------------------------------------------------------------ DNS-005: zone group in the vault's subscription
    for pid, zg, foreign, vs in zip(ep["id"].tolist(), ep["zg_zone_ids"].tolist(), ep["foreign_zones"].tolist(),
                                    ep["vault_sub"].tolist()):
        if not foreign:
            continue
        i = pe_row[pid]
        psub, prg, pname = _id_parts(ep_cols["rid"][i])
        vault = ep_cols["vault_id"][i] if isinstance(ep_cols["vault_id"][i], str) else ""
        lines = []
        for z in foreign:
            zn = arm.ZONE_IN_ID.search(z)
            local = [x for x in zones_by_name.get(zn.group(1) if zn else "", []) if zone_sub.get(x) == vs]
            lines.append(az("network", "private-endpoint", "dns-zone-group", "update", "--subscription", psub,
                            "--resource-group", prg, "--endpoint-name", pname, "--name", "<zone-group-name>",
                            "--private-dns-zone", zone_rid.get(local[0], local[0]) if local else
                            "<zone-id-in-the-vault-subscription>"))
        plan.add(Step(REVIEW, psub, vault, f"zonegroup|{pid}", f"zone group of endpoint {pname}", "; ".join(lines),
                      lines, review="moving the zone group to another zone re-creates the endpoint's records there; "
                                    "VMs that resolve from the old zone lose them (choose the group and the zone)"),
                 ("DNS-005", pid))

    # ------------------------------------------------------------------ DNS-006: the zones the custom DNS must forward
    zones_of_vnet: dict[str, set[str]] = {}
    for pid, zn, vnet in zip(fq_cols["pe_id"], fq_cols["zone_name"], fq_cols["vnet_id"]):
        i = pe_row.get(pid)
        if i is not None and isinstance(vnet, str) and (ep_cols["backup"][i] or ep_cols["storage"][i]):
            zones_of_vnet.setdefault(vnet, set()).add(zn)

    steps = list(plan.steps.values())
    by_target: dict[tuple[str, str], list[Step]] = {}
    for s in steps:
        for tg in s.targets:
            by_target.setdefault(tg, []).append(s)
    per_id: dict[str, Fixes] = {}
    for (rule, rid), found in by_target.items():
        per_id.setdefault(rid, Fixes())[rule] = _text(found)
    for vnet, zs in zones_of_vnet.items():
        per_id.setdefault(vnet, Fixes())["DNS-006"] = ", ".join(sorted(zs))
    for view in (m.vaults, m.endpoints, m.subnets, m.vnets, m.providers):  # (no rule on the workloads view reads it)
        view["fixes"] = [per_id.get(rid, _NONE) if isinstance(rid, str) else _NONE for rid in view["id"].tolist()]
    m.steps = steps


def _text(steps: list[Step]) -> str:
    out = []
    for s in sorted(steps, key=lambda s: (s.phase, s.key)):
        if s.review:
            out.append(f"after review ({_clean(s.review)}): {s.command}")
        else:
            out.append(s.command)
    return "; ".join(out)
