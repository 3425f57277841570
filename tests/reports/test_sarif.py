"""findings.sarif against the published SARIF 2.1.0 schema (tests/fixtures/sarif, see SOURCE.md), and what code
scanning relies on: one result per NonCompliant finding, rule help and severity, finding_id fingerprints, artifact
and logical locations from the resource ids, baselineState with a baseline."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import jsonschema
import pytest

from auditor.cli import main
from auditor.reports.sarif import FINGERPRINT, SEVERITY_MAP, build_sarif

from .builders import make_findings, make_meta

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json")
                    .read_text(encoding="utf-8"))


def validate(doc: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    v = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("sarif")
    assert main(["audit", "--demo", "--out", str(out), "--format", "sarif,json", "--fail-on", "never", "-q"]) == 0
    return json.loads((out / "findings.sarif").read_text()), json.loads((out / "findings.json").read_text())


def test_demo_sarif_validates_against_the_published_schema(demo):
    sarif, _ = demo
    assert sarif["version"] == "2.1.0" and sarif["$schema"] == SCHEMA["id"]
    validate(sarif)


def test_one_result_per_noncompliant_finding_with_fingerprint_and_location(demo):
    sarif, doc = demo
    [run] = sarif["runs"]
    nc = [f for f in doc["findings"] if f["compliance_state"] == "NonCompliant"]
    results = run["results"]
    assert len(results) == len(nc)
    assert [r["partialFingerprints"][FINGERPRINT] for r in results] == [f["finding_id"] for f in nc]
    rules = run["tool"]["driver"]["rules"]
    for r, f in zip(results, nc):
        assert r["ruleId"] == f["rule_id"] == rules[r["ruleIndex"]]["id"]
        assert r["message"]["text"] == f["message"]
        [loc] = r["locations"]
        assert loc["logicalLocations"][0]["fullyQualifiedName"] == f["resource_id"]
        assert loc["logicalLocations"][0]["kind"] == "resource"
        # GitHub's ingestion rules (GH1001, GH1005): an artifact location on every result, as a relative URI
        uri = loc["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == quote(f["resource_id"].lstrip("/"), safe="/") and urlsplit(uri).scheme == ""
        assert unquote(uri) == f["resource_id"][1:] and not uri.startswith("/")
        level, score = SEVERITY_MAP[f["severity"]]
        assert r["level"] == level and r["properties"]["security-severity"] == score
        assert "baselineState" not in r


def test_rules_carry_help_and_severity(demo):
    sarif, doc = demo
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {f["rule_id"] for f in doc["findings"] if f["compliance_state"] == "NonCompliant"}
    for r in rules:
        sev = r["properties"]["severity"]
        assert r["defaultConfiguration"]["level"] == SEVERITY_MAP[sev][0]
        assert float(r["properties"]["security-severity"]) == float(SEVERITY_MAP[sev][1])
        assert r["shortDescription"]["text"] and "Fix:" in r["help"]["text"] and r["help"]["markdown"]
    # code scanning's bands: critical >= 9.0, high 7.0-8.9, medium 4.0-6.9, low < 4
    assert [float(SEVERITY_MAP[s][1]) >= t for s, t in (("Critical", 9.0), ("High", 7.0), ("Medium", 4.0))] == [True] * 3
    assert float(SEVERITY_MAP["Low"][1]) < 4.0


def test_hostile_strings_and_baseline_state_still_validate():
    frame = make_findings(with_change=True)
    doc = build_sarif(frame, make_meta(frame, baseline=True))
    validate(doc)
    states = {r["baselineState"] for r in doc["runs"][0]["results"]}
    assert states <= {"new", "unchanged"} and states
    json.dumps(doc, allow_nan=False)


def test_empty_and_incomplete_runs_validate(tmp_path):
    frame = make_findings().iloc[0:0]
    doc = build_sarif(frame, {"tool": {"name": "auditor", "version": "0"}, "errors": [{"scope": "/subscriptions/x",
                                                                                      "status": 403, "message": "no"}]})
    validate(doc)
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["invocations"][0]["executionSuccessful"] is False
