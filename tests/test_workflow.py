"""The example scheduled workflow: its structure, its auditor commands (parsed by the real parser), and its
exit-code gate and summary steps, run for real with bash."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from auditor.cli import build_parser
from auditor.reports import FORMATS

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "scheduled-audit.yml"
BASH = shutil.which("bash")


@pytest.fixture(scope="module")
def wf() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(wf: dict) -> list[dict]:
    [job] = wf["jobs"].values()
    return job["steps"]


def step(wf: dict, pred) -> dict:
    found = [s for s in steps(wf) if pred(s)]
    assert len(found) == 1, [s.get("name") for s in found]
    return found[0]


def auditor_commands(script: str) -> list[list[str]]:
    script = script.replace("\\\n", " ")
    out = []
    for line in script.splitlines():
        line = line.strip()
        if re.match(r"^auditor\s", line):
            out.append(shlex.split(line.split(" #")[0])[1:])
    return out


def test_triggers_and_permissions(wf):
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as true
    crons = [c["cron"] for c in on["schedule"]]
    assert crons and all(len(c.split()) == 5 for c in crons)
    assert "workflow_dispatch" in on
    perms = wf.get("permissions") or next(iter(wf["jobs"].values())).get("permissions")
    assert perms["id-token"] == "write"
    assert set(perms.values()) <= {"read", "write", "none"} and perms.get("contents", "read") == "read"


def test_oidc_login_without_secret(wf):
    login = step(wf, lambda s: str(s.get("uses", "")).startswith("azure/login@"))
    w = login["with"]
    for key, secret in (("client-id", "AZURE_CLIENT_ID"), ("tenant-id", "AZURE_TENANT_ID"),
                        ("subscription-id", "AZURE_SUBSCRIPTION_ID")):
        assert w[key] == "${{ secrets.%s }}" % secret
    assert not {"creds", "client-secret"} & set(w)
    names = [s.get("name", s.get("uses")) for s in steps(wf)]
    install = step(wf, lambda s: "pip install" in str(s.get("run", "")))
    assert names.index(install.get("name")) < names.index(login.get("name")) < names.index("Audit")


def test_every_auditor_command_parses(wf):
    parser = build_parser()
    cmds = [c for s in steps(wf) for c in auditor_commands(str(s.get("run", "")))]
    assert cmds
    for argv in cmds:
        args = parser.parse_args(argv)  # raises (UsageError) on anything the real CLI would reject
        if args.command == "audit":
            assert args.out == "report"
            assert sorted(args.format) == sorted(FORMATS) == sorted(["csv", "html", "json", "junit", "markdown", "sarif"])
    assert any(parser.parse_args(c).command == "audit" for c in cmds)


def test_reports_published_even_on_failure(wf):
    summary = step(wf, lambda s: "GITHUB_STEP_SUMMARY" in str(s.get("run", "")))
    assert summary["if"] == "always()" and "report/summary.md" in summary["run"]
    upload = step(wf, lambda s: str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == "report"
    gate = step(wf, lambda s: "steps.audit.outputs.exit-code" in str(s.get("env", {})))
    names = [s.get("name") for s in steps(wf)]
    assert names.index(summary["name"]) < names.index(gate["name"]) and names.index(upload["name"]) < names.index(
        gate["name"]), "publish first, then fail"


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize("code,fails", [(0, False), (1, True), (2, True), (3, True), ("", True)])
def test_gate_fails_the_job_on_1_and_3(wf, code, fails):
    gate = step(wf, lambda s: "steps.audit.outputs.exit-code" in str(s.get("env", {})))
    p = subprocess.run([BASH, "-e", "-c", gate["run"]], env={**os.environ, "CODE": str(code)}, capture_output=True,
                       text=True)
    assert (p.returncode != 0) == fails, (code, p.returncode, p.stdout)


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize("code", [0, 1, 3])
def test_audit_step_records_the_exit_code_and_lets_publishing_run(wf, tmp_path, code):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "auditor"
    fake.write_text(f"#!{BASH}\nmkdir -p report && echo '# summary' > report/summary.md\nexit {code}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    out, summary = tmp_path / "output", tmp_path / "summary"
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(out),
           "GITHUB_STEP_SUMMARY": str(summary)}
    audit = step(wf, lambda s: s.get("id") == "audit")
    p = subprocess.run([BASH, "-e", "-c", audit["run"]], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0 and out.read_text().strip() == f"exit-code={code}"
    summ = step(wf, lambda s: "GITHUB_STEP_SUMMARY" in str(s.get("run", "")))
    subprocess.run([BASH, "-e", "-c", summ["run"]], env=env, cwd=tmp_path, check=True)
    assert summary.read_text() == "# summary\n"
