"""Run history: one SQLite file that remembers every audit run and how each finding's state changed.

Layout (stdlib ``sqlite3``; WAL journal, a busy timeout, one ``BEGIN IMMEDIATE`` transaction per run):

``runs``       one row per run: id, uid, scope, time, tool and rule versions, inputs, subscriptions, the summary
               (state counts, compliance %, NonCompliant by severity and by rule), new and resolved counts.
``intervals``  one row per *state interval* of a finding: ``(scope, finding_id, state, first_run, last_run,
               end_run, message)``. ``last_run`` is NULL while the interval is open (the finding still holds that
               state in the scope's latest run); on a change it becomes the last run that saw the state and
               ``end_run`` the run that first saw it otherwise. Only the listed states (NonCompliant, Error,
               Exempt) have intervals: Compliant / NotApplicable / not evaluated is the absence of one. A run in
               which nothing changed therefore writes its ``runs`` row and nothing else: the file grows with
               changes, not with runs.
``findings``   what a finding_id stands for (rule, severity, title, resource), written when it first opens.

A *scope* is one timeline (``--history-scope``; by default ``all``, or ``rules:ID,...`` when ``--rule`` narrows the
audit): the previous run of the same scope is the baseline. Two runs writing one file at once serialize on the
write lock (the second waits, up to the busy timeout, and then sees the first as its previous run); a run killed
half-way rolls back as a whole (SQLite's atomic commit), leaving no partial run.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 120.0
TRACKED = ("NonCompliant", "Error", "Exempt")
SEVERITIES = ("Critical", "High", "Medium", "Low", "Informational")
STATES = ("Compliant", "NonCompliant", "Exempt", "Error", "NotApplicable")
DAY = 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  run_id INTEGER PRIMARY KEY AUTOINCREMENT,
  uid TEXT NOT NULL UNIQUE,
  scope TEXT NOT NULL,
  started_at TEXT NOT NULL,
  started_ts REAL NOT NULL,
  tool_version TEXT,
  rules_version TEXT,
  inputs TEXT,
  subscriptions TEXT,
  evaluations INTEGER NOT NULL,
  compliance_pct REAL,
  noncompliant INTEGER NOT NULL,
  new INTEGER NOT NULL,
  resolved INTEGER NOT NULL,
  summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_scope ON runs (scope, run_id);
CREATE TABLE IF NOT EXISTS findings (
  finding_id TEXT PRIMARY KEY,
  rule_id TEXT, severity TEXT, title TEXT, resource_id TEXT, resource_name TEXT, resource_type TEXT,
  subscription_id TEXT, vault_id TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS intervals (
  scope TEXT NOT NULL,
  finding_id TEXT NOT NULL,
  state TEXT NOT NULL,
  first_run INTEGER NOT NULL REFERENCES runs (run_id),
  last_run INTEGER REFERENCES runs (run_id),
  end_run INTEGER REFERENCES runs (run_id),
  message TEXT
);
CREATE INDEX IF NOT EXISTS open_intervals ON intervals (scope, finding_id) WHERE last_run IS NULL;
CREATE INDEX IF NOT EXISTS intervals_by_finding ON intervals (finding_id);
"""
_META_COLS = ("finding_id", "rule_id", "severity", "title", "resource_id", "resource_name", "resource_type",
              "subscription_id", "vault_id")


class HistoryError(Exception):
    """The history file cannot be opened, is not ours, or could not be written."""


def _before_commit() -> None:
    """Called inside the run's transaction just before COMMIT (tests pause here to kill the process)."""


def parse_time(text: str) -> datetime:
    """ISO 8601 (a trailing Z allowed; no zone means UTC) -> aware UTC datetime."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-29T02:00:00Z)") from None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def connect(path: str | os.PathLike, *, create: bool = True) -> sqlite3.Connection:
    p = Path(path)
    if not create and not p.exists():
        raise HistoryError(f"{path}: no such history file (record runs with 'auditor audit --history {path}')")
    try:
        if create and p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(p), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:   # switching to WAL needs a moment's exclusive lock; a concurrent first open may hold it
            try:
                mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        if str(mode).lower() != "wal":
            raise HistoryError(f"{path}: cannot use a write-ahead log (journal mode {mode})")
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise HistoryError(f"{path}: history schema {row[0]} is newer than this auditor's ({SCHEMA_VERSION})")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return con
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: not a usable history database: {exc}") from None


@dataclass
class Recorded:
    run_id: int
    uid: str
    scope: str
    started_at: str
    previous: dict | None                 # the scope's previous run: run_id, uid, started_at; None on the first
    change: list[str]                     # per findings row: new / unchanged on NonCompliant rows, "" otherwise
    resolved: list[dict] = field(default_factory=list)   # previous NonCompliant findings no longer NonCompliant
    new: int = 0


def _by_rule(findings: pd.DataFrame) -> dict[str, dict[str, int]]:
    if not len(findings):
        return {}
    g = findings.groupby(["rule_id", "compliance_state"]).size()
    out: dict[str, dict[str, int]] = {}
    for (rule, state), n in g.items():
        out.setdefault(str(rule), {})[str(state)] = int(n)
    return out


def record_run(path: str | os.PathLike, findings: pd.DataFrame, summary: dict, *, scope: str, started: datetime,
               tool_version: str = "", rules_version: str = "", inputs: Iterable[str] = (),
               subscriptions: Iterable[str] = ()) -> Recorded:
    """Record one run in one transaction; return its id, its baseline (the scope's previous run) and the change of
    every row against that baseline."""
    con = connect(path)
    try:
        return _record(con, findings, summary, scope=scope, started=started, tool_version=tool_version,
                       rules_version=rules_version, inputs=list(inputs), subscriptions=list(subscriptions))
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: cannot record the run: {exc}") from None
    finally:
        con.close()


def _record(con, findings, summary, *, scope, started, tool_version, rules_version, inputs, subscriptions):
    fid = findings["finding_id"].tolist()
    state = findings["compliance_state"].tolist()
    listed = [i for i, s in enumerate(state) if s in TRACKED]
    current = {fid[i]: i for i in listed}
    msgs = findings["message"].tolist() if "message" in findings.columns else [""] * len(findings)
    run_summary = {"by_state": summary.get("by_state"), "noncompliant_by_severity":
                   summary.get("noncompliant_by_severity"), "by_rule": _by_rule(findings)}
    uid = str(uuid.uuid4())
    con.execute("BEGIN IMMEDIATE")
    try:
        prev = con.execute("SELECT run_id, uid, started_at FROM runs WHERE scope = ? ORDER BY run_id DESC LIMIT 1",
                           (scope,)).fetchone()
        open_rows = con.execute("SELECT rowid, finding_id, state, message FROM intervals "
                                "WHERE scope = ? AND last_run IS NULL", (scope,)).fetchall()
        cur = con.execute(
            "INSERT INTO runs (uid, scope, started_at, started_ts, tool_version, rules_version, inputs, subscriptions,"
            " evaluations, compliance_pct, noncompliant, new, resolved, summary)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)",
            (uid, scope, iso(started), started.timestamp(), tool_version, rules_version, json.dumps(inputs),
             json.dumps(subscriptions), int(summary.get("evaluations", len(findings))), summary.get("compliance_pct"),
             int((summary.get("by_state") or {}).get("NonCompliant", 0)),
             json.dumps(run_summary, separators=(",", ":"), sort_keys=True)))
        run_id = cur.lastrowid
        open_state = {}
        closing = []
        resolved_ids = []
        for rowid, f, st, msg in open_rows:
            open_state[f] = st
            i = current.get(f)
            if i is None or state[i] != st:
                closing.append((prev[0] if prev else run_id, run_id, rowid))
                if st == "NonCompliant":
                    resolved_ids.append((f, msg))
        if closing:
            con.executemany("UPDATE intervals SET last_run = ?, end_run = ? WHERE rowid = ?", closing)
        opening = [i for f, i in current.items() if open_state.get(f) != state[i]]
        if opening:
            con.executemany("INSERT INTO intervals (scope, finding_id, state, first_run, message) VALUES (?, ?, ?, ?, ?)",
                            [(scope, fid[i], state[i], run_id, str(msgs[i] or "")) for i in opening])
            cols = [c for c in _META_COLS if c in findings.columns]
            sub = findings.iloc[opening][cols]
            con.executemany(f"INSERT OR REPLACE INTO findings ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                            [tuple("" if v is None or (isinstance(v, float) and v != v) else str(v) for v in row)
                             for row in sub.itertuples(index=False, name=None)])
        change = [""] * len(findings)
        new = 0
        for f, i in current.items():
            if state[i] == "NonCompliant":
                if open_state.get(f) == "NonCompliant":
                    change[i] = "unchanged"
                else:
                    change[i] = "new"
                    new += 1
        resolved = []
        if resolved_ids:
            meta = _finding_meta(con, [f for f, _ in resolved_ids])
            for f, msg in resolved_ids:
                m = meta.get(f, {"finding_id": f})
                resolved.append({**m, "compliance_state": "NonCompliant", "message": msg})
        resolved.sort(key=lambda r: (SEVERITIES.index(r["severity"]) if r.get("severity") in SEVERITIES else 9,
                                     r.get("rule_id") or "", (r.get("resource_id") or "").lower()))
        con.execute("UPDATE runs SET new = ?, resolved = ? WHERE run_id = ?", (new, len(resolved), run_id))
        _before_commit()
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    previous = {"run_id": prev[0], "uid": prev[1], "started_at": prev[2]} if prev else None
    return Recorded(run_id, uid, scope, iso(started), previous, change, resolved, new)


def _finding_meta(con, ids: list[str]) -> dict[str, dict]:
    out = {}
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        for row in con.execute(f"SELECT {', '.join(_META_COLS)} FROM findings WHERE finding_id IN "
                               f"({', '.join('?' * len(chunk))})", chunk):
            out[row[0]] = dict(zip(_META_COLS, row))
    return out


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


# ------------------------------------------------------------------------------------------------ auditor history

SECTIONS = ("runs", "rules", "severity", "open", "mttr")


def add_history_command_options(p) -> None:
    p.add_argument("--db", metavar="PATH", default=None,
                   help="history file written by 'audit --history' (default $AUDITOR_HISTORY, else "
                        "./auditor-history.sqlite)")
    p.add_argument("--scope", metavar="NAME", help="only this timeline (default: every scope)")
    p.add_argument("--since", metavar="TIME", help="only runs at or after this ISO 8601 time or date")
    p.add_argument("--last", type=int, metavar="N", help="only the last N runs")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--section", choices=SECTIONS, default=None,
                   help="csv: which table to print (default runs); table: only this one")


def _section_rows(data: dict, section: str) -> tuple[list[str], list[list]]:
    runs = data["runs"]
    if section == "runs":
        head = ["run_id", "scope", "started_at", "evaluations", "compliance_pct", "noncompliant", "new", "resolved",
                *[f"nc_{s.lower()}" for s in SEVERITIES], "tool_version", "rules_version"]
        return head, [[r["run_id"], r["scope"], r["started_at"], r["evaluations"], r["compliance_pct"],
                       r["noncompliant"], r["new"], r["resolved"],
                       *[r["noncompliant_by_severity"][s] for s in SEVERITIES], r["tool_version"],
                       r["rules_version"]] for r in runs]
    if section == "rules":
        return (["rule_id", *[f"run_{r['run_id']}" for r in runs]],
                [[t["rule_id"], *t["noncompliant"]] for t in data["rule_trend"]])
    if section == "severity":
        return (["severity", *[f"run_{r['run_id']}" for r in runs]],
                [[s, *[r["noncompliant_by_severity"][s] for r in runs]] for s in SEVERITIES])
    if section == "open":
        return (["scope", "finding_id", "severity", "rule_id", "resource_id", "first_seen", "age_days"],
                [[o["scope"], o["finding_id"], o["severity"], o["rule_id"], o["resource_id"], o["first_seen"],
                  o["age_days"]] for o in data["open"]])
    return (["by", "key", "resolved", "mean_days"],
            [["rule", m["rule_id"], m["resolved"], m["mean_days"]] for m in data["mttr"]["by_rule"]]
            + [["severity", m["severity"], m["resolved"], m["mean_days"]] for m in data["mttr"]["by_severity"]])


def cmd_history(args) -> int:
    import sys
    path = args.db or os.environ.get("AUDITOR_HISTORY") or "auditor-history.sqlite"
    since = None
    if args.since:
        try:
            since = parse_time(args.since)
        except ValueError as exc:
            raise HistoryError(f"argument --since: {exc}") from None
    if args.last is not None and args.last < 1:
        raise HistoryError("argument --last: must be at least 1")
    data = report(path, scope=args.scope, since=since, last=args.last)
    if args.format == "json":
        sys.stdout.write(json.dumps({"db": str(path), **data}, indent=1) + "\n")
        return 0
    if args.format == "csv":
        import csv
        head, rows = _section_rows(data, args.section or "runs")
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(head)
        for row in rows:   # no formula injection: a cell that a spreadsheet would evaluate is quoted as text
            w.writerow(["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    console = Console(highlight=False, width=160)
    titles = {"runs": "Runs", "rules": "NonCompliant by rule, per run", "severity": "NonCompliant by severity, per run",
              "open": "Open NonCompliant findings (oldest first)", "mttr": "Mean time to resolve (days)"}
    if not data["runs"]:
        console.print("No runs recorded" + (" in this range." if since or args.scope else "."))
        return 0
    for section in ([args.section] if args.section else SECTIONS):
        head, rows = _section_rows(data, section)
        if section == "runs":   # short headings, no versions: fits a terminal
            head = ["run", "scope", "started", "evaluations", "compliance %", "NC", "new", "resolved", "crit", "high",
                    "med", "low", "info"]
            rows = [r[:13] for r in rows]
        if section in ("rules", "severity") and len(head) > 13:   # the last 12 runs fit a terminal
            head = head[:1] + head[-12:]
            rows = [r[:1] + r[-12:] for r in rows]
        if section == "open" and len(rows) > 50:
            title = f"{titles[section]}: {len(rows)}, the 50 oldest shown"
            rows = rows[:50]
        else:
            title = titles[section]
        t = Table(title=title)
        for i, h in enumerate(head):
            t.add_column(h, justify="right" if i and section != "open" else "left")
        for row in rows:
            t.add_row(*[escape("" if v is None else str(v)) for v in row])
        console.print(t)
    return 0
