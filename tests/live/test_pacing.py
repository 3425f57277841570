"""Client-side pacing under ARM's read token bucket: requests wait in the client instead of bouncing off 429s,
each read is made once, and the findings stay exact. Deterministic checks on counts, not on timings."""
from __future__ import annotations

from collections import Counter

import pytest

from auditor import collect, engine, pipeline
from auditor.rules import ALL
from tests import synth
from tests.emulator import TokenBucket


def findings(resources, errors=(), types=collect.COLLECTED_TYPES) -> set[tuple[str, str, str]]:
    f = engine.evaluate(pipeline.load_objects(resources, list(errors), types), ALL, engine.Settings())
    return {(r, i.lower(), s) for r, i, s in zip(f.rule_id, f.resource_id, f.compliance_state)}


def duplicates(requests) -> int:
    keys = Counter((r["method"], r["path"].lower(), tuple(sorted(r["query"].items())), r.get("body", ""))
                   for r in requests if r.get("status") != 429)
    return sum(n - 1 for n in keys.values() if n > 1)


@pytest.fixture
def estate(emulator):
    s = synth.large(12, seed=3, subs=3)
    emulator.set_estate(s.objects)
    emulator.page_size = 5
    emulator.event_time_filter = False
    return s


def per_subscription(requests) -> Counter:
    return Counter(r["path"].lower().split("/")[2] for r in requests if r["path"].lower().startswith("/subscriptions/"))


def test_paced_under_a_small_bucket(estate, emulator, run, monkeypatch):
    # the client paces under the server's bucket, as it does under ARM's: requests that leave on time can still
    # arrive bunched (threads, a busy CI machine), so it keeps some slack in burst and rate
    monkeypatch.setitem(collect.PACING, "burst", 5)
    monkeypatch.setitem(collect.PACING, "rate", 30)
    emulator.throttle = TokenBucket(capacity=8, rate=40)
    stats: dict = {}
    result = run(None, stats=stats)
    assert max(per_subscription(emulator.requests).values()) > 8, "the bucket must bind for the test to mean much"
    assert [r for r in emulator.requests if r.get("status") == 429] == []
    assert stats["throttled"] == 0 and stats["paced_seconds"] > 0
    assert duplicates(emulator.requests) == 0
    assert result["errors"] == []
    offline = findings(estate.objects)
    assert findings(result["resources"], result["errors"], result["collected_types"]) == offline
    assert {(r, i) for r, i, s in offline if s == "NonCompliant"} == estate.expected
    assert stats["requests"] == len(emulator.requests) and stats["chain"] >= 3


def test_learns_a_smaller_budget_from_the_remaining_reads_header(estate, emulator, run):
    """The client's default bucket is ARM's (250); the server's is smaller (shared with other clients): what the
    answers report lowers the client's view, so hardly anything bounces and nothing reaches the user."""
    emulator.throttle = TokenBucket(capacity=20, rate=50)
    result = run(None, max_concurrency=2)
    bounced = sum(r.get("status") == 429 for r in emulator.requests)
    assert bounced <= 2
    assert result["errors"] == [] and duplicates(emulator.requests) == 0
    assert findings(result["resources"], result["errors"], result["collected_types"]) == findings(estate.objects)


def test_429s_that_still_come_are_retried_and_empty_the_bucket(estate, emulator, run, monkeypatch):
    """A client that believes it has far more budget than the server: 429s come, Retry-After is honoured, the
    subscription's budget is emptied for every worker, and the run still ends complete and exact."""
    monkeypatch.setitem(collect.PACING, "burst", 1000)
    monkeypatch.setitem(collect.PACING, "rate", 1000)
    emulator.throttle = TokenBucket(capacity=10, rate=20)
    stats: dict = {}
    result = run(None, stats=stats)
    assert stats["throttled"] > 0 and stats["throttled"] == sum(r.get("status") == 429 for r in emulator.requests)
    assert result["errors"] == []
    assert findings(result["resources"], result["errors"], result["collected_types"]) == findings(estate.objects)


def test_pace_keys():
    assert collect.pace_key("https://h/subscriptions/ABC/providers/x?api-version=1") == "abc"
    assert collect.pace_key("https://h/providers/Microsoft.ResourceGraph/resources?api-version=1") == "graph"
    assert collect.pace_key("https://h/subscriptions?api-version=1") == "tenant"
    assert collect.seconds("00:01:05") == 65 and collect.seconds("2") == 2 and collect.seconds("x") is None
