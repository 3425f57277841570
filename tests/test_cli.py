"""The command line as scripts and scheduled jobs use it: outputs, exit codes, one-line errors."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from auditor.rules import ALL

from . import synth

ROOT = Path(__file__).resolve().parents[1]
RULE_IDS = {r.id for r in ALL if r.only_with is None}


def run(*args, cwd=None, env=None, timeout=120):
    e = {**os.environ, **(env or {})}
    e.pop("AZURE_ARM_ENDPOINT", None)
    return subprocess.run([sys.executable, "-m", "auditor", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=e, timeout=timeout)


def one_line_error(p, *needles):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    p = run("audit", "--demo", "--out", out, cwd=out)
    return p, out


def test_demo_exits_1_and_writes_every_report(demo_run):
    p, out = demo_run
    assert p.returncode == 1, p.stderr
    for name in ("findings.json", "findings.csv", "report.html", "junit.xml"):
        assert (out / name).stat().st_size > 0, name
    assert "Traceback" not in p.stderr


def test_demo_findings_are_exactly_the_planted_defects(demo_run):
    _, out = demo_run
    doc = json.loads((out / "findings.json").read_text())
    rows = doc["findings"]
    truth = synth.demo()
    nc = {(r["rule_id"], r["resource_id"].lower()) for r in rows if r["compliance_state"] == "NonCompliant"}
    assert nc == truth.expected
    assert {r["rule_id"] for r in rows if r["compliance_state"] == "NonCompliant"} == RULE_IDS
    assert {r["rule_id"] for r in rows if r["compliance_state"] == "Compliant"} == RULE_IDS
    assert not [r for r in rows if r["compliance_state"] == "Error"]


def test_demo_file_is_the_generated_estate():
    shipped = json.loads((ROOT / "auditor" / "data" / "demo.json").read_text())
    assert shipped == json.loads(json.dumps(synth.demo().objects))


def test_findings_contract_columns_sorting_ids(demo_run):
    _, out = demo_run
    doc = json.loads((out / "findings.json").read_text())
    assert {"generated_at", "tool", "inputs", "summary", "findings"} <= set(doc)
    rows = doc["findings"]
    need = {"finding_id", "rule_id", "title", "severity", "compliance_state", "subscription_id", "resource_group",
            "resource_type", "resource_id", "resource_name", "vault_id", "message", "remediation"}
    assert all(need <= set(r) for r in rows)
    order = ["Critical", "High", "Medium", "Low", "Informational"]
    keys = [(order.index(r["severity"]), r["rule_id"], r["resource_id"].lower()) for r in rows]
    assert keys == sorted(keys)
    assert len({r["finding_id"] for r in rows}) == len(rows)
    from auditor.engine import finding_id
    assert all(r["finding_id"] == finding_id(r["rule_id"], r["resource_id"]) for r in rows)
    with open(out / "findings.csv", newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [r["finding_id"] for r in csv_rows] == [r["finding_id"] for r in rows]
    s = doc["summary"]
    assert s["by_state"]["NonCompliant"] == len(synth.demo().expected)
    c, nc, e = s["by_state"]["Compliant"], s["by_state"]["NonCompliant"], s["by_state"]["Error"]
    assert s["compliance_pct"] == round(100 * (c + s["by_state"]["Exempt"]) / (c + nc + e + s["by_state"]["Exempt"]), 1)


def test_finding_ids_are_stable_across_runs(demo_run, tmp_path):
    _, out = demo_run
    p = run("audit", "--demo", "--out", tmp_path, "--format", "json", "--fail-on", "never")
    assert p.returncode == 0
    a = [r["finding_id"] for r in json.loads((out / "findings.json").read_text())["findings"]]
    b = [r["finding_id"] for r in json.loads((tmp_path / "findings.json").read_text())["findings"]]
    assert a == b


@pytest.mark.parametrize("fail_on,code", [("never", 0), ("critical", 1), ("informational", 1)])
def test_fail_on(tmp_path, fail_on, code):
    assert run("audit", "--demo", "--out", tmp_path, "--format", "json", "--fail-on", fail_on).returncode == code


def test_fail_on_below_threshold_exits_0(tmp_path):
    # only RSV-004 (Low) findings: --fail-on medium passes, --fail-on low fails
    args = ("audit", "--demo", "--out", tmp_path, "--format", "json", "--rule", "RSV-004")
    assert run(*args, "--fail-on", "medium").returncode == 0
    assert run(*args, "--fail-on", "low").returncode == 1


def test_rule_filter_and_formats(tmp_path):
    p = run("audit", "--demo", "--out", tmp_path, "--format", "csv,markdown", "--rule", "rsv-001", "--fail-on", "never")
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["findings.csv", "summary.md"]
    with open(tmp_path / "findings.csv", newline="") as fh:
        assert {r["rule_id"] for r in csv.DictReader(fh)} == {"RSV-001"}


def test_rules_list_and_show():
    p = run("rules")
    assert p.returncode == 0
    for rid in RULE_IDS | {"DNS-007"}:
        assert rid in p.stdout
    p = run("rules", "show", "PE-003")
    assert p.returncode == 0 and "min_free_ips.v1 = 11" in p.stdout and "min_free_ips.v2 = 10" in p.stdout and "Remediation" in p.stdout
    assert "11 private IPs" in p.stdout
    one_line_error(run("rules", "show", "NOPE-1"), "NOPE-1")


def test_bad_json_file(tmp_path):
    f = tmp_path / "broken.json"
    f.write_text('{"value": [ {"id": "/subscriptions/x"  ')
    one_line_error(run("audit", "--input", f, "--out", tmp_path / "o"), str(f), "not valid JSON")


def test_missing_file(tmp_path):
    one_line_error(run("audit", "--input", tmp_path / "nope.json", "--out", tmp_path / "o"), "nope.json",
                   "no such file")


def test_top_level_of_wrong_kind(tmp_path):
    f = tmp_path / "n.json"
    f.write_text("42")
    one_line_error(run("audit", "--input", f, "--out", tmp_path / "o"), str(f), "top level")
    f.write_text('{"value": 3}')
    one_line_error(run("audit", "--input", f, "--out", tmp_path / "o"), str(f), "'value'")


def test_unreadable_file_in_directory(tmp_path):
    d = tmp_path / "export"
    d.mkdir()
    (d / "ok.json").write_text("[]")
    (d / "dangling.json").symlink_to(tmp_path / "gone.json")
    one_line_error(run("audit", "--input", d, "--out", tmp_path / "o"), "dangling.json", "cannot read")
    if os.geteuid() != 0:  # root reads everything; a plain user also gets the permission case
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0)
        try:
            one_line_error(run("audit", "--input", locked, "--out", tmp_path / "o"), "locked")
        finally:
            locked.chmod(0o755)


def test_usage_errors_are_one_line(tmp_path):
    one_line_error(run("audit", "--demo", "--format", "pdf"), "--format", "pdf")
    one_line_error(run("audit", "--demo", "--rule", "XYZ-9"), "--rule", "XYZ-9")
    one_line_error(run("audit", "--demo", "--fail-on", "severe"), "--fail-on")
    one_line_error(run("audit", "--demo", "--input", "x.json"), "--input")
    one_line_error(run("audit", "--demo", "--dns-server", "10.0.0.1:99999"), "--dns-server")
    one_line_error(run("audit", "--demo", "--baseline", tmp_path / "none.json"), "none.json")


def test_malformed_object_is_error_rows_not_a_crash(tmp_path):
    objs = json.loads((ROOT / "auditor" / "data" / "demo.json").read_text())
    vault = next(o for o in objs if o.get("type") == "Microsoft.RecoveryServices/vaults"
                 and o["name"] == "rsv-prod-sql-01")
    vault["properties"]["privateEndpointConnections"] = "not-a-list"
    vault["properties"]["publicNetworkAccess"] = 7
    pe = next(o for o in objs if o.get("name") == "pe-rsv-dev-sql-02")
    pe["properties"]["subnet"] = ["wrong"]
    f = tmp_path / "estate.json"
    f.write_text(json.dumps(objs))
    p = run("audit", "--input", f, "--out", tmp_path / "o", "--format", "json")
    assert p.returncode == 3, p.stderr
    assert "Traceback" not in p.stderr
    assert vault["id"] in p.stderr and str(f) in p.stderr
    rows = json.loads((tmp_path / "o" / "findings.json").read_text())["findings"]
    err = {(r["rule_id"], r["resource_id"].lower()) for r in rows if r["compliance_state"] == "Error"}
    vault_rules = {r.id for r in ALL if r.subject == "vaults" and r.only_with is None}
    assert {rid for rid, i in err if i == vault["id"].lower()} == vault_rules
    pe_rules = {r.id for r in ALL if r.subject == "endpoints" and r.only_with is None}
    assert {rid for rid, i in err if i == pe["id"].lower()} == pe_rules
    # everything else is still judged, exactly
    truth = synth.demo().expected
    nc = {(r["rule_id"], r["resource_id"].lower()) for r in rows if r["compliance_state"] == "NonCompliant"}
    assert nc <= truth
    assert not [r for r in rows if r["compliance_state"] == "Compliant" and (r["rule_id"], r["resource_id"].lower()) in err]


def test_source_checkout_maps_rules_and_reports(tmp_path):
    code = ("import auditor.rules, auditor.reports, auditor.reports.html; "
            "print(auditor.rules.__file__); print(auditor.reports.__file__)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rules_file, reports_file = p.stdout.split()
    assert Path(rules_file).parent == ROOT / "rules"
    assert Path(reports_file).parent == ROOT / "reports"
    p = subprocess.run([sys.executable, "-m", "auditor", "audit", "--demo", "--out", tmp_path, "--fail-on", "never"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_wheel_carries_rules_templates_and_demo(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path,
                    ROOT], check=True, capture_output=True)
    wheel = next(tmp_path.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "auditor/rules/rsv_001.py" in names and "auditor/reports/html.py" in names
    assert "auditor/cli/__init__.py" in names and "auditor/cli/audit.py" in names
    assert "auditor/data/demo.json" in names and any(n.startswith("auditor/reports/templates/") for n in names)
    assert not [n for n in names if n.split("/")[0] in ("rules", "reports", "tests")]
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    p = subprocess.run([sys.executable, "-c", "import auditor.rules as r; print(r.__file__)"], cwd=elsewhere,
                       capture_output=True, text=True, env=env)
    assert p.stdout.strip().startswith(str(site)), p.stdout + p.stderr
    p = subprocess.run([sys.executable, "-m", "auditor", "audit", "--demo", "--out", elsewhere / "r"], cwd=elsewhere,
                       capture_output=True, text=True, env=env)
    assert p.returncode == 1 and (elsewhere / "r" / "report.html").exists(), p.stderr


def test_framework_mapping_in_findings_rules_and_report(demo_run):
    """Every rule's Azure Policy built-ins and MCSB controls: in findings.json/csv (appended after the existing
    columns), in `auditor rules`, and in the HTML report's "by framework control" view."""
    from auditor.engine import COLUMNS
    from auditor.frameworks import MCSB, POLICIES
    from auditor.rules import ALL, BY_ID
    _, out = demo_run
    assert COLUMNS[-2:] == ["policy_ids", "mcsb_controls"]
    rows = json.loads((out / "findings.json").read_text())["findings"]
    for r in rows:
        rule = BY_ID[r["rule_id"]]
        assert r["policy_ids"] == ";".join(rule.policies) and r["mcsb_controls"] == ";".join(rule.mcsb)
    with open(out / "findings.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:15] == COLUMNS[:15] and header[-2:] == ["policy_ids", "mcsb_controls"]
    assert all(r.mcsb for r in ALL)  # every rule supports at least one control
    assert {g for r in ALL for g in r.policies} >= {"d6f6f560-14b7-49a4-9fc8-d2c3a9807868",
                                                    "31b8092a-36b8-434b-9af7-5ec844364148",
                                                    "c7031eab-0fc0-4cd9-acd0-4497bd66d91a",
                                                    "f19b0c83-716f-4b81-85e3-2dbf057c35d6",
                                                    "deeddb44-9f94-4903-9fa0-081d524406e3",
                                                    "9ebbbba3-4d65-4da9-bb67-b22cfaaff090"}
    p = run("rules", "show", "RSV-012")
    assert p.returncode == 0 and "c7031eab-0fc0-4cd9-acd0-4497bd66d91a" in p.stdout and "PA-1" in p.stdout
    assert MCSB["PA-1"][1] in p.stdout  # the source of the control is cited
    doc = json.loads(run("rules", "show", "RSV-010", "--format", "json").stdout)
    assert doc["policies"] == [{"id": "d6f6f560-14b7-49a4-9fc8-d2c3a9807868",
                                "name": POLICIES["d6f6f560-14b7-49a4-9fc8-d2c3a9807868"], "relation": "matches"}]
    html = (out / "report.html").read_text()
    assert 'id="by-framework"' in html and "BR-2" in html and "Protect backup and recovery data" in html


def test_experience_in_plain_sight(demo_run):
    """`auditor rules show` says how the experience is inferred for the rules that depend on it; the HTML chain says
    which experience each vault is judged in and why."""
    p = run("rules", "show", "PE-004")
    assert p.returncode == 0 and "AzureBackup_secondary" in p.stdout and "undetermined, judged as v1" in p.stdout
    assert "does not depend" in run("rules", "show", "RSV-010").stdout
    html = (demo_run[1] / "report.html").read_text()
    assert "Judged in the v2 experience: backup endpoint pe-rsv-prod-v2-01 carries the storage FQDN" in html
    assert "Judged in the v1 experience: storage endpoint pe-rsv-prod-sql-01_ecs" in html
