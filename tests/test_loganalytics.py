"""--log-analytics-endpoint: findings and one run record reach a Logs Ingestion look-alike on loopback (HTTPS,
the pinned stand-in az credential), every finding exactly once, batched as azure-monitor-ingestion does; a refused
upload is one line and exit 3, with the local reports written."""
from __future__ import annotations

import json
import os
import secrets
from collections import Counter
from types import SimpleNamespace

import pytest
import trustme

from auditor.cli import main
from tests.emulator import cli_env, write_fake_az
from tests.emulator.ingestion import Ingestion

from . import synth

DCR = "dcr-0123456789abcdef0123456789abcdef"


@pytest.fixture
def ingestion(tmp_path, monkeypatch):
    ca, token = trustme.CA(), "la-token-" + secrets.token_urlsafe(16)
    az = write_fake_az(tmp_path / "az", token)
    with Ingestion(token=token, ca=ca, workdir=tmp_path) as srv:
        env = cli_env(SimpleNamespace(url="https://127.0.0.1:9", ca_file=srv.ca_file), az)
        env.pop("AZURE_ARM_ENDPOINT")
        for k in list(os.environ):
            if k not in env:
                monkeypatch.delenv(k)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        srv.az_dir = az
        yield srv


def _audit(tmp_path, srv, *extra, inp=None):
    args = ["audit", *(["--input", str(inp)] if inp else ["--demo"]), "--out", str(tmp_path / "out"),
            "--format", "json", "--fail-on", "never", "-q", "--log-analytics-endpoint", srv.url, "--dcr-id", DCR,
            *extra]
    return main(args)


def test_every_finding_arrives_exactly_once_with_a_run_record(tmp_path, ingestion):
    assert _audit(tmp_path, ingestion) == 0
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    rows = ingestion.rows
    findings = [r for r in rows if r["RecordType"] == "Finding"]
    runs = [r for r in rows if r["RecordType"] == "Run"]
    assert Counter(r["FindingId"] for r in findings) == Counter(f["finding_id"] for f in doc["findings"])
    assert all(c == 1 for c in Counter(r["FindingId"] for r in findings).values())
    assert len(runs) == 1 and runs[0]["Evaluations"] == len(doc["findings"])
    assert runs[0]["NonCompliant"] == doc["summary"]["by_state"]["NonCompliant"]
    assert {r["RunId"] for r in rows} == {runs[0]["RunId"]}
    assert set(findings[0]) >= {"TimeGenerated", "RuleId", "Severity", "ComplianceState", "ResourceId", "Message"}
    assert {b["stream"] for b in ingestion.batches} == {"Custom-RsvPeAuditor"}
    assert {b["dcr"] for b in ingestion.batches} == {DCR}
    assert all(r["headers"].get("content-encoding") == "gzip" for r in ingestion.requests)
    # the audience asked of the credential is Azure Monitor's
    from tests.emulator import az_calls
    asked = [c[c.index(k) + 1] for c in az_calls(ingestion.az_dir) for k in ("--scope", "--resource") if k in c]
    assert asked == ["https://monitor.azure.com"]


def test_large_uploads_are_split_into_batches_each_row_once(tmp_path, ingestion):
    big = tmp_path / "big.json"
    s = synth.large(400, seed=3)
    big.write_text(json.dumps(s.objects))
    assert _audit(tmp_path, ingestion, "--stream", "Custom-Other", inp=big) == 0
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert len(ingestion.batches) > 1
    assert all(len(json.dumps(b["rows"]).encode()) <= 1024 * 1024 + 2 * len(b["rows"]) for b in ingestion.batches)
    ids = [r["FindingId"] for r in ingestion.rows if r["RecordType"] == "Finding"]
    assert len(ids) == len(set(ids)) == len(doc["findings"])
    assert {b["stream"] for b in ingestion.batches} == {"Custom-Other"}


@pytest.mark.parametrize("status", [403, 400])
def test_a_refused_upload_is_one_line_and_exit_3_reports_written(tmp_path, ingestion, capsys, status):
    ingestion.fail_status = status
    assert _audit(tmp_path, ingestion) == 3
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln.startswith("auditor:")]
    assert len(err) == 1 and "Log Analytics upload" in err[0] and f"HTTP {status}" in err[0], err
    assert "Traceback" not in err[0]
    assert (tmp_path / "out" / "findings.json").stat().st_size > 0


def test_unreachable_endpoint_is_exit_3(tmp_path, ingestion, capsys):
    url = ingestion.url
    ingestion.url = "https://127.0.0.1:1"
    try:
        assert _audit(tmp_path, ingestion) == 3
    finally:
        ingestion.url = url
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln.startswith("auditor:")]
    assert len(err) == 1 and "127.0.0.1:1" in err[0]


@pytest.mark.parametrize("args,needle", [
    (["--dcr-id", DCR], "--log-analytics-endpoint"),
    (["--log-analytics-endpoint", "https://127.0.0.1:9"], "--dcr-id"),
    (["--log-analytics-endpoint", "http://127.0.0.1:9", "--dcr-id", DCR], "https"),
    (["--log-analytics-endpoint", "https://127.0.0.1:9", "--dcr-id", "a/b"], "--dcr-id"),
])
def test_usage_errors(tmp_path, capsys, args, needle):
    assert main(["audit", "--demo", "--out", str(tmp_path / "o"), "-q", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "o").exists()


def test_the_shipped_rule_declares_every_column_sent(tmp_path, ingestion):
    """docs/log-analytics: the stream declaration and the table have the columns the auditor sends, typed."""
    from pathlib import Path
    tpl = json.loads((Path(__file__).resolve().parents[1] / "docs" / "log-analytics" / "rsv-pe-auditor-dcr.json")
                     .read_text())
    [table] = [r for r in tpl["resources"] if r["type"].endswith("/tables")]
    [rule] = [r for r in tpl["resources"] if r["type"].endswith("/dataCollectionRules")]
    declared = {c["name"]: c["type"] for c in rule["properties"]["streamDeclarations"]["Custom-RsvPeAuditor"]["columns"]}
    assert declared == {c["name"]: c["type"] for c in table["properties"]["schema"]["columns"]}
    assert _audit(tmp_path, ingestion, "--history", str(tmp_path / "h.sqlite")) == 0
    sent = {k for r in ingestion.rows for k in r}
    assert sent == set(declared)
    py = {"string": str, "int": int, "real": (int, float), "datetime": str, "dynamic": (dict, list)}
    for r in ingestion.rows:
        for k, v in r.items():
            assert v is None or isinstance(v, py[declared[k]]), (k, v)
