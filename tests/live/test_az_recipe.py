"""The README's export recipe, command for command, with the real Azure CLI against the emulator serving the demo
estate: the directory it writes must audit exactly as a live audit of the same emulator (issue 12).

``az`` is logged in through the App Service managed-identity protocol (``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``,
answered by the emulator), to a cloud registered from the emulator's ``/metadata/endpoints`` (every endpoint on
loopback). Every other address goes to a dead loopback proxy, telemetry and surveys are off, and ``AZURE_CONFIG_DIR``
is a temporary directory. Marked ``azcli`` (excluded from the default run): ``.ci/run`` installs azure-cli into its own
venv and runs ``pytest -m azcli`` with ``AZ_CLI`` pointing at it.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from auditor import arm
from tests.emulator import Emulator, cli_env, write_fake_az

pytestmark = pytest.mark.azcli

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "auditor" / "data" / "demo.json").read_text())
DEFAULT_AZ = Path.home() / ".cache" / "rsv-pe-auditor" / "az-venv" / "bin" / "az"


def _az() -> str | None:
    for cand in (os.environ.get("AZ_CLI"), str(DEFAULT_AZ), shutil.which("az")):
        if cand and os.access(cand, os.X_OK) and "fake-az" not in cand:
            return cand
    return None


def recipe() -> str:
    """The shell block of README.md's "Auditing exported ARM JSON" section, verbatim."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Auditing exported ARM JSON"):]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def policy_recipe(root_group: str) -> str:
    """The policy export block of README.md's "Policy assignments and management groups" section, verbatim but for
    the root group's name, which the reader fills in."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("Export the assignments that apply to each subscription"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    assert block.count("<root group id>") == 1
    return block.replace("<root group id>", root_group)


def _jwt(tenant: str) -> str:
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return ".".join((part({"alg": "RS256", "typ": "JWT"}),
                     part({"tid": tenant, "oid": "00000000-0000-4000-8000-0000000000a1", "aud": "arm-emulator",
                           "exp": int(time.time()) + 7200}), "c2lnbmF0dXJl"))


# The demo's root management group: the policy block exports the hierarchy from it.
SUBSCRIPTIONS = [o for o in DEMO if str(o.get("id", "")).count("/") == 2]
ROOT_GROUP = next(o["name"] for o in DEMO if str(o.get("type", "")).lower() == arm.MANAGEMENT_GROUP.lower())


def estate() -> list[dict]:
    """The demo (policy assignments, sets and management groups included), plus what ARM holds for every vault and
    the demo leaves out: its backup configuration (``az backup vault backup-properties show`` reads it) and, where
    missing, its storage configuration. The Resource Guards are served too: the live side reads them, the recipe
    need not (no rule rests on the guard object, only on its id and the roles on it)."""
    objs = [dict(o) for o in DEMO]
    vaults = [o for o in objs if o.get("type") == "Microsoft.RecoveryServices/vaults"]
    have = {o["id"].lower().rsplit("/backupstorageconfig/", 1)[0] for o in objs
            if str(o.get("type", "")).lower() == "microsoft.recoveryservices/vaults/backupstorageconfig"}
    for v in vaults:
        objs.append({"id": v["id"] + "/backupconfig/vaultconfig", "name": "vaultconfig",
                     "type": "Microsoft.RecoveryServices/vaults/backupconfig",
                     "properties": {"enhancedSecurityState": "Enabled", "softDeleteFeatureState": "Enabled"}})
        if v["id"].lower() not in have:
            objs.append({"id": v["id"] + "/backupstorageconfig/vaultstorageconfig", "name": "vaultstorageconfig",
                         "type": "Microsoft.RecoveryServices/vaults/backupstorageconfig",
                         "properties": {"storageModelType": "LocallyRedundant", "storageType": "LocallyRedundant",
                                        "storageTypeState": "Locked", "crossRegionRestoreFlag": False}})
    return objs


def _rows(report: Path) -> dict:
    doc = json.loads((report / "findings.json").read_text())
    return {(r["rule_id"], r["resource_id"].lower()): (r["compliance_state"], r["message"]) for r in doc["findings"]}


@pytest.fixture
def workdir():
    """A directory of the test's own: the recipe runs for minutes, longer than pytest keeps a session's tmp_path
    when other sessions of the same user start meanwhile."""
    d = Path(tempfile.mkdtemp(prefix="az-recipe-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_readme_export_recipe_with_the_real_az(workdir):
    tmp_path = workdir
    az = _az()
    if az is None:
        if os.environ.get("CI"):
            pytest.fail("azure-cli is not installed: .ci/run installs it into its own venv and sets AZ_CLI")
        pytest.skip("azure-cli not installed (set AZ_CLI, or let .ci/run install it)")
    tenant = next(o["tenantId"] for o in DEMO if str(o.get("id", "")).count("/") == 2)
    token = _jwt(tenant)
    (tmp_path / "emu").mkdir()
    with Emulator(estate(), token=token, workdir=tmp_path / "emu", page_size=10) as emu:
        emu.identity_header = "identity-header-" + base64.b16encode(os.urandom(8)).decode()
        emu.event_time_filter = False   # both sides read the same 90 days; the demo's event has a fixed date

        # a bin directory: an `az` that runs the real one and logs each call with its exit code, and `auditor`
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        calls = tmp_path / "az-calls.log"
        (bin_dir / "az").write_text(f'#!/bin/bash\n"{az}" "$@"\nrc=$?\necho "$rc $*" >> "{calls}"\nexit $rc\n')
        (bin_dir / "auditor").write_text(f'#!/bin/bash\nexec "{sys.executable}" -m auditor "$@"\n')
        for f in bin_dir.iterdir():
            f.chmod(f.stat().st_mode | stat.S_IXUSR)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AZURE_", "IDENTITY_", "MSI_", "ARM_")) and k.lower() not in (
                   "https_proxy", "http_proxy", "all_proxy", "no_proxy")}
        env.update(
            PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT),
            AZURE_CONFIG_DIR=str(tmp_path / "azure-config"), REQUESTS_CA_BUNDLE=emu.ca_file,
            IDENTITY_ENDPOINT=emu.url + "/msi/token", IDENTITY_HEADER=emu.identity_header,
            AZURE_CORE_COLLECT_TELEMETRY="false", AZURE_CORE_ONLY_SHOW_ERRORS="true", AZURE_CORE_NO_COLOR="true",
            AZURE_CORE_SURVEY_MESSAGE="false", AZURE_CORE_DISABLE_PROGRESS_BAR="true",
            AZURE_CORE_CHECK_FOR_UPGRADE="false",
            # anything not on loopback goes to a dead loopback port: nothing may leave the machine
            HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
            NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")

        def sh(script: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
            """bash in its own process group: a timeout ends the loop and every az it started."""
            p = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                out, err = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, err = p.communicate()
                pytest.fail(f"timed out after {timeout}s: {err[-2000:]}")
            return subprocess.CompletedProcess(p.args, p.returncode, out, err)

        login = sh(f"az cloud register -n ArmEmulator --endpoint-resource-manager {emu.url}/ && "
                   "az cloud set -n ArmEmulator && az login --identity -o none", tmp_path, 300)
        assert login.returncode == 0, login.stderr
        work = tmp_path / "work"
        work.mkdir()
        started = time.monotonic()
        done = sh(recipe(), work, 2700)
        ran = [line.split(" ", 1) for line in calls.read_text().splitlines()]
        failed = [c for rc, c in ran if rc != "0"]
        assert not failed, (failed, done.stderr[-3000:])
        assert done.returncode in (0, 1, 3), done.stderr[-3000:]   # 1: findings at or above --fail-on
        assert "Traceback" not in done.stderr
        # then the policy block of the README, and the audit again over everything exported
        policy = sh(policy_recipe(ROOT_GROUP), work, 900)
        assert policy.returncode == 0, policy.stderr[-3000:]
        ran = [line.split(" ", 1) for line in calls.read_text().splitlines()]
        failed = [c for rc, c in ran if rc != "0"]
        assert not failed, (failed, policy.stderr[-3000:])
        assert len(list((work / "export").glob("policy-*.json"))) == 2 * len(SUBSCRIPTIONS)
        done = sh("auditor audit --input export --out report", work, 600)
        assert done.returncode in (0, 1, 3) and "Traceback" not in done.stderr, done.stderr[-3000:]
        print(f"recipe and policy block: {len(ran)} az calls in {time.monotonic() - started:.0f}s")
        # every request stayed on the emulator and answered (a 404 would be an export gap)
        bad = [(r["method"], r["path"], r.get("status")) for r in emu.requests
               if r.get("status") not in (200,) and r["path"] != "/msi/token"]
        assert not bad, bad[:10]

        # the live audit of the same emulator (the stand-in az gives the collector its token)
        fake = write_fake_az(tmp_path / "fake-az", token, tenant)
        live_env = cli_env(emu, fake, base=env)
        live_env["PATH"] = f"{fake}{os.pathsep}{os.environ.get('PATH', '')}"
        live = subprocess.run([sys.executable, "-m", "auditor", "audit", "--out", str(tmp_path / "live"),
                               "--format", "json"], cwd=ROOT, env=live_env, capture_output=True, text=True,
                              timeout=600)
        assert live.returncode == done.returncode, live.stderr[-3000:]

    exported, audited = _rows(work / "report"), _rows(tmp_path / "live")
    diff = sorted(k for k in set(exported) | set(audited) if exported.get(k) != audited.get(k))
    assert not diff, [(k, exported.get(k), audited.get(k)) for k in diff[:10]]
    assert len(exported) > 500
    # the hardening and policy rules were judged from what az exported, not left without input
    for rule in ("RSV-012", "RSV-013", "POL-001", "POL-002", "POL-003"):
        assert {"Compliant", "NonCompliant"} <= {v[0] for k, v in exported.items() if k[0] == rule}, rule
