"""Hostile text in the input never becomes markup, a formula, a terminal escape or broken XML in any output.

The demo estate with hostile names (inside ARM ids too, consistently), tags, subscription display names and
fields that reach messages (connection-state status and description, provisioning state, registration state,
zone names), audited with every format."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pytest

from . import synth

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
HOSTILE = [SCRIPT, IMG, '=HYPERLINK("http://x")', "+cmd", "-2+3", "@SUM(1)", "\tlead-tab", "\rlead-cr",
           "nul\x00byte\x01\x02\x07\x08\x0b\x0c\x1f\x7f", "\x1b[31mred\x1b[0m\x1b]0;title\x07", "rtl\u202eexe.txt",
           "\u2066iso\u2069", "A" * 10_000]
# names that go inside ARM ids: no "/" (an id separator), so everything else is still there
ID_SAFE = [IMG, '=HYPERLINK("x")', "+cmd", "-2+3", "@SUM(1)", "\x1b[31mred", "rtl\u202eexe", "tab\there",
           "B" * 10_000]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def hostile_estate() -> list[dict]:
    objs = synth.demo().objects
    text = json.dumps(objs)
    # rename resources everywhere they are named (ids, names, references) - consistently
    targets = ["rsv-prod-sap-01", "pe-rsv-prod-sql-03", "vnet-rsv-prod-sql-07", "rsv-prod-sql-05", "rsv-prod-vm-01",
               "rsv-dev-files-01", "rsv-prod-v2-03", "pe-rsv-prod-hana-01", "rg-rsv-prod-sql-04"]
    for target, bad in zip(targets, ID_SAFE):
        assert target in text
        text = text.replace(target, json.dumps(bad)[1:-1])
    objs = json.loads(text)
    n = 0
    for o in objs:
        h = HOSTILE[n % len(HOSTILE)]
        n += 1
        props = o.get("properties") if isinstance(o.get("properties"), dict) else {}
        if str(o.get("id", "")).count("/") == 2:  # subscriptions
            o["displayName"] = h + " " + o["displayName"]
            continue
        if "namespace" in o:
            o["registrationState"] = h  # a provider state nobody knows: reaches SUB-001's message
            continue
        t = str(o.get("type", "")).lower()
        o["tags"] = {h: h, "owner": HOSTILE[(n + 3) % len(HOSTILE)]}
        if t.endswith("/vaults"):
            o["name"] = h
            for c in props.get("privateEndpointConnections", []):
                st = c.get("properties", {}).get("privateLinkServiceConnectionState", {})
                if st.get("status") != "Approved":
                    st["status"] = HOSTILE[n % len(HOSTILE)]
                st["description"] = h
        elif t.endswith("/privateendpoints"):
            o["name"] = h
            if props.get("provisioningState") == "Failed":
                props["provisioningState"] = "Failed"  # keep the verdict; the message names the PE
            for c in props.get("privateLinkServiceConnections", []):
                c.get("properties", {}).get("privateLinkServiceConnectionState", {})["description"] = h
        elif t.endswith("/virtualnetworks"):
            o["name"] = h
            if props.get("dhcpOptions", {}).get("dnsServers"):
                props["dhcpOptions"]["dnsServers"].append(h)
    return objs


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    inp = d / "estate.json"
    inp.write_text(json.dumps(hostile_estate()), encoding="utf-8")
    out = d / "report"
    p = subprocess.run([sys.executable, "-m", "auditor", "audit", "--input", str(inp), "--out", str(out),
                        "--format", "csv,html,json,junit,markdown", "-v"], capture_output=True, text=True,
                       cwd=d, timeout=300)
    return p, out


def test_run_completes(hostile_run):
    p, out = hostile_run
    assert p.returncode in (1, 3), p.stderr[-3000:]
    assert "Traceback" not in p.stderr
    rows = json.loads((out / "findings.json").read_text(encoding="utf-8"))["findings"]
    names = "\n".join(r["resource_name"] + r["resource_id"] + r["message"] for r in rows)
    for needle in ('onerror=alert(1)', "HYPERLINK", "@SUM(1)", "B" * 10_000):
        assert needle in names, f"hostile text {needle[:20]!r} did not reach the findings: the test proves nothing"
    assert any("alert(1)" in r["message"] or SCRIPT in r["resource_name"] for r in rows)


def test_terminal_output_has_no_escapes(hostile_run):
    p, _ = hostile_run
    for stream in (p.stdout, p.stderr):
        assert "\x1b" not in stream
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", stream.replace("\n", ""))


def test_csv_has_no_formulas(hostile_run):
    _, out = hostile_run
    text = (out / "findings.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) > 100
    checked = 0
    for row in rows:
        for cell in row:
            checked += 1
            assert not (cell.startswith(FORMULA_START) and not NUMBER.match(cell)), cell[:80]
            assert not CONTROL.search(cell), repr(cell[:80])
            assert "\x1b" not in cell and "\u202e" not in cell
    assert checked > 1000
    assert any(cell.startswith("'=HYPERLINK") or cell.startswith("'+cmd") or cell.startswith("'@SUM")
               for row in rows for cell in row), "hostile cells were not in the CSV"


def test_html_escapes_everything(hostile_run):
    _, out = hostile_run
    html = (out / "report.html").read_text(encoding="utf-8")
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert csp, "CSP meta tag"
    policy = unescape(csp.group(1))
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert SCRIPT not in html and "<script>alert" not in html.lower()
    assert "<img" not in html.lower()
    # every <script> element is the tool's own (no src from input, no inline text from input)
    for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
        assert "alert(1)" not in m.group(2) or "\\u003c" in m.group(2) or "\\x3c" in m.group(2)
    assert "\x1b" not in html and "\x00" not in html


def test_junit_is_wellformed_xml(hostile_run):
    _, out = hostile_run
    raw = (out / "junit.xml").read_text(encoding="utf-8")
    assert not XML_BAD.search(raw)
    assert "\x1b" not in raw
    root = ET.fromstring(raw.encode("utf-8"))
    cases = root.findall(".//testcase")
    assert len(cases) > 100
    for el in root.iter():
        for v in [el.text or "", el.tail or "", *el.attrib.values()]:
            assert not XML_BAD.search(v)


def test_markdown_is_inert(hostile_run):
    _, out = hostile_run
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "<script" not in md.lower() and "<img" not in md.lower()
    assert "\x1b" not in md and not CONTROL.search(md.replace("\n", ""))
    assert "\u202e" not in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    widths = {len(re.split(r"(?<!\\)\|", line)) for line in table if line.count("|") > 3}
    assert len(widths) <= 2, "a pipe from the input broke a markdown table row"


def test_json_round_trips_the_input_exactly(hostile_run):
    """findings.json keeps the text as data (escaped JSON), so a consumer sees what the estate holds."""
    _, out = hostile_run
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert any("\x1b[31mred" in r["resource_id"] for r in doc["findings"])
