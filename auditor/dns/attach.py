"""``--resolve``, the model side: resolve every FQDN of every backup and storage endpoint (:mod:`.lookup`) and put
the verdicts on the endpoints view (rule DNS-007) and the FQDN view (the HTML chain)."""
from __future__ import annotations

import pandas as pd

from ..model import Model


def attach_resolution(m: Model, *, servers=None, timeout: float = 2.0, retries: int = 2) -> pd.DataFrame:
    from .lookup import resolve_fqdns
    ep, fq = m.endpoints, m.fqdns
    wanted = ep.loc[(ep["backup"] | ep["storage"]) & ep["in_input"], "id"]
    fq = fq[fq["pe_id"].isin(set(wanted))]
    res = resolve_fqdns(fq["fqdn"].unique().tolist(), servers=servers, timeout=timeout, retries=retries)
    if res.empty:
        return res
    j = fq[["pe_id", "fqdn", "expected"]].merge(res, on="fqdn", how="left")
    hit = [bool(set(a or ()) & set(e)) for a, e in zip(j["addresses"], j["expected"])]
    j["hit"] = hit
    exp = j["expected"].map(lambda e: ", ".join(e) or "no IP")

    def what(r) -> str:
        if r.status == "ok":
            return f"resolved to {', '.join(r.addresses)}"
        return {"nxdomain": "NXDOMAIN", "noanswer": "no answer", "error": f"error ({r.detail})"}.get(r.status, r.status)

    j["text"] = [f"{r.fqdn}: {what(r)} from {r.server}, expected {x}" for r, x in zip(j.itertuples(index=False), exp)]
    bad = j[(j["status"] != "unreachable") & ~j["hit"]]
    ok = j[j["hit"]]
    unreach = j[j["status"] == "unreachable"]
    for col, part in (("res_bad", bad), ("res_ok", ok), ("res_unreachable", unreach)):
        agg = part.groupby("pe_id")["text"].agg(lambda s: tuple(sorted(s)))
        m.endpoints[col] = [agg.get(i, ()) for i in m.endpoints["id"]]
    # for the HTML chain: the addresses each name resolved to ([] when it did not), None where not asked
    answers = {f: list(a) if st == "ok" else [] for f, st, a in zip(res["fqdn"], res["status"], res["addresses"])
               if st != "unreachable"}
    m.fqdns["resolved"] = [answers.get(f) for f in m.fqdns["fqdn"]]
    return res
