"""Role fixes (IAM-001, and the grants RSV-005's new identity needs): what each vault's identity must hold once the
plan has run, what it holds now, and the role assignments in between."""
from __future__ import annotations

from ... import arm
from ..iam import NEEDS, custom_grants
from .common import GRANT, NEED_KIND, NEED_ROLE, ROLE_NAMES, Plan, Step, az, id_parts, q, rg_scope
from .lookups import Lookups

Granted = dict[tuple[str, str], list[str]]   # (lower-cased principal id, need) -> lower-cased scopes it holds
Needs = dict[str, set[tuple[str, str]]]      # vault id -> (need, scope id as ARM spells it)


def granted_roles(roles, role_defs) -> Granted:
    """The scopes at which each principal holds each need (a built-in role or a custom role granting it)."""
    grants = custom_grants(role_defs)
    granted: Granted = {}
    for pr, g, sc in zip(roles["principal_id"].tolist(), roles["role_guid"].tolist(), roles["scope"].tolist()):
        if not isinstance(pr, str) or not isinstance(sc, str):
            continue
        for n, (builtin, _, _) in NEEDS.items():
            if g in builtin or n in grants.get(g, ()):
                granted.setdefault((pr.lower(), n), []).append(sc.lower())
    return granted


def needed_roles(lk: Lookups, planned_links: dict[str, set[str]]) -> Needs:
    """What each vault's identity must hold once the plan has run: its endpoints' resource groups and VNets, and the
    blob and queue zones linked to its storage endpoints' VNets (including the links the plan adds)."""
    ep = lk.ep
    needs: Needs = {}
    for i, pid in enumerate(ep["id"]):
        for v in ep["vault_ids"][i]:
            want = needs.setdefault(v, set())
            if arm.RG_PREFIX.match(pid):
                want.add(("rg", rg_scope(ep["rid"][i])))
            vn = ep["vnet_id"][i]
            if isinstance(vn, str):
                want.add(("vnet", lk.vnet_rid.get(vn, vn)))
    storage_rows = {pid: i for pid, i in lk.pe_row.items() if ep["storage"][i]}
    for pid, zn, vnet, lz in zip(lk.fq["pe_id"], lk.fq["zone_name"], lk.fq["vnet_id"], lk.fq["linked_zone_ids"]):
        i = storage_rows.get(pid)
        if i is None or not zn.startswith(("privatelink.blob.", "privatelink.queue.")):
            continue
        zs = set(lz) or {z for z in planned_links.get(vnet, ()) if z in lk.zones_by_name.get(zn, ())}
        for v in ep["related_vaults"][i]:
            needs.setdefault(v, set()).update(("zone", lk.zone_rid.get(z, z)) for z in zs)
    return needs


def grant_steps(plan: Plan, lk: Lookups, needs: Needs, granted: Granted, v: str, principal: str, var: str | None,
                rule: str) -> None:
    """One step per role vault v's identity lacks; var names the shell variable holding a principal the plan
    creates (then principal is '')."""
    missing = sorted((n, sc) for n, sc in needs.get(v, ()) if not any(
        arm.covers(g, sc.lower()) for g in granted.get((principal.lower(), n), ())))
    vr = lk.vault_rid.get(v, v)
    for n, scope in missing:
        role = NEED_ROLE[n]
        ssub = id_parts(scope)[0]
        who = f'"${var}"' if var else q(principal)
        shown = "<principal-id-printed-by-identity-assign>" if var else principal
        plain = az("role", "assignment", "create", "--subscription", ssub, "--assignee-object-id", shown,
                   "--assignee-principal-type", "ServicePrincipal", "--role", role, "--scope", scope)
        run = (f"has_role {q(ssub)} {who} {role} {q(scope)} || az role assignment create --subscription "
               f"{q(ssub)} --assignee-object-id {who} --assignee-principal-type ServicePrincipal --role {role} "
               f"--scope {q(scope)} --output none")
        plan.add(Step(GRANT, lk.vault_sub.get(v, ssub), v, f"grant|{v}|{role}|{scope.lower()}",
                      f"{ROLE_NAMES[role]} ({role}) on {NEED_KIND[n]} {scope} for the identity of {vr}",
                      f"{plain}  # {ROLE_NAMES[role]}", [run]), (rule, v))
