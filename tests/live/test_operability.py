"""Nothing leaked, and operable: the CLI as a subprocess against the emulator serving the demo estate.

* the access token and Authorization headers never reach stdout/stderr at any verbosity or log format, nor the
  snapshot; snapshots are created 0600;
* ``--log-format json`` gives one JSON record per subscription with counts and timings;
* the least-privilege role covers every request a full live audit makes.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import arm, privileges
from tests.emulator import Fault, cli_env

ROOT = Path(__file__).resolve().parents[2]
# management groups: ARM answers for each group an assignment rests on (by id, its descendants) where the demo holds
# one group with the others nested in its children (the same hierarchy; see test_cli_live)
MG_TYPES = {arm.MANAGEMENT_GROUP, arm.MG_SUBSCRIPTION}
from tests.live.demo import OBJECTS  # noqa: E402  (the demo the collector reads: see tests/live/demo.py)
SUBS = {o["subscriptionId"]: o["displayName"] for o in OBJECTS if str(o.get("id", "")).count("/") == 2}


def auditor(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def demo_env(emulator, az_dir):
    emulator.set_estate(OBJECTS)
    emulator.page_size = 25
    emulator.event_time_filter = False
    return cli_env(emulator, az_dir)


def assert_no_secret(text: str, token: str) -> None:
    assert token not in text
    assert "Bearer " not in text and "bearer " not in text.lower().replace("bearer token", "")
    for line in text.splitlines():  # a logged Authorization header may only ever be redacted
        if "authorization" in line.lower() and "'Authorization'" in line:
            assert "REDACTED" in line, line


@pytest.mark.parametrize("logging_args", [("-vv",), ("-vv", "--log-format", "json"), ("-v", "--log-format", "json")])
def test_token_never_logged(demo_env, emulator, token, tmp_path, logging_args):
    run = auditor(demo_env, "audit", *logging_args, "--out", str(tmp_path / "r"), "--format", "json,markdown")
    assert run.returncode == 1, run.stderr[-2000:]
    if "-vv" not in logging_args:
        # (at -vv azure-identity logs, at DEBUG, a stack for the stand-in token, which is not a JWT)
        assert "Traceback" not in run.stderr
    else:
        assert "Authorization" in run.stderr, "debug logging shows request headers (redacted)"
    assert_no_secret(run.stdout + run.stderr, token)
    for f in (tmp_path / "r").iterdir():
        assert_no_secret(f.read_text(), token)


def test_collect_snapshot_is_private_and_token_free(demo_env, emulator, token, tmp_path):
    snap = tmp_path / "estate.json"
    snap.write_text("{}")
    snap.chmod(0o644)  # a previous, world-readable snapshot is replaced, not rewritten in place
    run = auditor(demo_env, "collect", "-vv", "--log-format", "json", "--out", str(snap))
    assert run.returncode == 0, run.stderr[-2000:]
    assert stat.S_IMODE(snap.stat().st_mode) == 0o600
    assert_no_secret(run.stdout + run.stderr, token)
    text = snap.read_text()
    assert_no_secret(text, token)
    assert len([o for o in json.loads(text)["resources"] if arm.canonical(o.get("type")) not in MG_TYPES]) == \
        len({o["id"].lower() for o in OBJECTS if arm.canonical(o.get("type")) not in MG_TYPES})
    fresh = tmp_path / "new" / "estate.json"
    old = os.umask(0o002)
    try:
        assert auditor(demo_env, "collect", "--out", str(fresh)).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert not [p for p in fresh.parent.iterdir() if p.name != "estate.json"], "no temporary file left"


def _records(stderr: str) -> list[dict]:
    out = []
    for line in stderr.splitlines():
        if line.strip():
            out.append(json.loads(line))  # every stderr line is a JSON record
    return out


def test_json_logs_one_record_per_subscription(demo_env, emulator, tmp_path):
    run = auditor(demo_env, "audit", "--log-format", "json", "--out", str(tmp_path / "r"), "--format", "json")
    assert run.returncode == 1, run.stderr[-2000:]
    recs = [r for r in _records(run.stderr) if r["message"] == "subscription done"]
    assert sorted(r["subscription_id"] for r in recs) == sorted(SUBS)
    for r in recs:
        assert r["level"] == "INFO" and r["logger"] == "auditor.progress" and r["event"] == "subscription_done"
        assert r["subscription_name"] == SUBS[r["subscription_id"]]
        assert r["errors"] == 0 and isinstance(r["seconds"], float) and r["seconds"] >= 0
        assert r["objects"] == sum(r["counts"].values()) > 0
        assert set(r["counts"]) <= {"Microsoft.RecoveryServices/vaults", "Microsoft.Network/privateEndpoints",
                                    "Microsoft.Network/networkInterfaces", "Microsoft.Network/virtualNetworks",
                                    "Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones/A",
                                    "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                                    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
                                    "Microsoft.Authorization/roleAssignments", "Microsoft.Authorization/roleDefinitions",
                                    "Microsoft.Insights/eventtypes/values", "Microsoft.Resources/providers",
                                    "Microsoft.RecoveryServices/vaults/backupstorageconfig",
                                    "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/"
                                    "protectedItems", arm.PROTECTION_CONTAINER, arm.GUARD_PROXY,
                                    arm.RESOURCE_GUARD, arm.KEY_VAULT, arm.POLICY_ASSIGNMENT, arm.VM, arm.NSG,
                                    arm.ROUTE_TABLE, arm.VNET_PEERING, arm.POLICY_SET, arm.MANAGEMENT_GROUP,
                                    arm.MG_SUBSCRIPTION}
    # what was collected per subscription adds up to what the estate holds there (subscriptions listed apart)
    total = sum(r["objects"] - r["counts"].get(arm.MANAGEMENT_GROUP, 0) - r["counts"].get(arm.MG_SUBSCRIPTION, 0)
                for r in recs)
    assert total == len({o["id"].lower() for o in OBJECTS if arm.canonical(o.get("type")) not in MG_TYPES}) - len(SUBS)
    assert not [line for line in run.stderr.splitlines() if line.startswith("collected ")], "no plain lines"


def test_json_logs_count_errors(demo_env, emulator, tmp_path):
    dev = next(s for s, n in SUBS.items() if n == "contoso-dev")
    emulator.faults.append(Fault(status=403, prefix=f"/subscriptions/{dev}/providers/Microsoft.Network/"))
    run = auditor(demo_env, "audit", "--log-format", "json", "--out", str(tmp_path / "r"), "--format", "json")
    assert run.returncode == 3 and "Traceback" not in run.stderr
    recs = {r["subscription_id"]: r for r in _records(run.stderr) if r["message"] == "subscription done"}
    assert recs.keys() == SUBS.keys()
    assert recs[dev]["errors"] == 4 and all(r["errors"] == 0 for s, r in recs.items() if s != dev)


def test_plain_progress_lines_without_json(demo_env, tmp_path):
    run = auditor(demo_env, "audit", "--out", str(tmp_path / "r"), "--format", "json", "-q")
    lines = [line for line in run.stderr.splitlines() if line.startswith("collected ")]
    assert len(lines) == len(SUBS) and all("error(s) in" in line for line in lines)


def test_every_request_of_a_live_audit_is_covered_by_the_role(demo_env, emulator, tmp_path):
    from tests.emulator import server

    role = {a.lower() for a in privileges.role_definition()["Actions"]}
    sources = ["arm"]
    if hasattr(server, "ResourceGraph"):
        server.ResourceGraph(quota=None).install(emulator)
        sources.append("resource-graph")
    for source in sources:
        emulator.reset_log()
        run = auditor(demo_env, "audit", "--source", source, "--out", str(tmp_path / source), "--format", "json")
        assert run.returncode == 1, (source, run.stderr[-2000:])
        assert emulator.requests
        assert any(r["method"] == "POST" for r in emulator.requests) == (source == "resource-graph")
        needed = {(r["method"], r["path"]): privileges.action_for(r["method"], r["path"]) for r in emulator.requests}
        unmapped = [k for k, a in needed.items() if a is None]
        assert not unmapped, unmapped
        missing = {a for a in needed.values() if a.lower() not in role}
        assert not missing, (source, missing)
