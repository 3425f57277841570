"""End to end: the CLI as a subprocess against the emulator (stand-in az, CA bundle, AZURE_ARM_ENDPOINT), compared
with the offline path over the same estate."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import arm, collect
from tests.emulator import cli_env

from .conftest import S1, S2

ROOT = Path(__file__).resolve().parents[2]
from tests.live.demo import DEMO  # noqa: E402  (the demo the collector reads: see tests/live/demo.py)


def _cli_ready() -> str | None:
    if not (ROOT / "auditor" / "cli" / "__init__.py").exists():
        return "auditor/cli/ does not exist yet"
    out = subprocess.run([sys.executable, "-m", "auditor", "audit", "--help"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0 or "--arm-endpoint" not in out.stdout:
        return "auditor audit has no live mode yet (--arm-endpoint)"
    return None


needs_cli = pytest.mark.skipif(_cli_ready() is not None, reason=str(_cli_ready()))


def auditor(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def findings(out_dir: Path) -> list[dict]:
    return json.loads((out_dir / "findings.json").read_text())["findings"]


@needs_cli
def test_collect_then_audit_equals_live_audit(small, emulator, az_dir, tmp_path):
    env = cli_env(emulator, az_dir)
    snap = tmp_path / "snap.json"
    col = auditor(env, "collect", "--subscription", S1, "--subscription", "sub-two", "--out", str(snap))
    assert col.returncode == 0, col.stderr
    assert token_free(snap.read_text(), emulator.token)
    doc = json.loads(snap.read_text())
    assert {o["id"].lower() for o in doc["resources"]} == set(small.expected) and doc["errors"] == []

    offline = auditor(env, "audit", "--input", str(snap), "--out", str(tmp_path / "offline"), "--format", "json")
    live = auditor(env, "audit", "--subscription", S1, "--subscription", S2, "--out", str(tmp_path / "live"),
                   "--format", "json")
    assert live.returncode == offline.returncode and live.returncode in (0, 1), live.stderr
    assert findings(tmp_path / "live") == findings(tmp_path / "offline")
    assert findings(tmp_path / "live"), "the small estate yields findings"
    assert {r["method"] for r in emulator.requests} == {"GET"}
    assert emulator.token not in live.stderr + live.stdout + col.stderr


@needs_cli
def test_unreadable_scope_exits_3_and_survives_the_snapshot(small, emulator, az_dir, tmp_path):
    from tests.emulator import Fault

    emulator.faults.append(Fault(status=403, prefix=f"/subscriptions/{S2}/providers/Microsoft.Network/"))
    env = cli_env(emulator, az_dir)
    snap = tmp_path / "snap.json"
    assert auditor(env, "collect", "--subscription", S1, "--subscription", S2, "--out", str(snap)).returncode == 3
    offline = auditor(env, "audit", "--input", str(snap), "--out", str(tmp_path / "offline"), "--format", "json")
    live = auditor(env, "audit", "--subscription", S1, "--subscription", S2, "--out", str(tmp_path / "live"),
                   "--format", "json")
    assert offline.returncode == live.returncode == 3, live.stderr
    assert findings(tmp_path / "live") == findings(tmp_path / "offline")
    assert any(f["compliance_state"] == "Error" and S2 in f["resource_id"] for f in findings(tmp_path / "live"))


@needs_cli
def test_unknown_subscription_name_is_a_usage_error(small, emulator, az_dir, tmp_path):
    run = auditor(cli_env(emulator, az_dir), "audit", "--subscription", "no-such-sub", "--out", str(tmp_path / "o"))
    assert run.returncode == 2
    assert "no-such-sub" in run.stderr and "Traceback" not in run.stderr


@needs_cli
@pytest.mark.skipif(not DEMO.exists(), reason="auditor/data/demo.json does not exist yet")
def test_demo_estate_live_equals_offline(emulator, az_dir, tmp_path):
    emulator.set_estate(json.loads(DEMO.read_text()))
    emulator.page_size = 50
    emulator.event_time_filter = False  # the demo's re-registration event has a fixed date; ARM keeps 90 days
    env = cli_env(emulator, az_dir)
    live = auditor(env, "audit", "--out", str(tmp_path / "live"), "--format", "json")
    offline = auditor(env, "audit", "--input", str(DEMO), "--out", str(tmp_path / "offline"), "--format", "json")
    assert live.returncode == offline.returncode, live.stderr
    assert findings(tmp_path / "live") == findings(tmp_path / "offline")


@pytest.mark.skipif(not DEMO.exists(), reason="auditor/data/demo.json does not exist yet")
def test_demo_estate_is_collected_whole(emulator, credential):
    """Everything the demo holds is something the collector reads: live and offline see the same objects."""
    objects = json.loads(DEMO.read_text())
    emulator.set_estate(objects)
    emulator.page_size = 50
    emulator.event_time_filter = False
    result = collect.collect_estate(credential, subscriptions=None, arm_endpoint=emulator.url)
    assert result["errors"] == []
    first: dict[str, dict] = {}
    for o in objects:  # one object per id, as ARM holds them (the first of any duplicates)
        first.setdefault(o["id"].lower(), o)
    got = {o["id"].lower(): o for o in result["resources"]}
    # management groups come as ARM answers for the ones the policy assignments rest on (each group by id with its
    # path, its descendants), where the demo holds one group with the others nested in its children: the same
    # hierarchy (test_demo_estate_live_equals_offline: the same findings, management group paths included)
    groups = {arm.MANAGEMENT_GROUP, arm.MG_SUBSCRIPTION}
    assert {i: o for i, o in got.items() if arm.canonical(o.get("type")) not in groups} == \
        {i: o for i, o in first.items() if arm.canonical(o.get("type")) not in groups}
    assert {i for i, o in got.items() if arm.canonical(o.get("type")) == arm.MANAGEMENT_GROUP}


def token_free(text: str, token: str) -> bool:
    return token not in text and "Bearer " not in text
