"""``auditor plan`` and the concrete remediation: the order of remediation.sh (public access last, and never on a vault
without an approved backup endpoint), the reasons of its REVIEW steps, the findings each step names, quoting of hostile
names, and the remediation text of the rows (every az command names its subscription). The real-az proof is
tests/live/test_plan_azcli.py (marker azcli)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import engine, pipeline, plan
from auditor.rules import ALL

ROOT = Path(__file__).resolve().parents[1]
DEMO = json.loads((ROOT / "auditor" / "data" / "demo.json").read_text())
SAFE_RULES = ("DNS-001", "DNS-002", "DNS-003", "DNS-004", "PE-001", "RSV-001", "SUB-001", "IAM-001")
HEADER = {"version": "test", "generated_at": "2026-01-01T00:00:00+00:00", "inputs": ["test"]}


def _plan(tmp_path: Path, objects: list[dict] | None = None, exemptions=()) -> tuple[str, str, object, plan.Plan]:
    if objects is None:
        m = pipeline.load_demo()
    else:
        f = tmp_path / "estate.json"
        f.write_text(json.dumps(objects))
        m = pipeline.load([str(f)])
    findings = engine.evaluate(m, ALL, engine.Settings(exemptions=list(exemptions)))
    p = plan.build(m.steps, findings, m.vault_rids())
    out = tmp_path / "plan"
    plan.write(out, p, HEADER)
    return (out / "remediation.sh").read_text(), (out / "remediation.md").read_text(), findings, p


def _blocks(script: str) -> list[dict]:
    """The steps of a script (after the helpers): the REVIEW reason above it (None: it runs), its title, the finding
    ids and rules of its '# fixes:' line, and its command lines (commented out for a REVIEW step)."""
    body = script.split("# ====", 1)[1]
    out, cur, review, vault = [], None, None, None
    for line in body.splitlines():
        if line.startswith("# ---- "):
            vault = line
        if line.startswith("# REVIEW: ") and not re.match(r"# REVIEW: [0-9a-f]{24} \(", line):
            review = line[len("# REVIEW: "):]
        elif re.match(r"# \[\d+\] ", line):
            cur = {"review": review, "title": line, "fixes": [], "commands": [], "vault": vault}
            out.append(cur)
            review = None
        elif cur is not None and line.startswith("# fixes: "):
            cur["fixes"] = re.findall(r"([0-9a-f]{24}) \((\S+) ", line)
        elif not line:
            cur = None
        elif cur is not None:
            cur["commands"].append(line)
    return out


def _rsv(objects, name):
    return next(o for o in objects if o.get("type") == "Microsoft.RecoveryServices/vaults" and o["name"] == name)


def _pe(objects, name):
    return next(o for o in objects if o.get("type") == "Microsoft.Network/privateEndpoints" and o["name"] == name)


def _set_state(objects, vault: str, pe: str, status: str) -> None:
    for c in _rsv(objects, vault)["properties"]["privateEndpointConnections"]:
        c["properties"]["privateLinkServiceConnectionState"]["status"] = status
    p = _pe(objects, pe)["properties"]
    for c in p.get("privateLinkServiceConnections", []) + p.get("manualPrivateLinkServiceConnections", []):
        c["properties"]["privateLinkServiceConnectionState"]["status"] = status


# ------------------------------------------------------------------------------------------------ order

def test_public_access_comes_last_after_every_other_step_that_runs(tmp_path):
    script, _, findings, _ = _plan(tmp_path)
    assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0
    assert "set -euo pipefail" in script.splitlines()[:20]
    blocks = [b for b in _blocks(script) if b["review"] is None]
    public = [i for i, b in enumerate(blocks) if "--public-network-access Disable" in b["commands"][0]]
    assert public, "the demo has RSV-001 findings"
    assert min(public) > max(i for i, b in enumerate(blocks) if i not in public)
    # approvals, then records, then links, then identity and grants, within a vault
    order = [("approve", 1), ("add-record", 2), ("remove-record", 3), ("link vnet create", 4),
             ("identity assign", 5), ("role assignment create", 6), ("public-network-access", 9)]
    steps = [b for b in blocks if not b["commands"][0].startswith(("az provider", "wait_"))]
    phases = [next(n for k, n in order if k in " ".join(b["commands"])) for b in steps]
    # phases rise inside each vault's group: the script restarts them only at a new vault header
    vault_of = [b["vault"] for b in steps]
    for v in set(vault_of):
        mine = [p for p, w in zip(phases, vault_of) if w == v]
        assert mine == sorted(mine), (v, mine)


def test_every_step_names_the_noncompliant_findings_it_fixes(tmp_path):
    script, md, findings, p = _plan(tmp_path)
    nc = dict(zip(findings.loc[findings["compliance_state"] == "NonCompliant", "finding_id"],
                  findings.loc[findings["compliance_state"] == "NonCompliant", "rule_id"]))
    blocks = _blocks(script)
    assert blocks
    for b in blocks:
        assert b["fixes"], b
        for fid, rule in b["fixes"]:
            assert nc.get(fid) == rule, (fid, rule)
            assert fid in md
    # every NonCompliant finding is in the plan: on a step, or listed as having no automated step
    named = {fid for b in blocks for fid, _ in b["fixes"]} | {f["finding_id"] for f in p.uncovered}
    assert named == set(nc)
    # the rules whose fixes are safe to automate have every finding on a step that runs
    running = {fid for b in blocks if b["review"] is None for fid, _ in b["fixes"]}
    assert {f for f, r in nc.items() if r in SAFE_RULES} <= running


def test_review_steps_are_commented_out_and_say_why(tmp_path):
    script, md, _, _ = _plan(tmp_path)
    reviews = [b for b in _blocks(script) if b["review"] is not None]
    rules = {r for b in reviews for _, r in b["fixes"]}
    assert {"PE-002", "RSV-006", "RSV-007"} <= rules      # re-create an endpoint, an identity; a new vault
    for b in reviews:
        assert len(b["review"].strip()) > 20, b
        assert all(c.startswith("# ") for c in b["commands"]), b
    for line in script.splitlines():
        if line.startswith("# REVIEW:"):
            assert len(line[len("# REVIEW:"):].strip()) > 20, line
    assert md.count("— **REVIEW**: ") == len(reviews)


def test_every_az_command_names_its_subscription(tmp_path):
    script, _, findings, _ = _plan(tmp_path)
    body = script.split("# ====", 1)[1]
    for line in body.splitlines():
        text = line[2:] if line.startswith("# az ") else line
        for part in re.split(r"\|\||;|\$\(|\bthen\b", text):
            part = part.strip()
            if part.startswith("az "):
                assert "--subscription" in part, part
    for rem in findings.loc[findings["compliance_state"] == "NonCompliant", "remediation"]:
        for part in re.split(r";|\(", rem):
            if re.search(r"\baz [a-z]", part) and "az network private-dns record-set a add-record, then" not in part:
                cmd = part[part.index("az "):]
                # a policy assignment is named by its full scope (which may be a management group's)
                assert "--subscription" in cmd or re.search(r"--scope /\S", cmd), cmd


def test_remediation_of_safe_rules_is_concrete(tmp_path):
    _, _, findings, _ = _plan(tmp_path)
    nc = findings[(findings["compliance_state"] == "NonCompliant") & findings["rule_id"].isin(SAFE_RULES)]
    assert len(nc)
    for rule, rem in zip(nc["rule_id"], nc["remediation"]):
        assert "<" not in rem.replace("<principal-id-printed-by-identity-assign>", ""), (rule, rem)
        assert "--subscription" in rem, (rule, rem)


# ------------------------------------------------------------------------------------------------ public access

def test_public_access_is_held_back_on_a_vault_whose_only_connection_is_rejected(tmp_path):
    objects = json.loads(json.dumps(DEMO))
    _set_state(objects, "rsv-prod-sap-01", "pe-rsv-prod-sap-01", "Rejected")
    script, _, findings, _ = _plan(tmp_path, objects)
    blocks = _blocks(script)
    public = [b for b in blocks
              if "rsv-prod-sap-01" in b["commands"][0] and "public-network-access" in b["commands"][0]]
    assert len(public) == 1 and public[0]["review"] is not None
    assert "no approved backup private endpoint" in public[0]["review"]
    approve = [b for b in blocks if any("pe-rsv-prod-sap-01" in c for c in b["commands"]) and
               any(r == "PE-001" for _, r in b["fixes"])]
    assert approve and all(b["review"] for b in approve)          # a rejected connection is re-created, by a person


def test_a_pending_connection_is_approved_before_public_access_is_disabled(tmp_path):
    objects = json.loads(json.dumps(DEMO))
    _set_state(objects, "rsv-prod-sap-01", "pe-rsv-prod-sap-01", "Pending")
    script, _, _, _ = _plan(tmp_path, objects)
    lines = script.splitlines()
    approve = next(i for i, x in enumerate(lines) if not x.startswith("#") and "rsv-prod-sap-01" in x
                   and "az network private-endpoint-connection approve" in x)
    public = next(i for i, x in enumerate(lines) if not x.startswith("#") and "rsv-prod-sap-01" in x
                  and "az backup vault update" in x)
    assert approve < public
    # with the approval exempted (not in the plan), the vault has no approved endpoint: public access waits
    pe = _pe(objects, "pe-rsv-prod-sap-01")["id"]
    ex = engine.Exemption(rules=("PE-001",), scope=pe, category="Waiver")
    script, _, _, _ = _plan(tmp_path, objects, [ex])
    held = [b for b in _blocks(script) if "rsv-prod-sap-01" in b["commands"][0] and "public-network" in
            b["commands"][0]]
    assert held[0]["review"] and "no approved backup private endpoint" in held[0]["review"]
    assert not any(not x.startswith("#") and "az backup vault update" in x and "rsv-prod-sap-01" in x
                   for x in script.splitlines())


def test_public_access_is_held_back_when_the_only_backup_endpoint_failed(tmp_path):
    objects = json.loads(json.dumps(DEMO))
    _rsv(objects, "rsv-prod-hana-01")["properties"]["publicNetworkAccess"] = "Enabled"
    script, _, findings, _ = _plan(tmp_path, objects)
    held = [b for b in _blocks(script) if "rsv-prod-hana-01" in b["commands"][0] and "public-network" in
            b["commands"][0]]
    assert held and held[0]["review"]


def test_public_access_waits_for_a_dns_fix_under_review(tmp_path):
    objects = json.loads(json.dumps(DEMO))
    # the zone of rsv-prod-sql-04's missing record does not exist: its DNS step needs a person
    pe = _pe(objects, "pe-rsv-prod-sql-04")
    for c in pe["properties"]["customDnsConfigs"]:
        c["fqdn"] = c["fqdn"].replace(".we.backup.", ".xx.backup.")
    _rsv(objects, "rsv-prod-sql-04")["properties"]["publicNetworkAccess"] = "Enabled"
    script, _, _, _ = _plan(tmp_path, objects)
    held = [b for b in _blocks(script) if "rsv-prod-sql-04" in b["commands"][0] and "public-network" in
            b["commands"][0]]
    assert held and "review" in held[0]["review"]
    dns = [b for b in _blocks(script) if "privatelink.xx.backup" in " ".join(b["commands"])]
    assert dns and all(b["review"] and "no private DNS zone named" in b["review"] for b in dns)


# ------------------------------------------------------------------------------------------------ hostile names

def test_hostile_names_stay_inert_in_the_script(tmp_path):
    """A resource group named with shell syntax and a newline: the script runs (with a stand-in az that logs its
    arguments) without executing any of it, and the name reaches az as one literal argument."""
    evil = "rg-$(touch PWNED)`touch PWNED2`;x"
    text = json.dumps(DEMO).replace("rg-rsv-prod-sap-01", evil.replace("\\", "\\\\"))
    objects = json.loads(text)
    _rsv(objects, "rsv-prod-sap-01")["name"] = "rsv-prod-sap-01"
    script, md, _, _ = _plan(tmp_path, objects)
    assert evil in md.replace("\\", "") or "touch PWNED" in md
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "az.log"
    (fake / "az").write_text("#!/bin/sh\n"
                             f"printf '%s\\n' \"$*\" >> {shlex.quote(str(log))}\n"
                             "case \"$*\" in *'provider show'*) echo Registered;; esac\nexit 0\n")
    (fake / "az").chmod(0o755)
    work = tmp_path / "run"
    work.mkdir()
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run(["bash", str(tmp_path / "plan" / "remediation.sh")], cwd=work, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not (work / "PWNED").exists() and not (work / "PWNED2").exists()
    assert any(evil in line for line in log.read_text().splitlines())


# ------------------------------------------------------------------------------------------------ the command

def test_auditor_plan_writes_both_files_and_never_runs_them(tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "auditor", "plan", "--demo", "--out", str(out)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "(not run)" in r.stdout
    assert (out / "remediation.sh").read_text().startswith("#!/usr/bin/env bash\n")
    assert (out / "remediation.md").read_text().startswith("# Remediation plan\n")
    assert not (out / "findings.json").exists()
    r = subprocess.run([sys.executable, "-m", "auditor", "plan", "--demo", "--rule", "NOPE-1", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "NOPE-1" in r.stderr


@pytest.mark.parametrize("rule", ["RSV-001", "PE-001"])
def test_a_rule_filter_plans_only_that_rules_findings(tmp_path, rule):
    m = pipeline.load_demo()
    findings = engine.evaluate(m, ALL, engine.Settings(only={rule}))
    p = plan.build(m.steps, findings)
    assert p.all() and {r for s in p.all() for _, r, _ in s.findings} == {rule}
