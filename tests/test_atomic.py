"""Nothing lost: a run killed at any moment leaves every report either as it was or wholly replaced (never
truncated), and the same object seen twice (ids in another case) is counted once."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from auditor import engine, pipeline
from auditor.fsutil import atomic_open
from auditor.rules import ALL

from . import synth

ROOT = Path(__file__).resolve().parents[1]
FORMATS = "csv,html,json,junit,markdown"
FILES = ("findings.json", "findings.csv", "report.html", "junit.xml", "summary.md")


def audit_cmd(inp: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "auditor", "audit", "--input", str(inp), "--out", str(out), "--format", FORMATS,
            "-q"]


def complete(path: Path) -> int:
    """Parse a report file whole; returns its number of findings (-1 where the format has no count)."""
    text = path.read_text(encoding="utf-8")
    if path.name == "findings.json":
        return len(json.loads(text)["findings"])
    if path.name == "findings.csv":
        rows = list(csv.reader(text.splitlines(keepends=True)))
        assert rows[0][:2] == ["finding_id", "rule_id"] and all(len(r) == len(rows[0]) for r in rows)
        return len(rows) - 1
    if path.name == "junit.xml":
        return len(ET.fromstring(text.encode()).findall(".//testcase"))
    if path.name == "report.html":
        assert text.rstrip().endswith("</html>")
        return -1
    assert text.startswith("# ") and text.endswith("\n") and "Compliance" in text
    return -1


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    d = tmp_path_factory.mktemp("atomic")
    inp = d / "big.json"
    inp.write_text(json.dumps(synth.large(1200, seed=11).objects))
    ref = d / "ref"
    t0 = time.monotonic()
    p = subprocess.run(audit_cmd(inp, ref), capture_output=True, text=True, timeout=600)
    took = time.monotonic() - t0
    assert p.returncode in (1, 3), p.stderr[-2000:]
    counts = {name: complete(ref / name) for name in FILES}
    prev = d / "prev"
    p = subprocess.run([sys.executable, "-m", "auditor", "audit", "--demo", "--out", str(prev), "--format", FORMATS,
                        "-q"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr
    return inp, counts, {name: (prev / name).read_bytes() for name in FILES}, took


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.65, 0.8, 0.9, 0.97])
def test_killed_run_leaves_old_or_new_reports_never_truncated(big, tmp_path, fraction):
    inp, counts, previous, took = big
    out = tmp_path / "report"
    out.mkdir()
    for name, data in previous.items():
        (out / name).write_bytes(data)
    proc = subprocess.Popen(audit_cmd(inp, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its own process group: the report-writing workers die too
    time.sleep(took * fraction)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)
    states = {}
    for name in FILES:
        data = (out / name).read_bytes()
        if data == previous[name]:
            states[name] = "old"
            continue
        n = complete(out / name)  # raises on a truncated or half-written file
        assert n == counts[name], (name, n, counts[name])
        states[name] = "new"
    leftovers = [p.name for p in out.iterdir() if p.name not in FILES]
    assert all(p.startswith(".") and p.endswith(".tmp") for p in leftovers), leftovers  # temp files are hidden
    print(fraction, states, leftovers)


def test_atomic_open_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "findings.json"
    path.write_text('{"old": true}')
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as fh:
            fh.write('{"new": ')
            raise RuntimeError("killed half-way")
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["findings.json"]


# ------------------------------------------------------------------------------------------------ duplicates

def _mixed_case(rid: str, i: int) -> str:
    """Another spelling of the same ARM id: /SUBSCRIPTIONS/, upper-case resource group, lower-case provider."""
    segs = rid.split("/")
    out = []
    for j, s in enumerate(segs):
        if s.lower() in ("subscriptions", "resourcegroups", "providers"):
            out.append(s.upper() if (i + j) % 2 else s.lower())
        elif j > 0 and segs[j - 1].lower() == "resourcegroups":
            out.append(s.upper())
        elif s.startswith("Microsoft."):
            out.append(s.lower())
        else:
            out.append(s)
    return "/".join(out)


def duplicated(objects: list[dict], first: bool) -> list[dict]:
    dups = []
    for i, o in enumerate(objects):
        d = json.loads(json.dumps(o))
        if isinstance(d.get("id"), str):
            d["id"] = _mixed_case(d["id"], i)
        dups.append(d)
    assert sum(a.get("id") != b.get("id") for a, b in zip(objects, dups)) > 0.9 * len(objects)
    return dups + objects if first else objects + dups


def _findings(objects: list[dict], tmp_path: Path, name: str):
    p = tmp_path / name
    p.write_text(json.dumps(objects))
    return engine.evaluate(pipeline.load([str(p)]), ALL, engine.Settings())


@pytest.mark.parametrize("dups_first", [False, True])
def test_duplicates_in_mixed_case_are_merged_not_double_counted(tmp_path, dups_first):
    truth = synth.demo()
    plain = _findings(truth.objects, tmp_path, "plain.json")
    doubled = _findings(duplicated(truth.objects, dups_first), tmp_path, "doubled.json")
    assert len(doubled) == len(plain)
    nc = {(r, i.lower()) for r, i, s in zip(doubled["rule_id"], doubled["resource_id"], doubled["compliance_state"])
          if s == "NonCompliant"}
    assert nc == truth.expected
    key = lambda f: sorted(zip(f["rule_id"], f["resource_id"].str.lower(), f["compliance_state"], f["finding_id"]))  # noqa: E731
    assert key(doubled) == key(plain)
    assert not (doubled["compliance_state"] == "Error").any()
    # row for row the same verdicts and messages (which spelling of an id is shown is not specified)
    cols = ["finding_id", "rule_id", "compliance_state", "resource_name", "message", "severity"]
    assert doubled[cols].equals(plain[cols])
    assert doubled["resource_id"].str.lower().equals(plain["resource_id"].str.lower())


def test_duplicates_through_the_cli(tmp_path):
    truth = synth.demo()
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.json").write_text(json.dumps(truth.objects))
    (inp / "b.json").write_text(json.dumps({"value": duplicated(truth.objects, False)[len(truth.objects):]}))
    p = subprocess.run([sys.executable, "-m", "auditor", "audit", "--input", str(inp), "--out", str(tmp_path / "o"),
                        "--format", "json,markdown", "-q"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr
    rows = json.loads((tmp_path / "o" / "findings.json").read_text())["findings"]
    assert {(r["rule_id"], r["resource_id"].lower()) for r in rows if r["compliance_state"] == "NonCompliant"} \
        == truth.expected
    assert len(rows) == len({(r["rule_id"], r["resource_id"].lower()) for r in rows})
    shutil.rmtree(tmp_path / "o")
