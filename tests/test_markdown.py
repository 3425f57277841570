"""--format markdown: summary.md, a job-summary-sized digest of the run that agrees with findings.json."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from . import synth


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "auditor", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("md")
    p = run("audit", "--demo", "--out", out, "--format", "markdown,json", "-q")
    assert p.returncode == 1, p.stderr
    return out


def table(md: str, header: str) -> dict[str, str]:
    lines = md.splitlines()
    i = lines.index(header)
    rows = {}
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1]
    return rows


def test_summary_agrees_with_findings_json(demo):
    md = (demo / "summary.md").read_text()
    doc = json.loads((demo / "findings.json").read_text())
    s = doc["summary"]
    assert md.startswith("# ")
    assert f"**{s['compliance_pct']}%**" in md and f"over {s['evaluations']} evaluations" in md
    assert {k: int(v) for k, v in table(md, "| state | count |").items()} == s["by_state"]
    assert {k: int(v) for k, v in table(md, "| severity | non-compliant |").items()} == s["noncompliant_by_severity"]
    listed = [line for line in md.splitlines() if re.match(r"^\| (Critical|High|Medium|Low|Informational) \| [A-Z]+-\d{3} \|", line)]
    bad = [r for r in doc["findings"] if r["compliance_state"] in ("NonCompliant", "Error")]
    assert len(listed) == min(200, len(bad)) and len(bad) == len(synth.demo().expected)
    assert "Could not read" not in md


def test_only_markdown_is_written(tmp_path):
    p = run("audit", "--demo", "--out", tmp_path / "o", "--format", "markdown", "-q")
    assert p.returncode == 1
    assert sorted(f.name for f in (tmp_path / "o").iterdir()) == ["summary.md"]


def test_unreadable_objects_are_listed(tmp_path):
    objs = synth.demo().objects
    vault = next(o for o in objs if o.get("type") == "Microsoft.RecoveryServices/vaults")
    vault["properties"] = "not an object"  # malformed: its evaluations are Error
    inp = tmp_path / "in.json"
    inp.write_text(json.dumps(objs))
    p = run("audit", "--input", inp, "--out", tmp_path / "o", "--format", "markdown", "-q")
    assert p.returncode == 3, p.stderr
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "## Could not read" in md and "| Error |" in md
