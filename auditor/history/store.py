"""Writing the history: the schema, the connection (WAL, busy timeout) and one transaction per run."""
from __future__ import annotations


import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..rule import SEVERITIES

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 120.0
TRACKED = ("NonCompliant", "Error", "Exempt")
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
