"""Endpoint fixes: approve the vault's side of a connection (PE-001), re-create a failed endpoint (PE-002)."""
from __future__ import annotations

from ... import arm
from .common import APPROVE, REVIEW, Plan, Step, az, id_parts
from .lookups import Lookups

Pairs = dict[tuple[str, str], dict]   # (vault id, endpoint id) -> {"secondary", "sides": {side: status}, "conn"}


def connection_pairs(conns) -> Pairs:
    """The backup connections of the conns table, one entry per (vault, endpoint) with the status of each side."""
    pairs: Pairs = {}
    for v, pe, backup, secondary, status, side, cid in zip(*(conns[c].tolist() for c in (
            "vault_id", "pe_id", "backup", "secondary", "status", "side", "conn_id"))):
        if not backup:
            continue
        p = pairs.setdefault((v, pe), {"secondary": bool(secondary), "sides": {}, "conn": None})
        p["sides"][side] = (status or "").lower() if isinstance(status, str) else ""
        if side == "vault" and isinstance(cid, str) and cid:
            p["conn"] = cid
    return pairs


def approval_fixes(plan: Plan, lk: Lookups, pairs: Pairs) -> dict[tuple[str, str], str]:
    """PE-001: approve each pending connection; returns (vault id, endpoint id) -> the key of its approval step."""
    approve_key: dict[tuple[str, str], str] = {}
    for (v, pe), p in pairs.items():
        states = set(p["sides"].values())
        if states <= {"approved"}:
            continue
        vr = lk.vault_rid.get(v, v)
        vsub, vrg, vname = id_parts(vr)
        if states & {"rejected", "disconnected"} or not p["conn"]:
            _approval_review_step(plan, lk, v, pe, vr, states)
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
    return approve_key


def _approval_review_step(plan: Plan, lk: Lookups, v: str, pe: str, vr: str, states: set[str]) -> None:
    """PE-001 where approving is not enough (a rejected or disconnected side) or the connection's name is unknown."""
    vsub, vrg, vname = id_parts(vr)
    why = ("a rejected or disconnected connection cannot be approved again: the endpoint must be deleted "
           "and re-created, which cuts its traffic until the new one is approved"
           if states & {"rejected", "disconnected"} else
           "the vault's side of the connection is not in the input: find its name first with "
           f"az network private-endpoint-connection list --id {vr}")
    i = lk.pe_row.get(pe)
    pr = lk.ep["rid"][i] if i is not None else pe
    lines = [az("network", "private-endpoint", "delete", "--ids", pr)] if states & {"rejected",
                                                                                "disconnected"} else []
    lines.append(az("network", "private-endpoint-connection", "approve", "--subscription", vsub,
                    "--resource-group", vrg, "--resource-name", vname, "--type", arm.VAULT,
                    "--name", "<connection-name>"))
    plan.add(Step(REVIEW, vsub, v, f"approve-review|{v}|{pe}", f"connection of endpoint {pr} to {vr}",
                  "; ".join(lines), lines, review=why), ("PE-001", pe))


def failed_endpoint_fixes(plan: Plan, lk: Lookups) -> None:
    """PE-002: delete and re-create each failed backup or storage endpoint of the input (a review step)."""
    ep = lk.ep
    for i, pid in enumerate(ep["id"]):
        if not (ep["in_input"][i] and (ep["backup"][i] or ep["storage"][i])):
            continue
        if str(ep["prov_state"][i] or "").lower() != "failed":
            continue
        pr = ep["rid"][i]
        psub, prg, pname = id_parts(pr)
        vault = lk.vault_of(i)
        lines = [az("network", "private-endpoint", "delete", "--subscription", psub, "--resource-group", prg,
                    "--name", pname)]
        if ep["backup"][i] and isinstance(ep["subnet_id"][i], str):
            for v in ep["vault_ids"][i]:
                lines.append(az("network", "private-endpoint", "create", "--subscription", psub, "--resource-group",
                                prg, "--name", pname, "--subnet", ep["subnet_id"][i],
                                "--private-connection-resource-id", lk.vault_rid.get(v, v), "--group-id",
                                "AzureBackup", "--connection-name", pname))
            why = ("deleting and re-creating the endpoint cuts backup traffic through it until the new one is approved "
                   "and its DNS records point at its new IPs")
        else:
            why = ("deleting the storage endpoint is irreversible; the vault re-creates storage endpoints as it "
                   "allocates storage")
        plan.add(Step(REVIEW, psub, vault, f"recreate|{pid}", f"re-create failed endpoint {pname}", "; ".join(lines),
                      lines, review=why), ("PE-002", pid))
