"""junit.xml: well-formed with hostile input, counts per suite, one test case per evaluation."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest
from .builders import HOSTILE, make_findings, make_meta

from auditor.reports.junit import write_junit


@pytest.fixture
def tree(tmp_path, findings, meta):
    path = tmp_path / "junit.xml"
    write_junit(path, findings, meta)
    return ET.parse(path).getroot()


def test_counts_match_the_frame(tree, findings):
    c = findings["compliance_state"].value_counts()
    assert tree.tag == "testsuites"
    cases = tree.findall("./testsuite/testcase")
    assert len(cases) == len(findings) == int(tree.get("tests"))
    assert len(tree.findall("./testsuite/testcase/failure")) == c["NonCompliant"] == int(tree.get("failures"))
    assert len(tree.findall("./testsuite/testcase/error")) == c["Error"] == int(tree.get("errors"))
    assert len(tree.findall("./testsuite/testcase/skipped")) == c["Exempt"] + c["NotApplicable"] \
        == int(tree.get("skipped"))
    plain = [tc for tc in cases if len(tc) == 0]
    assert len(plain) == c["Compliant"]


def test_one_suite_per_rule_with_its_counts(tree, findings):
    suites = tree.findall("testsuite")
    assert [s.get("name").split(" ", 1)[0] for s in suites] == ["RSV-006", "RSV-001", "DNS-001", "PE-001",
                                                               "RSV-002", "DNS-006"]
    assert suites[1].get("name") == "RSV-001 Public network access is not disabled"
    for s in suites:
        rid = s.get("name").split(" ", 1)[0]
        sub = findings[findings["rule_id"] == rid]["compliance_state"].value_counts()
        assert int(s.get("tests")) == len(s.findall("testcase")) == sub.sum()
        assert int(s.get("failures")) == sub.get("NonCompliant", 0)
        assert int(s.get("errors")) == sub.get("Error", 0)
        assert int(s.get("skipped")) == sub.get("Exempt", 0) + sub.get("NotApplicable", 0)
        assert {tc.get("classname") for tc in s.findall("testcase")} == {rid}


def test_testcase_names_are_the_resource_ids_minus_invalid_characters(tree, findings):
    names = [tc.get("name") for tc in tree.iter("testcase")]
    order = {r: i for i, r in enumerate(["RSV-006", "RSV-001", "DNS-001", "PE-001", "RSV-002", "DNS-006"])}
    expected = findings.assign(o=findings["rule_id"].map(order)).sort_values("o", kind="stable")["resource_id"]
    strip = str.maketrans({c: None for c in "\x00\x07\x1b\x7f\x85\ud800"})
    assert names == [r.translate(strip) for r in expected]
    assert any("<script>alert(1)</script>" in n for n in names)  # escaped on write, intact on read
    assert any('"><img src=x onerror=alert(1)>' in n for n in names)
    assert any("\u202e" in n for n in names)  # valid XML: kept as data
    assert any(n.endswith("L" * 10_000) for n in names)


def test_failure_error_skipped_bodies(tree):
    failures = tree.findall(".//failure")
    f = next(x for x in failures if "identity tenant" in x.get("message"))
    assert f.get("message") == "identity tenant t1 differs from <script>alert(1)</script>"
    assert f.get("type") == "Critical"
    assert "Remediation: Re-create the identity." in f.text
    err = tree.findall(".//error")
    assert {e.get("message") for e in err} == {"subscription tenant unknown invoice\u202egpj.exe",
                                               "403 on privateDnsZones lonehalf"}
    skipped = [s.get("message") for s in tree.findall(".//skipped")]
    assert f"Exempt (Waiver): CHG-1 {HOSTILE['script']}" in skipped
    assert "NotApplicable: custom DNS" in skipped


def test_newlines_survive_in_attributes(tmp_path):
    df = make_findings()
    df.loc[df["compliance_state"] == "NonCompliant", "message"] = "line one\nline two\ttab\r"
    path = tmp_path / "j.xml"
    write_junit(path, df, make_meta(df))
    f = ET.parse(path).getroot().find(".//failure")
    assert f.get("message") == "line one\nline two\ttab\r"


def test_tolerates_empty_frame_and_missing_meta(tmp_path):
    path = tmp_path / "j.xml"
    write_junit(path, pd.DataFrame(), {})
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "0" and len(root) == 0
    df = make_findings()[["rule_id", "compliance_state", "resource_id"]]
    write_junit(path, df, None)
    root = ET.parse(path).getroot()
    assert len(root.findall(".//testcase")) == len(df)
