"""Reading the history: runs, trends, open findings and their age, time to resolve."""
from __future__ import annotations


import json
import os
from datetime import datetime
from typing import Any


from ..rule import SEVERITIES
from .store import DAY, Recorded, connect

# ------------------------------------------------------------------------------------------------ reading

def _runs(con, scope: str | None, since: datetime | None) -> list[dict]:
    q = "SELECT run_id, uid, scope, started_at, started_ts, tool_version, rules_version, inputs, subscriptions, " \
        "evaluations, compliance_pct, noncompliant, new, resolved, summary FROM runs"
    where, args = [], []
    if scope is not None:
        where.append("scope = ?")
        args.append(scope)
    if since is not None:
        where.append("started_ts >= ?")
        args.append(since.timestamp())
    if where:
        q += " WHERE " + " AND ".join(where)
    out = []
    for r in con.execute(q + " ORDER BY run_id", args):
        s = json.loads(r[14])
        out.append({"run_id": r[0], "uid": r[1], "scope": r[2], "started_at": r[3], "started_ts": r[4],
                    "tool_version": r[5], "rules_version": r[6], "inputs": json.loads(r[7] or "[]"),
                    "subscriptions": json.loads(r[8] or "[]"), "evaluations": r[9], "compliance_pct": r[10],
                    "noncompliant": r[11], "new": r[12], "resolved": r[13],
                    "noncompliant_by_severity": {k: int((s.get("noncompliant_by_severity") or {}).get(k, 0))
                                                 for k in SEVERITIES},
                    "by_state": s.get("by_state") or {}, "by_rule": s.get("by_rule") or {}})
    return out


def _days(seconds: float) -> float:
    return round(seconds / DAY, 2)


def report(path: str | os.PathLike, *, scope: str | None = None, since: datetime | None = None,
           last: int | None = None) -> dict:
    """Everything ``auditor history`` shows and the HTML trend draws, as plain data.

    ``runs``: each run (oldest first) with compliance %, NonCompliant by severity, new and resolved counts.
    ``rule_trend``: NonCompliant per rule per run. ``open``: the NonCompliant findings open in each scope's latest
    run, with their age (days from the run that first saw them to that latest run). ``mttr``: mean time to
    resolve (days from first seen to the run that first saw it no longer NonCompliant) per rule and per severity,
    over the intervals that closed within the runs shown."""
    con = connect(path, create=False)
    try:
        con.execute("BEGIN")   # one consistent snapshot for every query
        runs = _runs(con, scope, since)
        if last:
            runs = runs[-last:]
        by_id = {r["run_id"]: r for r in runs}
        scopes = sorted({r["scope"] for r in runs})
        # latest run per scope (over all of history, so an open finding's age is as of the newest run)
        latest = {}
        for sc in scopes:
            row = con.execute("SELECT run_id, started_ts, started_at FROM runs WHERE scope = ? ORDER BY run_id DESC "
                              "LIMIT 1", (sc,)).fetchone()
            latest[sc] = row
        ts = dict(con.execute("SELECT run_id, started_ts FROM runs"))
        at = dict(con.execute("SELECT run_id, started_at FROM runs"))
        open_f = []
        for sc in scopes:
            for f, first, msg, rule, sev, title, rid, rname in con.execute(
                    "SELECT i.finding_id, i.first_run, i.message, f.rule_id, f.severity, f.title, f.resource_id, "
                    "f.resource_name FROM intervals i LEFT JOIN findings f USING (finding_id) "
                    "WHERE i.scope = ? AND i.last_run IS NULL AND i.state = 'NonCompliant'", (sc,)):
                open_f.append({"scope": sc, "finding_id": f, "rule_id": rule, "severity": sev, "title": title,
                               "resource_id": rid, "resource_name": rname, "message": msg,
                               "first_seen": at.get(first), "age_days": _days(latest[sc][1] - ts[first])})
        open_f.sort(key=lambda r: (-r["age_days"], SEVERITIES.index(r["severity"]) if r["severity"] in SEVERITIES
                                   else 9, r["rule_id"] or "", (r["resource_id"] or "").lower()))
        closed = con.execute(
            "SELECT i.finding_id, i.first_run, i.end_run, f.rule_id, f.severity FROM intervals i "
            "LEFT JOIN findings f USING (finding_id) WHERE i.state = 'NonCompliant' AND i.end_run IS NOT NULL"
            + (" AND i.scope = ?" if scope is not None else ""), (scope,) if scope is not None else ()).fetchall()
        con.execute("COMMIT")
    finally:
        con.close()
    shown = set(by_id)
    per_rule: dict[str, list[float]] = {}
    per_sev: dict[str, list[float]] = {}
    for f, first, end, rule, sev in closed:
        if end not in shown:
            continue
        d = ts[end] - ts[first]
        per_rule.setdefault(rule or "?", []).append(d)
        per_sev.setdefault(sev or "?", []).append(d)
    mttr = {"by_rule": [{"rule_id": k, "resolved": len(v), "mean_days": _days(sum(v) / len(v))}
                        for k, v in sorted(per_rule.items())],
            "by_severity": [{"severity": k, "resolved": len(v), "mean_days": _days(sum(v) / len(v))}
                            for k, v in sorted(per_sev.items(), key=lambda kv: SEVERITIES.index(kv[0])
                                               if kv[0] in SEVERITIES else 9)]}
    rules = sorted({rule for r in runs for rule in r["by_rule"]})
    rule_trend = [{"rule_id": rule, "noncompliant": [int(r["by_rule"].get(rule, {}).get("NonCompliant", 0))
                                                     for r in runs]} for rule in rules]
    for r in runs:
        r.pop("by_rule")
    return {"runs": runs, "rule_trend": rule_trend, "open": open_f, "mttr": mttr}


def trend_for_report(path: str | os.PathLike, scope: str, run_id: int, last: int = 30) -> dict:
    """The trend section of report.html: the last ``last`` runs of ``scope`` up to ``run_id``, and the age of each
    finding open in it."""
    data = report(path, scope=scope)
    runs = [r for r in data["runs"] if r["run_id"] <= run_id][-last:]
    return {"runs": [{k: r[k] for k in ("run_id", "started_at", "compliance_pct", "noncompliant",
                                        "noncompliant_by_severity", "new", "resolved")} for r in runs],
            "open": data["open"], "mttr": data["mttr"]}


def report_meta(path: str | os.PathLike, rec: Recorded, *, baseline_file: str | None) -> dict:
    """What the reports learn from the history: where the run was recorded, the baseline it was compared with
    (unless --baseline named a file, which wins), and the trend report.html draws."""
    out: dict[str, Any] = {"history": {"db": str(path), "scope": rec.scope, "run_id": rec.run_id, "uid": rec.uid,
                                       "started_at": rec.started_at, "previous": rec.previous,
                                       "baseline": "file" if baseline_file else ("history" if rec.previous else None)},
                           "trend": trend_for_report(path, rec.scope, rec.run_id)}
    if baseline_file is None and rec.previous is not None:
        out["baseline"] = f"history run {rec.previous['run_id']} ({rec.previous['started_at']}) in {path}"
    return out
