"""DNS-007 end to end: `auditor audit --resolve --dns-server` against a real DNS server on 127.0.0.1."""
from __future__ import annotations

import json

from auditor import pipeline

from . import synth
from .dnsserver import DNSTestServer, start_dead_server
from .test_cli import run


def _estate(tmp_path):
    s = synth.demo()
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(s.objects))
    m = pipeline.load([str(path)])
    ep = m.endpoints
    judged = ep[(ep["backup"] | ep["storage"]) & ep["in_input"] & (ep["n_fqdns"] > 0)]
    fq = m.fqdns[m.fqdns["pe_id"].isin(set(judged["id"]))]
    return path, judged, fq


def _records(fq):
    """Every FQDN answers its expected IP; public storage names the way Azure does it (CNAME to privatelink)."""
    records = {}
    for f, exp in zip(fq["fqdn"], fq["expected"]):
        if ".privatelink." in f:
            records[f] = list(exp)
        else:
            first, rest = f.split(".", 1)
            target = f"{first}.privatelink.{rest}"
            records[f] = {"CNAME": target}
            records[target] = list(exp)
    return records


def _rows(out):
    return [r for r in json.loads((out / "findings.json").read_text())["findings"] if r["rule_id"] == "DNS-007"]


def test_dns007_exactly_the_two_broken_endpoints(tmp_path):
    path, judged, fq = _estate(tmp_path)
    records = _records(fq)
    backup = fq[fq["fqdn"].str.contains(".backup.windowsazure.com", regex=False)].iloc[0]
    storage = fq[fq["fqdn"].str.endswith(".queue.core.windows.net")].iloc[0]
    records[backup["fqdn"]] = "52.168.10.20"                   # a public IP
    first, rest = storage["fqdn"].split(".", 1)
    records[f"{first}.privatelink.{rest}"] = "NXDOMAIN"         # the CNAME target does not exist
    with DNSTestServer(records) as srv:
        p = run("audit", "--input", path, "--out", tmp_path / "o", "--format", "json,html", "--resolve",
                "--dns-server", f"{srv.host}:{srv.port}", "--dns-timeout", "1")
    assert p.returncode == 1, p.stderr
    rows = _rows(tmp_path / "o")
    nc = {r["resource_id"].lower() for r in rows if r["compliance_state"] == "NonCompliant"}
    assert nc == {backup["pe_id"], storage["pe_id"]}
    compliant = {r["resource_id"].lower() for r in rows if r["compliance_state"] == "Compliant"}
    assert compliant == set(judged["id"]) - nc
    assert not [r for r in rows if r["compliance_state"] == "Error"]
    msg = next(r["message"] for r in rows if r["resource_id"].lower() == backup["pe_id"])
    assert "52.168.10.20" in msg and backup["fqdn"] in msg and srv.host in msg
    assert "NXDOMAIN" in next(r["message"] for r in rows if r["resource_id"].lower() == storage["pe_id"])
    assert "52.168.10.20" in (tmp_path / "o" / "report.html").read_text()


def test_without_resolve_dns007_has_no_rows(tmp_path):
    path, _, _ = _estate(tmp_path)
    run("audit", "--input", path, "--out", tmp_path / "o", "--format", "json")
    assert _rows(tmp_path / "o") == []


def test_dead_server_gives_error_rows_not_a_hang(tmp_path):
    path, judged, _ = _estate(tmp_path)
    host, port, stop = start_dead_server()
    try:
        p = run("audit", "--input", path, "--out", tmp_path / "o", "--format", "json", "--resolve",
                "--dns-server", f"{host}:{port}", "--dns-timeout", "0.3")
    finally:
        stop()
    assert p.returncode == 3, p.stderr
    rows = _rows(tmp_path / "o")
    errors = [r for r in rows if r["compliance_state"] == "Error"]
    assert {r["resource_id"].lower() for r in errors} == set(judged["id"])
    assert all("no answer at all from the DNS server" in r["message"] for r in errors)
