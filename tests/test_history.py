"""Run history (``--history``, ``auditor history``): ten nights over a changing estate reproduce the planted
timeline exactly; concurrent writers both land; a run killed mid-transaction leaves nothing behind."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from auditor import history
from auditor.rule import SEVERITIES
from auditor.cli import main
from auditor.rules import BY_ID

from . import history_estates as H

ROOT = Path(__file__).resolve().parents[1]


def audit(inp, out, db, when, *extra) -> int:
    return main(["audit", "--input", str(inp), "--out", str(out), "--history", str(db), "--run-time", when,
                 "--format", "json,html,sarif", "--fail-on", "never", "-q", *map(str, extra)])


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    d = tmp_path_factory.mktemp("nights")
    paths, expected = H.write_nights(d)
    db = d / "history.sqlite"
    outs = []
    for k, p in enumerate(paths):
        out = d / f"out-{k:02d}"
        assert audit(p, out, db, history.iso(H.night_time(k))) == 0
        outs.append(out)
    return db, expected, outs


def _nc(out: Path) -> list[dict]:
    doc = json.loads((out / "findings.json").read_text())
    return [r for r in doc["findings"] if r["compliance_state"] == "NonCompliant"]


def test_each_night_finds_exactly_the_planted_defects(nights):
    _, expected, outs = nights
    for k, out in enumerate(outs):
        assert {(r["rule_id"], r["resource_id"].lower()) for r in _nc(out)} == expected[k], k
    # the estate really changes: something new or resolved on most nights
    assert sum(1 for k in range(1, H.NIGHTS) if expected[k] != expected[k - 1]) >= 6


def test_history_matches_the_planted_timeline_exactly(nights):
    db, expected, _ = nights
    truth = H.timeline(expected, lambda rule: BY_ID[rule].severity)
    data = history.report(db)
    runs = data["runs"]
    assert [r["new"] for r in runs] == truth["new"]
    assert [r["resolved"] for r in runs] == truth["resolved"]
    assert [r["noncompliant"] for r in runs] == [len(e) for e in expected]
    assert [r["started_at"] for r in runs] == [history.iso(H.night_time(k)) for k in range(H.NIGHTS)]
    ages = {(o["rule_id"], o["resource_id"].lower()): o["age_days"] for o in data["open"]}
    assert ages == truth["ages"]
    assert {m["rule_id"]: (m["resolved"], m["mean_days"]) for m in data["mttr"]["by_rule"]} == truth["mttr_rule"]
    assert {m["severity"]: (m["resolved"], m["mean_days"]) for m in data["mttr"]["by_severity"]} == truth["mttr_sev"]
    # per-rule and per-severity trend: the planted counts night by night
    for t in data["rule_trend"]:
        assert t["noncompliant"] == [sum(1 for f in e if f[0] == t["rule_id"]) for e in expected], t["rule_id"]
    for sev in SEVERITIES:
        assert [r["noncompliant_by_severity"][sev] for r in runs] == \
            [sum(1 for f in e if BY_ID[f[0]].severity == sev) for e in expected]


def test_previous_run_is_the_baseline(nights):
    _, expected, outs = nights
    for k in range(1, H.NIGHTS):
        doc = json.loads((outs[k] / "findings.json").read_text())
        change = {(r["rule_id"], r["resource_id"].lower()): r["change"] for r in doc["findings"]
                  if r["compliance_state"] == "NonCompliant"}
        assert {f for f, c in change.items() if c == "new"} == expected[k] - expected[k - 1]
        assert {f for f, c in change.items() if c == "unchanged"} == expected[k] & expected[k - 1]
        assert {(r["rule_id"], r["resource_id"].lower()) for r in doc["resolved"]} == expected[k - 1] - expected[k]
        assert doc["baseline"].startswith(f"history run {k} ")
    first = json.loads((outs[0] / "findings.json").read_text())
    assert "baseline" not in first and all("change" not in r for r in first["findings"])


def test_report_html_shows_the_trend(nights):
    _, expected, outs = nights
    html = (outs[-1] / "report.html").read_text()
    assert 'id="trend"' in html and "<svg" in html and "<script src" not in html
    assert html.count('class="bar"') == sum(1 for e in expected for s in SEVERITIES
                                            if any(BY_ID[f[0]].severity == s for f in e))
    truth = H.timeline(expected, lambda rule: BY_ID[rule].severity)
    assert f'<strong class="new-n">{truth["new"][-1]}</strong>' in html
    assert f'<strong class="resolved-n">{truth["resolved"][-1]}</strong>' in html
    assert html.count("<tr class=", html.index('id="open-ages"'), html.index("</table>", html.index('id="open-ages"'))) \
        == len(expected[-1])


def test_nothing_changed_writes_only_the_run_row(nights, tmp_path):
    db, expected, _ = nights
    copy = tmp_path / "h.sqlite"
    src = sqlite3.connect(db)
    src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    src.backup(sqlite3.connect(copy))
    src.close()
    before = sqlite3.connect(copy).execute("SELECT count(*) FROM intervals").fetchone()[0]
    H_last = tmp_path / "last.json"
    H_last.write_text(json.dumps(H.build(H.NIGHTS - 1).objects))
    assert audit(H_last, tmp_path / "o", copy, "2026-11-11T02:00:00Z") == 0
    con = sqlite3.connect(copy)
    assert con.execute("SELECT count(*) FROM intervals").fetchone()[0] == before
    assert con.execute("SELECT new, resolved FROM runs ORDER BY run_id DESC LIMIT 1").fetchone() == (0, 0)


def test_baseline_file_wins_over_history(nights, tmp_path):
    db, expected, outs = nights
    copy = tmp_path / "h.sqlite"
    src = sqlite3.connect(db)
    src.backup(sqlite3.connect(copy))
    src.close()
    inp = tmp_path / "n.json"
    inp.write_text(json.dumps(H.build(H.NIGHTS - 1).objects))
    # against night 0's findings, not against the history's previous run (night 9)
    assert audit(inp, tmp_path / "o", copy, "2026-11-12T02:00:00Z", "--baseline", outs[0] / "findings.json") == 0
    doc = json.loads((tmp_path / "o" / "findings.json").read_text())
    new = {(r["rule_id"], r["resource_id"].lower()) for r in doc["findings"] if r.get("change") == "new"}
    assert new == expected[-1] - expected[0]
    assert doc["baseline"] == str(outs[0] / "findings.json")
    # the run is still recorded, its counts against the history
    assert history.report(copy)["runs"][-1]["new"] == 0


def test_history_command_formats(nights, capsys):
    db, expected, _ = nights
    assert main(["history", "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["runs"]) == H.NIGHTS and len(doc["open"]) == len(expected[-1])
    assert main(["history", "--db", str(db), "--format", "json", "--since", "2026-11-06"]) == 0
    assert [r["started_at"][:10] for r in json.loads(capsys.readouterr().out)["runs"]] == \
        [f"2026-11-{d:02d}" for d in range(6, 11)]
    assert main(["history", "--db", str(db), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["new"]) for r in rows] == H.timeline(expected, lambda r: BY_ID[r].severity)["new"]
    assert main(["history", "--db", str(db), "--format", "csv", "--section", "open"]) == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == len(expected[-1])
    assert main(["history", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    for title in ("Runs", "NonCompliant by rule", "NonCompliant by severity", "Open NonCompliant", "Mean time"):
        assert title in out


def test_history_errors_are_one_line(tmp_path, capsys):
    assert main(["history", "--db", str(tmp_path / "none.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such history file" in err[0]
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database " * 100)
    assert main(["audit", "--demo", "--out", str(tmp_path / "o"), "--history", str(bad), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.sqlite" in err[0] and "Traceback" not in err[0]
    assert main(["audit", "--demo", "--out", str(tmp_path / "o"), "--run-time", "yesterday", "-q"]) == 2


def _env():
    e = {**os.environ, "PYTHONPATH": str(ROOT)}
    e.pop("AZURE_ARM_ENDPOINT", None)
    return e


def test_two_concurrent_runs_both_land(tmp_path):
    db = tmp_path / "h.sqlite"
    inp = tmp_path / "n.json"
    inp.write_text(json.dumps(H.build(0).objects))
    procs = [subprocess.Popen([sys.executable, "-m", "auditor", "audit", "--input", inp, "--out", tmp_path / f"o{i}",
                               "--history", db, "--format", "json", "--fail-on", "never", "-q"],
                              env=_env(), stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    runs = history.report(db)["runs"]
    assert len(runs) == 2
    # serialized: one saw an empty history (everything new), the other the first as its baseline
    assert sorted(r["new"] for r in runs) == [0, len(H.build(0).expected)]
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM intervals").fetchone()[0] == \
        con.execute("SELECT count(DISTINCT finding_id) FROM intervals").fetchone()[0]


def test_a_run_killed_mid_transaction_leaves_no_partial_run(tmp_path):
    db = tmp_path / "h.sqlite"
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(H.build(0).objects))
    second.write_text(json.dumps(H.build(9).objects))
    assert audit(first, tmp_path / "o1", db, "2026-11-01T02:00:00Z") == 0
    con = sqlite3.connect(db)
    snapshot = (con.execute("SELECT * FROM runs").fetchall(), con.execute("SELECT * FROM intervals").fetchall())
    con.close()
    code = textwrap.dedent(f"""
        import sys, time
        from auditor.history import store
        def pause():
            print("in-transaction", flush=True)
            time.sleep(60)
        store._before_commit = pause
        from auditor.cli import main
        main(["audit", "--input", {str(second)!r}, "--out", {str(tmp_path / 'o2')!r}, "--history", {str(db)!r},
              "--format", "json", "-q"])
    """)
    p = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "in-transaction"
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    con = sqlite3.connect(db)
    assert (con.execute("SELECT * FROM runs").fetchall(), con.execute("SELECT * FROM intervals").fetchall()) == snapshot
    con.close()
    # and the file is fine for the next run, which sees the first run as its baseline
    assert audit(second, tmp_path / "o3", db, "2026-11-02T02:00:00Z") == 0
    runs = history.report(db)["runs"]
    assert [r["run_id"] for r in runs][0] == 1 and len(runs) == 2
    assert runs[1]["new"] == len(H.build(9).expected - H.build(0).expected)
