"""--config (parameters, effects, exemptions with expiry) and --baseline (new / unchanged / resolved)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from . import synth
from .test_cli import ROOT, one_line_error, run

DEMO = ROOT / "auditor" / "data" / "demo.json"


def audit(tmp_path: Path, *extra, name="o") -> tuple[int, list[dict], dict]:
    out = tmp_path / name
    p = run("audit", "--demo", "--out", out, "--format", "json,csv,html,junit", *extra)
    assert "Traceback" not in p.stderr
    doc = json.loads((out / "findings.json").read_text()) if (out / "findings.json").exists() else {}
    return p.returncode, doc.get("findings", []), doc


def cfg(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "auditor.toml"
    f.write_text(text)
    return f


def state_of(rows, rule, rid_part):
    return {r["compliance_state"] for r in rows if r["rule_id"] == rule and rid_part in r["resource_id"]}


def test_live_exemption_turns_noncompliant_into_exempt(tmp_path):
    sub = next(o for o in json.loads(DEMO.read_text()) if o.get("displayName") == "contoso-prod")["subscriptionId"]
    f = cfg(tmp_path, f'''
[[exemptions]]
rules = ["SUB-002", "RSV-001"]
scope = "/subscriptions/{sub.upper()}"
category = "Mitigated"
expires_on = 2099-01-01T00:00:00Z
justification = "re-registered on 2021-03-02, CHG-1234"
''')
    code, rows, doc = audit(tmp_path, "--config", f)
    sub2 = [r for r in rows if r["rule_id"] == "SUB-002" and sub in r["resource_id"]]
    assert [r["compliance_state"] for r in sub2] == ["Exempt"]
    assert sub2[0]["exemption_category"] == "Mitigated" and "CHG-1234" in sub2[0]["exemption_justification"]
    assert state_of(rows, "RSV-001", "rsv-prod-sap-01") == {"Exempt"}
    # only NonCompliant becomes Exempt: the covered Compliant vaults stay Compliant
    assert state_of(rows, "RSV-001", "rsv-prod-sql-01") == {"Compliant"}
    # outside the scope nothing changes
    assert state_of(rows, "SUB-002", next(r["subscription_id"] for r in rows if "rsv-dev-sql-01" in r["resource_id"])) \
        == {"NonCompliant"}
    assert state_of(rows, "RSV-001", "rsv-prod-v2-03") == {"Exempt"}
    assert doc["summary"]["by_state"]["Exempt"] == 3  # SUB-002 of prod and the two public prod vaults


def test_expired_exemption_does_not_apply(tmp_path):
    f = cfg(tmp_path, '''
[[exemptions]]
rules = ["RSV-001"]
scope = "/"
category = "Waiver"
expires_on = 2020-01-01
''')
    _, rows, _ = audit(tmp_path, "--config", f)
    assert state_of(rows, "RSV-001", "rsv-prod-sap-01") == {"NonCompliant"}
    assert not [r for r in rows if r["compliance_state"] == "Exempt"]


def test_parameters_and_disabled_effect(tmp_path):
    f = cfg(tmp_path, '''
[rules.PE-003]
min_free_ips = 60
[rules.RSV-002]
effect = "Disabled"
''')
    _, rows, _ = audit(tmp_path, "--config", f)
    assert not [r for r in rows if r["rule_id"] == "RSV-002"]
    pe3 = [r for r in rows if r["rule_id"] == "PE-003" and r["compliance_state"] != "NotApplicable"]
    assert pe3 and {r["compliance_state"] for r in pe3} == {"NonCompliant"}  # every /26 has fewer than 60 free


def test_per_experience_and_list_parameters(tmp_path):
    """PE-003's min_free_ips.v1/.v2 (a scalar overrides both) and RSV-012's admin_roles, as RULES.md names them."""
    f = cfg(tmp_path, '''
[rules.PE-003]
min_free_ips.v2 = 60
[rules.RSV-012]
admin_roles = ["Owner"]
''')
    _, rows, _ = audit(tmp_path, "--config", f)
    pe3 = [(r["message"].split("(experience ")[1].split(")")[0], r["compliance_state"]) for r in rows
           if r["rule_id"] == "PE-003" and r["compliance_state"] != "NotApplicable"]
    assert {st for e, st in pe3 if e == "v2"} == {"NonCompliant"}                  # v2 subnets need 60 now
    assert sorted(st for e, st in pe3 if e == "v1").count("NonCompliant") == 1   # v1 keeps 11: the /28 only
    nc = {r["resource_name"] for r in rows if r["rule_id"] == "RSV-012" and r["compliance_state"] == "NonCompliant"}
    assert nc == {"rsv-prod-mars-01"}  # the Backup Contributor who holds MUA Operator is no admin under ["Owner"]


@pytest.mark.parametrize("text,needle", [
    ("colour = 1\n", "colour"),
    ("[rules.XYZ-001]\nlimit = 3\n", "rules.XYZ-001"),
    ("[rules.PE-003]\nmin_free = 3\n", "rules.PE-003.min_free"),
    ("[rules.PE-003]\nmin_free_ips = 'many'\n", "rules.PE-003.min_free_ips"),
    ("[rules.RSV-001]\neffect = 'Deny'\n", "rules.RSV-001.effect"),
    ("[rules.PE-003]\nmin_free_ips.v3 = 3\n", "rules.PE-003.min_free_ips.v3"),
    ("[rules.PE-003]\nmin_free_ips.v2 = 'x'\n", "rules.PE-003.min_free_ips.v2"),
    ("[rules.RSV-012]\nadmin_roles = 'Owner'\n", "rules.RSV-012.admin_roles"),
    ("[rules.RSV-014]\nrequired_state = 'Sometimes'\n", "rules.RSV-014.required_state"),
    ("[[exemptions]]\nrules = ['RSV-001']\nscope = '/'\ncategory = 'Forever'\n", "exemptions[0].category"),
    ("[[exemptions]]\nrules = ['NOPE']\nscope = '/'\ncategory = 'Waiver'\n", "exemptions[0].rules"),
    ("[[exemptions]]\nrules = ['RSV-001']\nscope = '/'\ncategory = 'Waiver'\nexpires_on = 'soon'\n",
     "exemptions[0].expires_on"),
    ("[[exemptions]]\nrules = ['RSV-001']\nscope = '/'\ncategory = 'Waiver'\nowner = 'me'\n", "exemptions[0].owner"),
    ("this is = = not toml", "not valid TOML"),
])
def test_config_errors_name_the_key(tmp_path, text, needle):
    f = cfg(tmp_path, text)
    one_line_error(run("audit", "--demo", "--out", tmp_path / "o", "--config", f), str(f), needle)


def test_baseline_lists_exactly_the_fixed_finding(tmp_path):
    objs = json.loads(DEMO.read_text())
    before = tmp_path / "before.json"
    before.write_text(json.dumps(objs))
    p = run("audit", "--input", before, "--out", tmp_path / "run1", "--format", "json")
    assert p.returncode == 1
    # fix one defect: rsv-prod-sap-01 denies public access now
    vault = next(o for o in objs if o.get("name") == "rsv-prod-sap-01")
    vault["properties"]["publicNetworkAccess"] = "Disabled"
    after = tmp_path / "after.json"
    after.write_text(json.dumps(objs))
    p = run("audit", "--input", after, "--out", tmp_path / "run2", "--format", "json,html",
            "--baseline", tmp_path / "run1" / "findings.json")
    assert p.returncode == 1, p.stderr
    doc = json.loads((tmp_path / "run2" / "findings.json").read_text())
    assert [(r["rule_id"], r["resource_id"]) for r in doc["resolved"]] == [("RSV-001", vault["id"])]
    nc = [r for r in doc["findings"] if r["compliance_state"] == "NonCompliant"]
    assert nc and {r["change"] for r in nc} == {"unchanged"}
    assert len(nc) == len(synth.demo().expected) - 1
    html = (tmp_path / "run2" / "report.html").read_text()
    assert "rsv-prod-sap-01" in html.split('id="by-rule"')[0]  # the resolved finding is shown at the top


def test_baseline_marks_new_findings(tmp_path):
    objs = json.loads(DEMO.read_text())
    (tmp_path / "a.json").write_text(json.dumps(objs))
    assert run("audit", "--input", tmp_path / "a.json", "--out", tmp_path / "r1", "--format", "json").returncode == 1
    vault = next(o for o in objs if o.get("name") == "rsv-prod-sql-01")
    vault["properties"]["publicNetworkAccess"] = "Enabled"
    (tmp_path / "b.json").write_text(json.dumps(objs))
    run("audit", "--input", tmp_path / "b.json", "--out", tmp_path / "r2", "--format", "json",
        "--baseline", tmp_path / "r1" / "findings.json")
    doc = json.loads((tmp_path / "r2" / "findings.json").read_text())
    new = [(r["rule_id"], r["resource_id"]) for r in doc["findings"] if r.get("change") == "new"]
    assert new == [("RSV-001", vault["id"])]
    assert doc["resolved"] == []
