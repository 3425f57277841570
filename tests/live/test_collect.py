"""The live collector against the HTTPS ARM emulator: what it reads, how it pages, retries and reports failures."""
from __future__ import annotations

import io
import os
from collections import Counter
import logging

import pytest

from auditor import arm, collect
from tests.emulator import Fault, az_calls

from .conftest import S1, S2, S3, TENANT

NET_TYPES = {arm.PRIVATE_ENDPOINT, arm.NIC, arm.VNET, arm.ZONE}


def ids(result) -> dict[str, dict]:
    return {o["id"].lower(): o for o in result["resources"]}


@pytest.mark.parametrize("workers", [1, 2])
def test_collects_exactly_the_estate(small, run, emulator, az_dir, workers):
    before = len(az_calls(az_dir))
    stats: dict = {}
    result = run(workers=workers, stats=stats)
    assert stats["workers"] == workers
    assert result["errors"] == []
    got = ids(result)
    assert sorted(got) == sorted(small.expected)
    assert got == small.expected  # every object exactly as ARM sent it (camelCase, nested properties)
    assert len(result["resources"]) == len(got)  # the management-group assignment listed twice is kept once
    assert set(result["collected_types"]) >= NET_TYPES | {arm.A_RECORD, arm.VNET_LINK, arm.ROLE_ASSIGNMENT, arm.EVENT}
    assert result["collected_at"].endswith("Z")

    reqs = emulator.requests
    assert {r["method"] for r in reqs} == {"GET"}
    assert all("api-version" in r["query"] and r["token_ok"] for r in reqs)
    assert all("authorization" not in {k.lower() for k in r["headers"]} for r in reqs)
    assert any("$skiptoken" in r["query"] for r in reqs), "paging was not exercised"
    calls = az_calls(az_dir)[before:]
    assert len(calls) == 1, "one token for the whole run"
    assert calls[0][:2] == ["account", "get-access-token"] and "https://management.azure.com" in calls[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_follows_references_out_of_scope(small, run, emulator, workers):
    result = run(workers=workers)
    got = ids(result)
    paths = {r["path"].lower() for r in emulator.requests}
    zone_hub = small.by_name["zone-hub"]["id"]
    for name in ("zone-hub", "record-hub", "link-hub", "pe-hub", "nic-hub", "vnet-hub", "zg-hub", "rd-custom"):
        assert small.by_name[name]["id"].lower() in got, name
    assert zone_hub.lower() in paths  # fetched by id ...
    assert f"/subscriptions/{S3}/providers/microsoft.network/privatednszones" not in paths  # ... S3 never listed
    assert small.by_name["zone-hub-unused"]["id"].lower() not in got
    # the vault's connection to a PE that does not exist: a 404 by id is gone, not an error
    assert small.pe_gone.lower() in paths
    assert small.pe_gone.lower() not in got and result["errors"] == []
    # each call once, whichever worker met the reference first (the parent reads what the workers left)
    sent = Counter((r["method"], r["path"].lower(), tuple(sorted(r["query"].items()))) for r in emulator.requests)
    assert [k for k, n in sent.items() if n > 1] == []


def test_subscriptions_by_name_and_all(small, run):
    assert {o["subscriptionId"] for o in run(("SUB-ONE", S2))["resources"] if "subscriptionId" in o
            and o["id"].count("/") == 2} == {S1, S2}
    everything = ids(run(None))
    assert f"/subscriptions/{S3}" in everything and small.by_name["pe-hub-other"]["id"].lower() in everything
    with pytest.raises(collect.CollectError, match="no-such-sub"):
        run(("no-such-sub",))


def test_429_with_retry_after_is_retried(small, run, emulator):
    path = f"/subscriptions/{S1}/providers/Microsoft.Network/privateEndpoints"
    emulator.faults.append(Fault(status=429, prefix=path, times=2, retry_after=1))
    result = run()
    assert result["errors"] == [] and ids(result) == small.expected
    hits = [r for r in emulator.requests if r["path"].lower() == path.lower() and "$skiptoken" not in r["query"]]
    assert [r["status"] for r in hits] == [429, 429, 200]
    assert hits[1]["time"] - hits[0]["time"] >= 0.9 and hits[2]["time"] - hits[1]["time"] >= 0.9


def test_503_bursts_and_resets_are_retried(small, run, emulator):
    emulator.faults += [Fault(status=503, prefix="/subscriptions", every=3, times=12),
                        Fault(reset=True, prefix=f"/subscriptions/{S2}", times=2),
                        Fault(delay=0.2, prefix=f"/subscriptions/{S1}/resourceGroups", times=3)]
    result = run()
    assert result["errors"] == [] and ids(result) == small.expected
    assert sum(r.get("status") == 503 for r in emulator.requests) == 12


def test_403_on_one_subscriptions_network_reads(small, run, emulator):
    emulator.faults.append(Fault(status=403, prefix=f"/subscriptions/{S2}/providers/Microsoft.Network/"))
    result = run()
    errs = result["errors"]
    assert {e["scope"] for e in errs} == {f"/subscriptions/{S2}"}
    assert {e["status"] for e in errs} == {403}
    assert {t for e in errs for t in e["types"]} == NET_TYPES
    assert all("AuthorizationFailed" in e["message"] or "injected" in e["message"] for e in errs)
    assert ids(result) == small.without("pe-3", "nic-3", "vnet-2", "zone-2", "record-2", "link-2", "zg-3")


def test_unreadable_reference_and_exhausted_retries_are_errors(small, run, emulator, monkeypatch):
    monkeypatch.setitem(collect.RETRY, "retry_total", 2)
    pe_hub = small.by_name["pe-hub"]["id"]
    vaults2 = f"/subscriptions/{S2}/providers/Microsoft.RecoveryServices/vaults"
    emulator.faults += [Fault(status=403, prefix=pe_hub), Fault(status=503, prefix=vaults2)]
    result = run()
    errs = {e["scope"]: e for e in result["errors"]}
    assert errs.keys() == {pe_hub, f"/subscriptions/{S2}"}
    assert errs[pe_hub]["types"] == [arm.PRIVATE_ENDPOINT] and errs[pe_hub]["status"] == 403
    assert errs[f"/subscriptions/{S2}"]["types"] == [arm.VAULT] and errs[f"/subscriptions/{S2}"]["status"] == 503
    got = ids(result)
    assert small.by_name["vault-b"]["id"].lower() not in got and pe_hub.lower() not in got
    assert small.by_name["pe-3"]["id"].lower() in got  # the rest of S2 is still read


def test_malformed_body_and_404_subscription_collection_are_errors(small, run, emulator):
    """A malformed page and a 404 on a subscription's collection are errors; a 404 on a child collection (the links
    of a zone) means the zone went away between the two listings: gone, like a 404 on a GET."""
    vnets = f"/subscriptions/{S1}/providers/Microsoft.Network/virtualNetworks"
    nics = f"/subscriptions/{S1}/providers/Microsoft.Network/networkInterfaces"
    links = small.by_name["zone-1"]["id"] + "/virtualNetworkLinks"
    emulator.faults += [Fault(malformed=True, prefix=vnets), Fault(status=404, prefix=nics),
                        Fault(status=404, prefix=links)]
    result = run()
    errs = {(e["scope"].lower(), tuple(e["types"])): e for e in result["errors"]}
    assert errs.keys() == {(f"/subscriptions/{S1}", (arm.VNET,)), (f"/subscriptions/{S1}", (arm.NIC,))}
    assert "malformed" in errs[(f"/subscriptions/{S1}", (arm.VNET,))]["message"]
    assert not [o for o in result["resources"] if "/virtualnetworklinks/" in o["id"].lower()
                and o["id"].lower().startswith(small.by_name["zone-1"]["id"].lower())]


def test_never_registers_a_provider(small, run, emulator):
    """A 409 MissingSubscriptionRegistration must not trigger azure-mgmt-core's auto-registration POST."""
    emulator.faults.append(Fault(status=409, code="MissingSubscriptionRegistration",
                                 prefix=f"/subscriptions/{S1}/providers/Microsoft.Network/privateDnsZones",
                                 message="The subscription is not registered to use namespace 'Microsoft.Network'."))
    result = run()
    assert {r["method"] for r in emulator.requests} == {"GET"}
    assert [(e["scope"], e["status"], e["types"]) for e in result["errors"]] == [
        (f"/subscriptions/{S1}", 409, [arm.ZONE])]


@pytest.mark.parametrize("workers", [1, 2])
def test_concurrency_is_bounded(small, run, emulator, workers):
    """--max-concurrency bounds the requests in flight of the whole run: worker processes share it out (and the
    parent, which reads what they left, runs after them)."""
    emulator.latency = 0.05
    run(max_concurrency=3, workers=workers)
    assert 2 <= emulator.max_in_flight <= 3


def test_debug_logging_never_shows_the_token(small, run, token, caplog):
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("azure").setLevel(logging.DEBUG)
        try:
            run()
        finally:
            logging.getLogger("azure").setLevel(logging.NOTSET)
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "Authorization" in text  # the request headers were logged ...
    assert token not in text and "Bearer " not in text  # ... redacted


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_lines_per_subscription(small, run, workers):
    out = io.StringIO()
    run(progress=collect.Progress(stream=out), workers=workers)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert any("sub-one" in line and S1 in line for line in lines)
    assert all("error(s) in" in line for line in lines)


def test_tenant_is_passed_to_the_cli(live_env, emulator, small, az_dir):
    cred = collect.build_credential(tenant=TENANT, cloud="public")
    before = len(az_calls(az_dir))
    collect.collect_estate(cred, subscriptions=[S1], arm_endpoint=emulator.url)
    call = az_calls(az_dir)[before]
    assert call[call.index("--tenant") + 1] == TENANT


def test_arm_endpoint_from_environment_and_clouds(live_env, emulator, credential, small):
    result = collect.collect_estate(credential, subscriptions=[S2], arm_endpoint=None)
    assert small.by_name["vault-b"]["id"].lower() in ids(result)
    assert collect.CLOUDS["usgov"]["scope"] == "https://management.usgovcloudapi.net/.default"
    assert {c["arm_endpoint"].split("//")[1].split(".")[0] for c in collect.CLOUDS.values()} == {"management"}
    with pytest.raises(collect.CollectError):
        collect.build_credential(tenant=None, cloud="mars")


def test_collectors_are_data():
    levels = {c.level for c in collect.COLLECTORS.values()}
    assert levels == {"tenant", "subscription", "vault", "pe", "zone", "id"}
    assert all(":" in c.client and "." in c.call for c in collect.COLLECTORS.values())
    # follow-ups are data too: every read names a collector, with a subject and scope the enumerator knows
    thens = [t for c in collect.COLLECTORS.values() for t in c.then]
    reads = [r for t in thens for r in t.reads]
    assert reads and all(r.collector in collect.COLLECTORS for r in reads)
    assert {t.scope for t in thens} <= {"any", "in", "out"} and {t.source for t in thens} <= {None, "arm"}
    assert {r.subject for r in reads} == {"id", "subscription", "listed", "principal", "assignment"}


def test_collected_text_round_trips_whatever_the_sdk_parsed():
    """Objects are spooled as JSON text: reading them back gives exactly what the SDK's parse gave, including what
    strict JSON encoders refuse or change (big integers, NaN, lone surrogates, non-ASCII)."""
    import json
    import math

    body = '[{"id": "/subscriptions/B/x", "n": 123456789012345678901234567890, "f": NaN, "s": "\\ud800 \\u202e é",' \
           ' "nested": {"l": [1, 2.5, null, true]}}, {"id": "/subscriptions/a/y"}, {"no": "id"}, [1, 2]]'
    objs = json.loads(body)
    spool = collect.Spool()
    spool.extend(objs)
    got = spool.collected()
    assert len(got) == 4
    back = list(got)
    assert back[3]["n"] == objs[0]["n"] and math.isnan(back[3]["f"]) and back[3]["s"] == objs[0]["s"]
    assert back[3]["nested"] == objs[0]["nested"] and got[2] == objs[1]
    assert got[0:2] == [objs[2], objs[3]]   # no id: first, in the order they came
    assert all(t.isascii() for t in got.texts()) and got.size == sum(map(len, got.texts()))


def test_spool_files_are_private_and_gone_after_the_run(small, run, monkeypatch, tmp_path):
    """Workers spool to a private directory that the run removes; the parent's spool is an unlinked file."""
    import tempfile

    made: list[tuple[str, int]] = []
    real = tempfile.mkdtemp

    def mkdtemp(*a, **k):
        path = real(*a, **k)
        made.append((path, os.stat(path).st_mode & 0o777))
        return path

    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    result = run(workers=2)
    assert len(result["resources"]) > 0 and result["errors"] == []
    assert [m for _, m in made] == [0o700] and made[0][0].startswith(str(spool))
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_token_refused_mid_run_stops_the_run_with_one_line(small, emulator, token, workers):
    """The first token works, the next cannot be had: the run stops with CollectError (one line, exit 2 in the
    CLI), whether the refusal comes in this process or in a worker process."""
    import time as _time

    from azure.core.credentials import AccessToken
    from azure.core.exceptions import ClientAuthenticationError

    class Once:
        calls = 0

        def get_token(self, *scopes, **kw):
            Once.calls += 1
            if Once.calls > 1:
                raise ClientAuthenticationError("AADSTS700082: the refresh token has expired")
            return AccessToken(token, int(_time.time()) + 60)   # "expiring": asked for again at the next call

    with pytest.raises(collect.CollectError, match="cannot authenticate.*AADSTS700082"):
        collect.collect_estate(Once(), subscriptions=[S1, S2], arm_endpoint=emulator.url, workers=workers)
