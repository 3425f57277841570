"""The per-vault resolution chains the HTML report draws, from the prepared views."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .workloads import chain_entries

if TYPE_CHECKING:
    from . import Model


def chains(m: Model) -> list[dict]:
    """The per-vault resolution chain for the HTML report: vault -> endpoints -> FQDNs -> zone -> record -> link.

    Built from the prepared views with column operations; the only loops are over the output rows."""
    ep, fq = m.endpoints, m.fqdns
    pes = ep[ep["backup"] | ep["storage"]]
    if "resolved" not in fq:
        fq = fq.assign(resolved=None)
    fq = fq.merge(pes[["id", "custom_dns"]].rename(columns={"id": "pe_id"}), on="pe_id")
    broken = np.select([fq["custom_dns"], ~fq["linked"], ~fq["has_record"], fq["stale"]],
                       [None, "no zone linked to the VNet", "no A record", "stale A record"], default=None)
    zone_rid = fq["zone_rid"].where(fq["zone_rid"].notna(), fq["zone_id"])
    recs = [dict(fqdn=f, expected_ips=list(e), zone_name=z, zone_id=zi if isinstance(zi, str) else None,
                 linked=bool(li), record_ips=list(r), resolved=rv, broken=b)
            for f, e, z, zi, li, r, rv, b in zip(fq["fqdn"], fq["expected"], fq["zone_name"], zone_rid, fq["linked"],
                                                   fq["record_ips"], fq["resolved"], broken)]
    by_pe: dict[str, list] = {}
    for pid, rec in zip(fq["pe_id"], recs):
        by_pe.setdefault(pid, []).append(rec)
    status = [", ".join(c) or (p if isinstance(p, str) else "") for c, p in zip(pes["conn_states"], pes["prov_state"])]
    pe_recs = [(vs, dict(pe_id=rid, pe_name=n, kind="backup" if b else "storage", status=st, in_input=bool(ii),
                         custom_dns=bool(cd), fqdns=by_pe.get(i, [])))
               for i, rid, n, b, st, ii, cd, vs in zip(pes["id"], pes["rid"], pes["name"], pes["backup"], status,
                                                        pes["in_input"], pes["custom_dns"], pes["related_vaults"])]
    by_vault: dict[str, list] = {}
    for vs, rec in pe_recs:
        for v in vs:
            by_vault.setdefault(v, []).append(rec)
    bad_status = ("pending", "rejected", "disconnected", "failed")
    workloads = chain_entries(m.workloads)
    out = []
    users = m.vaults[m.vaults["uses_pe"]]
    for vid, rid, name, sub, exp, why in zip(users["id"], users["rid"], users["name"], users["sub"], users["experience"],
                                             users["experience_evidence"]):
        eps = sorted(by_vault.get(vid, []), key=lambda r: (r["kind"] != "backup", r["pe_name"] or ""))
        n_broken = sum(1 for e in eps for f in e["fqdns"] if f["broken"]) + sum(
            1 for e in eps if any(b in e["status"].lower() for b in bad_status))
        wls = workloads.get(vid, [])
        out.append(dict(vault_id=rid, vault_name=name, subscription_id=sub, experience=exp, endpoints=eps,
                        experience_evidence=why, workloads=wls,
                        broken_links=n_broken + sum(1 for w in wls if w["broken"])))
    return out
