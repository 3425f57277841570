"""--source resource-graph: the inventory from a few paged Resource Graph queries (the emulator answers the tool's
own KQL), the rest from ARM; the same findings as the ARM source and as the offline path."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import collect, engine, pipeline
from auditor.rules import ALL
from tests import synth
from tests.emulator import Fault, ResourceGraph, cli_env

ROOT = Path(__file__).resolve().parents[2]
from tests.live.demo import DEMO  # noqa: E402  (the demo the collector reads: see tests/live/demo.py)
GRAPH = "/providers/microsoft.resourcegraph/resources"


def findings(resources, errors=(), types=collect.COLLECTED_TYPES) -> set[tuple[str, str, str]]:
    f = engine.evaluate(pipeline.load_objects(resources, list(errors), types), ALL, engine.Settings())
    return {(r, i.lower(), s) for r, i, s in zip(f.rule_id, f.resource_id, f.compliance_state)}


@pytest.fixture
def graph(emulator) -> ResourceGraph:
    emulator.event_time_filter = False
    return ResourceGraph().install(emulator)


def collect_both(emulator, run):
    emulator.reset_log()
    arm = run(None, source="arm")
    arm_requests = list(emulator.requests)
    emulator.reset_log()
    rg = run(None, source="resource-graph")
    return arm, arm_requests, rg, list(emulator.requests)


@pytest.mark.parametrize("which", ["demo", "large"])
def test_same_findings_as_arm_and_offline(which, emulator, graph, run):
    if which == "demo":
        objects, expected = json.loads(DEMO.read_text()), None
        emulator.page_size = 50
    else:
        s = synth.large(40, seed=11, subs=8)
        objects, expected = s.objects, s.expected
        emulator.page_size = 7
    emulator.set_estate(objects)
    arm, arm_requests, rg, rg_requests = collect_both(emulator, run)
    assert arm["errors"] == [] and rg["errors"] == []
    offline = findings(objects)
    assert findings(arm["resources"], arm["errors"], arm["collected_types"]) == offline
    assert findings(rg["resources"], rg["errors"], rg["collected_types"]) == offline
    if expected is not None:
        assert {(r, i) for r, i, st in offline if st == "NonCompliant"} == expected
    # only reads: GETs, and Resource Graph queries as POSTs
    assert {(r["method"], r["path"].lower() == GRAPH) for r in rg_requests} == {("GET", False), ("POST", True)}
    posts = [json.loads(r["body"]) for r in rg_requests if r["method"] == "POST"]
    assert {p["query"] for p in posts} == {collect.graph_query(t, ty) for t, ty in collect.GRAPH_QUERIES.values()}
    # each query asked once for every subscription (one batch per worker process; pages repeat their batch)
    subs = sorted(o["subscriptionId"].lower() for o in objects if o.get("displayName"))
    for q in {p["query"] for p in posts}:
        firsts = [p for p in posts if p["query"] == q and not p["options"].get("$skipToken")]
        assert sorted(x.lower() for p in firsts for x in p["subscriptions"]) == subs, q
    assert len(rg_requests) < len(arm_requests)
    # the same objects, in ARM's shape (Resource Graph's own columns dropped, ARM's type spelling)
    rg_by_id = {o["id"].lower(): o for o in rg["resources"]}
    arm_by_id = {o["id"].lower(): o for o in arm["resources"]}
    assert rg_by_id.keys() >= arm_by_id.keys()
    for rid, o in arm_by_id.items():
        got = rg_by_id[rid]
        assert got.get("type") == o.get("type") and got.get("properties") == o.get("properties"), rid
        assert "subscriptionId" not in got or "subscriptionId" in o


@pytest.mark.parametrize("workers", [1, 2])
def test_paging_and_quota_are_honoured(emulator, run, monkeypatch, workers):
    """Small pages (skip tokens) and a tight quota: the client waits for the window instead of bouncing (worker
    processes share the quota out)."""
    s = synth.large(20, seed=5, subs=4)
    emulator.set_estate(s.objects)
    emulator.event_time_filter = False
    graph = ResourceGraph(quota=4, window=1.0).install(emulator)
    monkeypatch.setitem(collect.GRAPH, "top", 9)
    monkeypatch.setitem(collect.GRAPH, "quota", 4)
    monkeypatch.setitem(collect.GRAPH, "window", 1.0)
    stats: dict = {}
    rg = run(None, source="resource-graph", stats=stats, workers=workers)
    assert stats["workers"] == workers
    posts = [json.loads(r["body"]) for r in emulator.requests if r["method"] == "POST"]
    assert len(posts) > len(collect.GRAPH_QUERIES) + 4, "several pages per query"
    assert any(p["options"].get("$skipToken") for p in posts)
    assert all(p["options"]["$top"] == 9 for p in posts)
    assert graph.throttled == 0 and stats["throttled"] == 0
    assert stats["by_budget"]["graph"] == len(posts)
    assert rg["errors"] == []
    assert findings(rg["resources"], rg["errors"], rg["collected_types"]) == findings(s.objects)


def test_quota_exhausted_by_others_is_waited_for(emulator, run):
    """Another client used the quota up: the first answer says so (x-ms-user-quota-remaining: 0, or a 429 with
    Retry-After), the run waits and completes."""
    s = synth.large(8, seed=5, subs=2)
    emulator.set_estate(s.objects)
    emulator.event_time_filter = False
    graph = ResourceGraph(quota=3, window=1.0).install(emulator)
    graph._quota()
    graph._quota()
    rg = run(None, source="resource-graph")
    assert rg["errors"] == []
    assert findings(rg["resources"], rg["errors"], rg["collected_types"]) == findings(s.objects)


def test_a_failed_query_is_an_error_for_each_subscription(emulator, graph, run, small):
    from .conftest import S1, S2

    emulator.faults.append(Fault(status=403, prefix="/providers/Microsoft.ResourceGraph/resources"))
    rg = run((S1, S2), source="resource-graph")
    errs = rg["errors"]
    assert {e["scope"].lower() for e in errs} == {f"/subscriptions/{S1}", f"/subscriptions/{S2}"}
    assert {t for e in errs for t in e["types"]} == {ty for _, ty in collect.GRAPH_QUERIES.values()}
    assert {e["status"] for e in errs} == {403}
    assert all("Resource Graph query" in e["message"] for e in errs)


def test_unknown_source_is_a_usage_error(emulator, run):
    with pytest.raises(collect.CollectError, match="--source"):
        run(None, source="graphql")


def test_emulator_rejects_queries_it_does_not_know(emulator, graph, token):
    import requests

    r = requests.post(emulator.url + "/providers/Microsoft.ResourceGraph/resources", params={"api-version": "2021-03-01"},
                      json={"query": "resources | summarize count()", "subscriptions": []},
                      headers={"Authorization": f"Bearer {token}"}, verify=emulator.ca_file, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidQuery"
    assert r.headers["x-ms-user-quota-remaining"].isdigit() and r.headers["x-ms-user-quota-resets-after"].count(":") == 2


@pytest.mark.skipif(not DEMO.exists(), reason="auditor/data/demo.json does not exist yet")
def test_cli_source_resource_graph_equals_offline(emulator, graph, az_dir, tmp_path):
    emulator.set_estate(json.loads(DEMO.read_text()))
    emulator.page_size = 50
    env = cli_env(emulator, az_dir)

    def audit(*args):
        return subprocess.run([sys.executable, "-m", "auditor", "audit", "--format", "json", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)

    live = audit("--source", "resource-graph", "--out", str(tmp_path / "live"))
    offline = audit("--input", str(DEMO), "--out", str(tmp_path / "offline"))
    assert live.returncode == offline.returncode, live.stderr

    def rows(d):
        return {(f["rule_id"], f["resource_id"].lower(), f["compliance_state"])
                for f in json.loads((tmp_path / d / "findings.json").read_text())["findings"]}
    assert rows("live") == rows("offline")
    assert any(r["method"] == "POST" for r in emulator.requests)
    assert {r["method"] for r in emulator.requests} == {"GET", "POST"}


def test_a_query_that_fails_after_some_pages_is_still_an_error(emulator, graph, run, monkeypatch):
    """Pages are taken as they come; a query that fails on a later page still makes its error records, so that
    nothing resting on what it would have returned is judged: every row either equals the offline truth or is
    Error, and the failed types' rows in those subscriptions are Error."""
    s = synth.large(16, seed=13, subs=4)
    emulator.set_estate(s.objects)
    monkeypatch.setitem(collect.GRAPH, "top", 3)
    emulator.faults.append(Fault(status=403, prefix=GRAPH, every=4))   # the 4th, 8th, ... query page
    rg = run(None, source="resource-graph", workers=1)
    posts = [json.loads(r["body"]) for r in emulator.requests if r["method"] == "POST"]
    failed = {r["status"] for r in emulator.requests if r["method"] == "POST"}
    assert 403 in failed and any(p["options"].get("$skipToken") for p in posts)
    assert rg["errors"] and {e["status"] for e in rg["errors"]} == {403}
    # some query failed after pages that were kept
    kept_before_failure = [p for p in posts if p["options"].get("$skipToken")]
    assert kept_before_failure
    got = {(r, i): st for r, i, st in findings(rg["resources"], rg["errors"], rg["collected_types"])}
    truth = {(r, i): st for r, i, st in findings(s.objects)}
    assert got.keys() <= truth.keys()
    assert [k for k, st in got.items() if st != "Error" and st != truth[k]] == []
    assert any(st == "Error" for st in got.values())
