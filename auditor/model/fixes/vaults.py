"""Vault fixes: the identity and its grants (RSV-005, IAM-001), public network access (RSV-001), a vault moved to
another tenant (RSV-006), a vault without a private endpoint (RSV-002, RSV-007); and the providers (SUB-001, SUB-002).
"""
from __future__ import annotations

from collections.abc import Iterable

from ... import arm
from .common import IDENTITY, PUBLIC, REGISTER, REVIEW, VAULT_API, Plan, Step, az, id_parts, q
from .lookups import Lookups
from .roles import Granted, Needs, grant_steps

VAULT_COLUMNS = ("id", "rid", "name", "sub", "rg", "location", "uses_pe", "experience", "system_identity",
                 "principal_id", "identity_tenant", "sub_tenant", "identity_type", "protected_count")


def vault_fixes(plan: Plan, lk: Lookups, vaults, needs: Needs, granted: Granted,
                pairs_of_vault: dict[str, list[tuple[str, dict]]], approve_key: dict[tuple[str, str], str],
                dns_review: dict[str, list[str]]) -> None:
    """Every vault's steps, in the order RSV-005/IAM-001, RSV-001, RSV-006, RSV-007/RSV-002."""
    vc = {c: vaults[c].tolist() for c in VAULT_COLUMNS}
    for j, v in enumerate(vc["id"]):
        vr = vc["rid"][j]
        uses, v2 = bool(vc["uses_pe"][j]), vc["experience"][j] == "v2"
        if uses and not v2:
            _identity_fixes(plan, lk, needs, granted, vc, j)
        if uses:
            _public_access_fix(plan, lk, v, vr, pairs_of_vault.get(v, ()), approve_key, dns_review.get(v, ()))
        _tenant_fix(plan, vc, j)
        if not uses:
            _new_vault_or_endpoint(plan, vc, j)


def _identity_fixes(plan: Plan, lk: Lookups, needs: Needs, granted: Granted, vc: dict[str, list], j: int) -> None:
    """RSV-005 (a system-assigned identity), then IAM-001's grants for it; or IAM-001's grants for the existing one."""
    v = vc["id"][j]
    vsub, vrg, vname = id_parts(vc["rid"][j])
    if not vc["system_identity"][j]:
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
        grant_steps(plan, lk, needs, granted, v, "", var, "RSV-005")
    elif isinstance(vc["principal_id"][j], str):
        grant_steps(plan, lk, needs, granted, v, vc["principal_id"][j], None, "IAM-001")


def _public_access_fix(plan: Plan, lk: Lookups, v: str, vr: str, pairs: Iterable[tuple[str, dict]],
                       approve_key: dict[tuple[str, str], str], dns_review: Iterable[str]) -> None:
    """RSV-001: last, and only once the vault has an approved, healthy backup endpoint."""
    vsub, vrg, vname = id_parts(vr)
    line = az("backup", "vault", "update", "--subscription", vsub, "--resource-group", vrg, "--name", vname,
              "--public-network-access", "Disable")
    shown = az("backup", "vault", "show", "--subscription", vsub, "--resource-group", vrg, "--name", vname,
               "--query", "properties.publicNetworkAccess", "--output", "tsv")
    # the same PATCH through az rest where the backup module cannot read the vault (it needs securitySettings)
    patch = az("rest", "--method", "patch", "--subscription", vsub, "--url",
               f"{vr}?api-version={VAULT_API}", "--body", '{"properties":{"publicNetworkAccess":"Disabled"}}',
               "--output", "none")
    usable_now, requires = False, []
    for pe, p in pairs:
        if p["secondary"]:
            continue
        i = lk.pe_row.get(pe)
        if i is not None and str(lk.ep["prov_state"][i] or "").lower() == "failed":
            continue
        if set(p["sides"].values()) <= {"approved"}:
            usable_now = True
        elif (v, pe) in approve_key:
            requires.append(approve_key[(v, pe)])
    plan.add(Step(PUBLIC, vsub, v, f"public|{v}", f"disable public network access on vault {vname}", line,
                  [f'[ "$({shown} 2>/dev/null)" = Disabled ] || {line} --output none || {patch}'],
                  usable_now=usable_now, requires_any=tuple(requires), blocked_by=tuple(dns_review)),
             ("RSV-001", v))


def _tenant_fix(plan: Plan, vc: dict[str, list], j: int) -> None:
    """RSV-006: a new identity in the new tenant (a review step)."""
    v = vc["id"][j]
    vsub, vrg, vname = id_parts(vc["rid"][j])
    it, st = vc["identity_tenant"][j], vc["sub_tenant"][j]
    if not (isinstance(it, str) and isinstance(st, str) and it != st):
        return
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


def _new_vault_or_endpoint(plan: Plan, vc: dict[str, list], j: int) -> None:
    """RSV-007 / RSV-002: a new vault (the vault protects items), or a new endpoint (review steps)."""
    v, vr = vc["id"][j], vc["rid"][j]
    vsub, vrg, vname = id_parts(vr)
    try:
        protected = int(vc["protected_count"][j])
    except (TypeError, ValueError):
        protected = 0
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


def provider_fixes(plan: Plan, providers) -> None:
    """SUB-001 / SUB-002: register (or re-register) Microsoft.RecoveryServices in each subscription listed."""
    for pid, sub in zip(providers["id"].tolist(), providers["sub"].tolist()):
        line = az("provider", "register", "--namespace", arm.RECOVERY_SERVICES, "--subscription", sub)
        plan.add(Step(REGISTER, sub, "", f"register|{sub}", f"register {arm.RECOVERY_SERVICES} in {sub}", line,
                      [line, f"wait_registered {q(sub)} {arm.RECOVERY_SERVICES}"]), ("SUB-001", pid), ("SUB-002", pid))
